#!/usr/bin/env bash
# Rewrites <project>/PublicAPI.Unshipped.txt (default src/Engine; also src/Engine.Hosting, src/Engine.AspNetCore, src/Engine.AI) from the public API analyzer's own diagnostics, so the file is never typed
# by hand (README "Changing the public API"): empty it, build the engine with a SARIF error log, and write back, sorted,
# every symbol the analyzer reports as public but undeclared (RS0016) plus a *REMOVED* line for every shipped symbol
# that is gone (RS0017). Review the diff it leaves: that diff is the API change.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:-src/Engine}
unshipped="$engine/PublicAPI.Unshipped.txt"
sarif=$(mktemp --suffix=.sarif)
trap 'rm -f "$sarif"' EXIT

printf '#nullable enable\n' > "$unshipped"
# The build fails on the very diagnostics it collects; --no-incremental makes sure the compiler (and so the analyzer) runs.
dotnet build "$engine" -c Release --no-incremental -p:ErrorLog="$sarif%2Cversion=2.1" > /dev/null 2>&1 || true

python3 - "$sarif" "$unshipped" <<'PY'
import json, re, sys
sarif, unshipped = sys.argv[1], sys.argv[2]
added, removed = set(), set()
for run in json.load(open(sarif, encoding="utf-8"))["runs"]:
    for result in run.get("results", []):
        name = result.get("properties", {}).get("customProperties", {}).get("APIName")
        if name is None:
            quoted = re.match(r"Symbol '(.*)' is", result.get("message", {}).get("text", ""))
            name = quoted.group(1) if quoted else None
        if result["ruleId"] == "RS0016" and name:
            added.add(name)
        elif result["ruleId"] == "RS0017" and name:
            removed.add("*REMOVED*" + name)
with open(unshipped, "w", encoding="utf-8", newline="\n") as out:
    out.write("#nullable enable\n")
    for line in sorted(added | removed, key=lambda s: s.encode("utf-8")):
        out.write(line + "\n")
print(f"{unshipped}: {len(added)} public symbols, {len(removed)} removed")
PY

dotnet build "$engine" -c Release > /dev/null
echo "$engine builds with the regenerated file"
