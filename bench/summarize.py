#!/usr/bin/env python3
"""Builds bench/results/latest.md from the raw outputs of one bench/run.sh, and the DESIGN.md §7 table with every
target marked met / not met; copies that table into bench/README.md between its results markers. Never edit the
results by hand: rerun bench/run.sh."""
import csv, glob, os, re, sys

root = os.path.dirname(os.path.abspath(__file__))
artifacts = os.path.join(os.path.dirname(root), "BenchmarkDotNet.Artifacts", "results")
header, load_md, http_txt = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""

def ns(text):
    m = re.match(r"([\d,.]+)\s*(ns|μs|us|ms|s)", text.strip())
    if not m:
        return None
    value = float(m.group(1).replace(",", ""))
    return value * {"ns": 1, "μs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}[m.group(2)]

bench = {}
for path in glob.glob(os.path.join(artifacts, "*-report.csv")):
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            name = row["Method"].strip("'")
            if row.get("WriteBehind"):
                name += f" [WriteBehind={row['WriteBehind']}]"
            bench[name] = {"mean": ns(row["Mean"]), "alloc": row.get("Allocated", "")}

load = open(load_md).read() if os.path.exists(load_md) else ""
# The recovery target is about 1M keys + 10M records: use the full-size run when one was made (run.sh --quick does not).
full_recovery = os.path.join(root, "results", "recovery-full.md")
recovery_text = open(full_recovery).read() if os.path.exists(full_recovery) else load
http = {}
if http_txt and os.path.exists(http_txt):
    for line in open(http_txt):
        name, *kv = line.split()
        http[name] = {k: float(v) for k, v in (x.split("=") for x in kv)}

def mean(name):
    return (bench.get(name) or {}).get("mean")

rows = []
def target(what, value, goal, ok):
    rows.append(f"| {what} | {value} | {goal} | {'met' if ok else 'not met' if ok is not None else 'not measured'} |")

pair = mean("engine: wallet + budget + 1 policy (graceful)")
alloc = (bench.get("engine: wallet + budget + 1 policy (graceful)") or {}).get("alloc", "?")
target("reserve+settle pair, wallet + budget + 1 policy, 1 thread", f"{pair:.0f} ns, {alloc or '0 B'}" if pair else "—", "≤ 150 ns, 0 B",
       pair is not None and pair <= 150 and alloc in ("-", "0 B", ""))
fw = mean("peer: FixedWindowRateLimiter acquire + dispose")
target("pair vs FixedWindowRateLimiter acquire+dispose", f"{pair / fw:.1f}× its time" if pair and fw else "—", "≤ 1.0×", (pair / fw <= 1.0) if pair and fw else None)
lk = mean("peer: ConcurrentDictionary + lock, same rules")
target("vs ConcurrentDictionary + lock, same rules", f"{lk / pair:.2f}× faster" if pair and lk else "—", "≥ 5× faster", (lk / pair >= 5) if pair and lk else None)
sq = mean("peer: SQLite UPDATE … WHERE used + n <= quota (reserve + settle)")
target("vs SQLite UPDATE … WHERE used + n <= quota", f"{sq / pair:.0f}× faster" if pair and sq else "—", "≥ 100× faster", (sq / pair >= 100) if pair and sq else None)
m = re.search(r"\| 2 threads, distinct keys \| [\d,]+ \| [^|]+\| ([\d.]+)×", load)
target("distinct keys, 2 threads vs 1", f"{m.group(1)}×" if m else "—", "≥ 1.6×", (float(m.group(1)) >= 1.6) if m else None)
off, on = mean("reserve + settle, wallet + budget + 1 policy [WriteBehind=False]"), mean("reserve + settle, wallet + budget + 1 policy [WriteBehind=True]")
target("write-behind on vs off (hot path)", f"{on / off:.2f}×" if on and off else "—", "≤ 1.5×", (on / off <= 1.5) if on and off else None)
m = re.search(r"\| Durable \| ([\d,]+) \|", load)
durable = float(m.group(1).replace(",", "")) if m else None
target("durable mode, many concurrent requests", f"{durable:,.0f} acknowledged pairs/s" if durable else "—", "≥ 100k pairs/s", (durable >= 100_000) if durable else None)
m, built = re.search(r"\| open \(snapshot load \+ replay of ([\d,]+) records\) \| ([\d.]+) \|", recovery_text), re.search(r"built ([\d,]+) keys", recovery_text)
target("recovery", f"{built.group(1) if built else '?'} keys + {m.group(1)} records in {m.group(2)} s" if m else "—", "1M keys + 10M records ≤ 5 s",
       (float(m.group(2)) <= 5 and built and built.group(1) == "1,000,000" and int(m.group(1).replace(",", "")) >= 10_000_000) if m else None)
if http:
    q, b, r, d = http["quota_api"], http["bare_post"], http["relay"], http["upstream_direct"]
    target("HTTP quota API vs bare Kestrel JSON POST", f"{q['rps'] / b['rps']:.0%} of its requests/s", "≥ 70%", q["rps"] / b["rps"] >= 0.7)
    added = (r["p50"] - d["p50"]) / 1000
    target("relay vs fake upstream direct", f"p50 +{added:.2f} ms, {r['rps'] / d['rps']:.0%} throughput", "p50 added ≤ 1 ms; ≥ 50%", added <= 1 and r["rps"] / d["rps"] >= 0.5)
else:
    target("HTTP quota API vs bare Kestrel JSON POST", "—", "≥ 70%", None)
    target("relay vs fake upstream direct", "—", "p50 added ≤ 1 ms; ≥ 50%", None)

table = "\n".join(["| DESIGN.md §7 target | measured (same run) | goal | |", "|---|---|---|---|", *rows])
parts = [header, "## Targets\n", table, ""]
for path in sorted(glob.glob(os.path.join(artifacts, "*-report-github.md"))):
    title = os.path.basename(path).replace("-report-github.md", "").replace("Quota.Benchmarks.", "")
    parts += [f"## {title}\n", "\n".join(l for l in open(path).read().splitlines() if l.startswith("|")), ""]
parts += ["## Load runs\n", load]
if http:
    parts += ["## HTTP on loopback (wrk, 1 thread × 32 connections, sharing the 2 cores with both servers)\n",
              "| run | requests/s | p50 µs | p99 µs | p99.9 µs | errors |", "|---|---:|---:|---:|---:|---:|",
              *[f"| {n} | {v['rps']:,.0f} | {v['p50']:,.0f} | {v['p99']:,.0f} | {v['p999']:,.0f} | {v['errors']:.0f} |" for n, v in http.items()], ""]
open(os.path.join(root, "results", "latest.md"), "w").write("\n".join(parts))

readme = os.path.join(root, "README.md")
text = open(readme).read()
text = re.sub(r"(<!-- results:begin -->\n).*?(<!-- results:end -->)", lambda mm: mm.group(1) + header + "\n" + table + "\n\n" + mm.group(2), text, flags=re.S)
open(readme, "w").write(text)
print(table)
