#!/usr/bin/env python3
"""Builds bench/results/latest.md from the raw outputs of one bench/run.sh, and the targets table with every
target marked met / not met; copies that table into bench/README.md between its results markers. Never edit the
results by hand: rerun bench/run.sh."""
import csv, glob, os, re, sys

root = os.path.dirname(os.path.abspath(__file__))
artifacts = os.path.join(os.path.dirname(root), "BenchmarkDotNet.Artifacts", "results")
header, load_md, http_txt = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
cluster_md = sys.argv[4] if len(sys.argv) > 4 else ""
cluster = open(cluster_md).read() if cluster_md and os.path.exists(cluster_md) else ""

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
http = {}  # (target, connections) -> {rps, p50, p99, p999, errors, requests, cpu_us}
if http_txt and os.path.exists(http_txt):
    for line in open(http_txt):
        name, *kv = line.split()
        fields = {k: float(v or "nan") for k, v in (x.split("=") for x in kv)}
        http[(name, int(fields["conns"]))] = fields

def section(title):
    """The text of one load-run section (from its ### heading to the next one)."""
    m = re.search(r"### " + re.escape(title) + r".*?(?=\n### |\Z)", load, flags=re.S)
    return m.group(0) if m else ""

def mean(name):
    return (bench.get(name) or {}).get("mean")

rows = []
def target(what, value, goal, ok):
    status = ok if isinstance(ok, str) else "met" if ok else "not met" if ok is not None else "not measured"
    rows.append(f"| {what} | {value} | {goal} | {status} |")

def zero(alloc):
    return alloc in ("-", "0 B", "")

pair = mean("engine: wallet + budget + 1 policy (graceful)")
alloc = (bench.get("engine: wallet + budget + 1 policy (graceful)") or {}).get("alloc", "?")
target("reserve+settle pair, wallet + budget + 1 policy, 1 thread (log off; the log's cost is the write-behind row)",
       f"{pair:.0f} ns, {alloc or '0 B'}" if pair else "—", "≤ 80 ns, 0 B", (pair <= 80 and zero(alloc)) if pair else None)
mixed_name = "engine: wallet + budget + 4 mixed policies (quota, tokens, requests; model-scoped)"
mixed = mean(mixed_name)
mixed_alloc = (bench.get(mixed_name) or {}).get("alloc", "?")
target("reserve+settle pair, 4 mixed policies (quota, tokens, requests; model-scoped)", f"{mixed:.0f} ns, {mixed_alloc or '0 B'}" if mixed else "—",
       "0 B", zero(mixed_alloc) if mixed else None)
fw = mean("peer: FixedWindowRateLimiter acquire + dispose")
# The reserve cannot be timed apart from its settle (an unsettled loop fills the table): the pair bounds it from above.
target("reserve vs FixedWindowRateLimiter acquire+dispose (bounded by the whole pair)", f"pair = {pair / fw:.1f}× its time" if pair and fw else "—", "≤ 2× its time",
       True if pair and fw and pair / fw <= 2 else "not measured apart" if pair and fw else None)
lk = mean("peer: ConcurrentDictionary + lock, same rules")
target("vs ConcurrentDictionary + lock peer, same rules, 1 thread", f"{pair / lk:.2f}× its time" if pair and lk else "—", "≤ 0.7× its time", (pair / lk <= 0.7) if pair and lk else None)
m = re.search(r"\| 2 threads, keys of one user \| ([\d,]+) \| ([\d,]+) \| ([\d.]+)×", section("Engine vs the locked peer"))
target("vs the locked peer, 2 threads on keys of one user", f"{m.group(3)}× its pairs/s ({m.group(1)} vs {m.group(2)})" if m else "—", "≥ 2× its pairs/s",
       (float(m.group(3)) >= 2) if m else None)
sq = mean("peer: SQLite UPDATE … WHERE used + n <= quota (reserve + settle)")
target("vs SQLite UPDATE … WHERE used + n <= quota", f"{sq / pair:.0f}× faster" if pair and sq else "—", "≥ 100× faster", (sq / pair >= 100) if pair and sq else None)
m = re.search(r"\| 2 threads, distinct keys \| [\d,]+ \| [^|]+\| ([\d.]+)×", load)
target("distinct keys, 2 threads vs 1", f"{m.group(1)}×" if m else "—", "≥ 1.6×", (float(m.group(1)) >= 1.6) if m else None)
paced = section("Write-behind at a paced rate")
m = re.search(r"\| 100,000 \| (\d+) \| (\d+) \| ([\d.]+)× \|", paced)
target("write-behind on vs off, paced at 100,000 pairs/s (process CPU per pair)", f"{m.group(3)}× ({m.group(2)} vs {m.group(1)} ns)" if m else "—", "≤ 1.5×",
       (float(m.group(3)) <= 1.5) if m else None)
m = re.search(r"\| log on \(saturation rate\) \| ([\d,]+) \|", paced)
target("write-behind saturation rate, 1 thread (unpaced, log on)", f"{m.group(1)} pairs/s" if m else "—", "reported", "reported" if m else None)
m = re.search(r"\| Durable \| ([\d,]+) \|", load)
durable = float(m.group(1).replace(",", "")) if m else None
target("durable mode, many concurrent requests", f"{durable:,.0f} acknowledged pairs/s" if durable else "—", "≥ 100k pairs/s", (durable >= 100_000) if durable else None)
m, built = re.search(r"\| open \(snapshot load \+ replay of ([\d,]+) records\) \| ([\d.]+) \|", recovery_text), re.search(r"built ([\d,]+) keys", recovery_text)
target("recovery", f"{built.group(1) if built else '?'} keys + {m.group(1)} records in {m.group(2)} s" if m else "—", "1M keys + 10M records ≤ 5 s",
       (float(m.group(2)) <= 5 and built and built.group(1) == "1,000,000" and int(m.group(1).replace(",", "")) >= 10_000_000) if m else None)
def h(name, conns):
    return http.get((name, conns))

bare16, quota16 = h("bare_post", 16), h("quota_api", 16)
direct1, yarp1, relay1 = h("upstream_direct", 1), h("yarp", 1), h("relay", 1)
yarp16, relay16 = h("yarp", 16), h("relay", 16)
if bare16 and quota16:
    share = quota16["rps"] / bare16["rps"]
    target("HTTP quota API vs bare Kestrel JSON POST, 16 connections", f"{share:.0%} of its requests/s; CPU/request {quota16['cpu_us']:.0f} vs {bare16['cpu_us']:.0f} µs", "≥ 70%", share >= 0.7)
else:
    target("HTTP quota API vs bare Kestrel JSON POST, 16 connections", "—", "≥ 70%", None)
if direct1 and yarp1 and relay1:
    relay_added, yarp_added = relay1["p50"] - direct1["p50"], yarp1["p50"] - direct1["p50"]
    ratio = relay_added / yarp_added if yarp_added > 0 else float("inf")
    target("relay vs YARP: added p50 at 1 connection (minus direct)", f"{ratio:.2f}× (+{relay_added:.0f} vs +{yarp_added:.0f} µs)", "≤ 1.5×", ratio <= 1.5)
else:
    target("relay vs YARP: added p50 at 1 connection (minus direct)", "—", "≤ 1.5×", None)
if yarp16 and relay16 and yarp16["cpu_us"] > 0:
    ratio = relay16["cpu_us"] / yarp16["cpu_us"]
    target("relay vs YARP: host CPU per request at 16 connections", f"{ratio:.2f}× ({relay16['cpu_us']:.0f} vs {yarp16['cpu_us']:.0f} µs)", "≤ 1.5×", ratio <= 1.5)
else:
    target("relay vs YARP: host CPU per request at 16 connections", "—", "≤ 1.5×", None)
for protocol in ("messages", "responses"):
    d1, y1, r1 = h(f"upstream_direct_{protocol}", 1), h(f"yarp_{protocol}", 1), h(f"relay_{protocol}", 1)
    y16, r16 = h(f"yarp_{protocol}", 16), h(f"relay_{protocol}", 16)
    if d1 and y1 and r1:
        relay_added, yarp_added = r1["p50"] - d1["p50"], y1["p50"] - d1["p50"]
        ratio = relay_added / yarp_added if yarp_added > 0 else float("inf")
        target(f"relay vs YARP, {protocol}: added p50 at 1 connection", f"{ratio:.2f}× (+{relay_added:.0f} vs +{yarp_added:.0f} µs)", "≤ 1.5×", ratio <= 1.5)
    if y16 and r16 and y16["cpu_us"] > 0:
        ratio = r16["cpu_us"] / y16["cpu_us"]
        target(f"relay vs YARP, {protocol}: host CPU per request at 16 connections", f"{ratio:.2f}× ({r16['cpu_us']:.0f} vs {y16['cpu_us']:.0f} µs)", "≤ 1.5×", ratio <= 1.5)

m = re.search(r"\| store round trips per 1,000 admitted requests \| ([\d.]+) \|", cluster)
target("cluster: store round trips per 1,000 admitted requests, one hot key, 3 nodes", m.group(1) if m else "—", "≤ 20", (float(m.group(1)) <= 20) if m else None)
lease = re.search(r"live lease \| (\d+) µs", cluster)
single, trip = re.search(r"single node \(no cluster\) \| (\d+) µs", cluster), re.search(r"\(the grant script\), p50 \| (\d+) µs", cluster)
target("cluster: reserve p50 over HTTP with a live lease vs a single node; one direct store round trip",
       f"{lease.group(1)} vs {single.group(1)} µs; store round trip {trip.group(1)} µs" if lease and single and trip else "—", "reported", "reported" if lease else None)

table = "\n".join(['| target (docs/design.md "Performance targets") | measured (same run) | goal | |', "|---|---|---|---|", *rows])
parts = [header, "## Targets\n", table, ""]
for path in sorted(glob.glob(os.path.join(artifacts, "*-report-github.md"))):
    title = os.path.basename(path).replace("-report-github.md", "").replace("Quota.Benchmarks.", "")
    parts += [f"## {title}\n", "\n".join(l for l in open(path).read().splitlines() if l.startswith("|")), ""]
parts += ["## Load runs\n", load]
if cluster:
    parts += [cluster, ""]
if http:
    parts += ["## HTTP on loopback (wrk, 1 thread; both servers and wrk share the machine's cores)\n",
              "CPU per request: utime + stime of the process serving the target (the fake upstream for bare_post and "
              "upstream_direct; the host for quota_api and relay; the YARP app for yarp), over the run, per completed request.\n",
              "| target | connections | requests/s | p50 µs | p99 µs | p99.9 µs | CPU µs per request | errors |",
              "|---|---:|---:|---:|---:|---:|---:|---:|",
              *[f"| {n} | {c} | {v['rps']:,.0f} | {v['p50']:,.0f} | {v['p99']:,.0f} | {v['p999']:,.0f} | {v['cpu_us']:,.1f} | {v['errors']:.0f} |"
                for (n, c), v in http.items()], ""]
open(os.path.join(root, "results", "latest.md"), "w").write("\n".join(parts))

readme = os.path.join(root, "README.md")
text = open(readme).read()
text = re.sub(r"(<!-- results:begin -->\n).*?(<!-- results:end -->)", lambda mm: mm.group(1) + header + "\n" + table + "\n\n" + mm.group(2), text, flags=re.S)
open(readme, "w").write(text)
print(table)
