#!/usr/bin/env bash
# CPU-samples the relay under load: starts tools/FakeUpstream and the host (Release, as bench/http.sh does), warms the
# relay up (WARMUP s at 16 connections, for tiered JIT), then records the host with `dotnet-trace collect --profile
# dotnet-sampled-thread-time` (collect-linux's cpu-sampling needs kernel events) while wrk drives it DURATION s at 1 connection and DURATION s at 16. Prints the top 20 frames by
# exclusive and by inclusive time and leaves the trace in OUT (default /tmp/relay.nettrace). Stops everything it started.
#   bash bench/profile-relay.sh      (needs: dotnet tool install -g dotnet-trace --version 10.0.750501; wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR="$PWD/bench" PATH="$PATH:$HOME/.dotnet/tools"
DURATION=${DURATION:-5}; WARMUP=${WARMUP:-20}; PORT=${PORT:-9200}; OUT=${OUT:-/tmp/relay.nettrace}
for project in src/Host tools/FakeUpstream; do dotnet build $project -c Release --nologo -v q >/dev/null; done
up=http://127.0.0.1:$PORT host_url=http://127.0.0.1:$((PORT + 1))
data=$(mktemp -d); export ADMIN_KEY=$(head -c 36 /dev/urandom | base64 | tr "+/" "-_")
dotnet tools/FakeUpstream/bin/Release/net10.0/FakeUpstream.dll --urls $up > "$data/upstream.log" 2>&1 & upstream=$!
dotnet src/Host/bin/Release/net10.0/Quota.Host.dll --urls $host_url --Quota:DataDir="$data/host" --Quota:AdminKey=$ADMIN_KEY \
  --Relay:Upstream:BaseUrl=$up/v1 --Logging:LogLevel:Default=Warning > "$data/host.log" 2>&1 & host=$!
trap 'kill $upstream $host 2>/dev/null; wait $upstream $host 2>/dev/null; rm -rf "$data" || true' EXIT
for i in $(seq 150); do curl -sf $host_url/healthz >/dev/null && curl -sf $up/stats >/dev/null && break; sleep 0.2; done
A="Authorization: Bearer $ADMIN_KEY"; J='content-type: application/json'
curl -sf -XPOST $host_url/api/users -H "$A" -H "$J" -d '{"name":"bench","quota":1000000000000000}' >/dev/null
export AUTH=$(curl -sf -XPOST $host_url/api/tokens -H "$A" -H "$J" \
  -d '{"user_id":1,"remain_quota":1000000000000000,"quota_policy":{"period_mode":"daily","quota":70000000000000}}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
export BODY=${BODY:-'{"model":"demo-per-call","max_tokens":12,"messages":[{"role":"user","content":"hello there"}]}'}
url=$host_url/v1/chat/completions
wrk -t1 -c16 -d"${WARMUP}s" -s bench/http/post.lua "$url" >/dev/null
dotnet-trace collect -p $host --profile dotnet-sampled-thread-time --format Speedscope -o "$OUT" --duration 00:00:00:$((2 * DURATION + 3)) > "$data/trace.log" 2>&1 & trace=$!
sleep 2
for conns in 1 16; do echo "conns=$conns $(wrk -t1 -c$conns -d${DURATION}s -s bench/http/post.lua "$url" | sed -n 's/^RESULT //p')"; done
wait $trace
echo "== exclusive"; dotnet-trace report "$OUT" topN -n 20
echo "== inclusive"; dotnet-trace report "$OUT" topN -n 20 --inclusive
