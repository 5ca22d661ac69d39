#!/usr/bin/env bash
# HTTP on loopback, bounded (DURATION seconds per run), stops by itself; prints one RESULT line per run:
#   <target> conns=<n> rps=… p50=… p99=… p999=… errors=… requests=… cpu_us=<server process CPU per request, µs>
# Targets: bare Kestrel JSON POST (the fake upstream's /echo), the quota API (alternating reserve/settle), the fake
# upstream called directly, YARP forwarding to it (bench/YarpPeer) and the relay (src/Host) forwarding to it. Each
# target is run at 1 connection (latency) and 16 connections (throughput, CPU per request); the CPU is utime+stime
# of the process serving the target (/proc/<pid>/stat) before and after the run, divided by the requests wrk completed.
#   bash bench/http.sh            (installs wrk from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR="$PWD/bench"
# Warm-up per target: 20 s of load at 16 connections. Measured: the relay's requests/s climbed for ~20 s under load
# (1.9k, 2.5k, 2.9k, 4.0k, 6.5k, 7.7k rps in consecutive 4 s runs) while tiered JIT promoted its code on the 2 cores the
# load shares; a 2 s warm-up timed mostly unoptimised code. Every target gets the same warm-up.
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-20}; PORT=${PORT:-9100}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
for project in src/Host tools/FakeUpstream bench/YarpPeer; do dotnet build $project -c Release --nologo -v q >/dev/null; done
up=http://127.0.0.1:$PORT host_url=http://127.0.0.1:$((PORT + 1)) yarp_url=http://127.0.0.1:$((PORT + 2))
data=$(mktemp -d); export ADMIN_KEY=$(head -c 36 /dev/urandom | base64 | tr "+/" "-_")
dotnet tools/FakeUpstream/bin/Release/net10.0/FakeUpstream.dll --urls $up > "$data/upstream.log" 2>&1 & upstream=$!
# The fake upstream is also the Anthropic provider of claude-* (the Messages rows); prices per call, as demo-per-call.
dotnet src/Host/bin/Release/net10.0/Quota.Host.dll --urls $host_url --Quota:DataDir="$data/host" --Quota:AdminKey=$ADMIN_KEY \
  --Relay:Upstream:BaseUrl=$up/v1 --Relay:Providers:anthropic:Protocol=anthropic --Relay:Providers:anthropic:BaseUrl=$up/v1 \
  --Relay:Providers:anthropic:Models:0='claude-*' --Pricing:Models:demo-per-call:PerCall=15 --Pricing:Models:claude-per-call:PerCall=15 \
  --Logging:LogLevel:Default=Warning > "$data/host.log" 2>&1 & host=$!
dotnet bench/YarpPeer/bin/Release/net10.0/YarpPeer.dll --urls $yarp_url --Upstream=$up > "$data/yarp.log" 2>&1 & yarp=$!
trap 'kill $upstream $host $yarp 2>/dev/null; wait $upstream $host $yarp 2>/dev/null; rm -rf "$data" || true' EXIT
for i in $(seq 150); do
  curl -sf $host_url/healthz >/dev/null && curl -sf $up/stats >/dev/null && curl -s -o /dev/null $yarp_url/v1/models && break; sleep 0.2
done
A="Authorization: Bearer $ADMIN_KEY"; J='content-type: application/json'
curl -sf -XPOST $host_url/api/users -H "$A" -H "$J" -d '{"name":"bench","quota":1000000000000000}' >/dev/null
export TOKEN_KEY=$(curl -sf -XPOST $host_url/api/tokens -H "$A" -H "$J" \
  -d '{"user_id":1,"remain_quota":1000000000000000,"quota_policy":{"period_mode":"daily","quota":70000000000000}}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
chat='{"model":"demo-per-call","max_tokens":12,"messages":[{"role":"user","content":"hello there"}]}'
messages='{"model":"claude-per-call","max_tokens":12,"messages":[{"role":"user","content":"hello there"}]}'
responses='{"model":"demo-per-call","max_output_tokens":12,"input":"hello there"}'
tick=$(getconf CLK_TCK)

cpu_ticks() { sed -E 's/^.*\) //' /proc/$1/stat | awk '{print $12 + $13}'; } # utime + stime (fields 14, 15; comm may hold spaces)

measure() { # name conns pid url script [env...]: one wrk run, the serving process's CPU around it
  local name=$1 conns=$2 pid=$3 url=$4 script=$5; shift 5
  local before after line requests
  before=$(cpu_ticks "$pid")
  line=$(env "$@" wrk -t1 -c"$conns" -d"${DURATION}s" -s "bench/http/$script" "$url" | sed -n 's/^RESULT //p')
  after=$(cpu_ticks "$pid")
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  echo "$name conns=$conns $line cpu_us=$(awk -v t=$((after - before)) -v hz="$tick" -v n="$requests" 'BEGIN { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
}

target() { # name pid url script [env...]: warm up (JIT tiers, connection pools), then 1 and 16 connections
  local name=$1 pid=$2 url=$3 script=$4; shift 4
  env "$@" wrk -t1 -c16 -d"${WARMUP}s" -s "bench/http/$script" "$url" >/dev/null
  measure "$name" 1 "$pid" "$url" "$script" "$@"
  measure "$name" 16 "$pid" "$url" "$script" "$@"
}

target bare_post $upstream $up/echo post.lua BODY='{"amount":60}'
target quota_api $host $host_url/api/quota/reserve quota.lua
target upstream_direct $upstream $up/v1/chat/completions post.lua BODY="$chat"
target yarp $yarp $yarp_url/v1/chat/completions post.lua BODY="$chat"
target relay $host $host_url/v1/chat/completions post.lua BODY="$chat" AUTH="$TOKEN_KEY"
# The same three for Anthropic Messages and OpenAI Responses (relay: same targets as chat, docs/design.md).
target upstream_direct_messages $upstream $up/v1/messages post.lua BODY="$messages"
target yarp_messages $yarp $yarp_url/v1/messages post.lua BODY="$messages"
target relay_messages $host $host_url/v1/messages post.lua BODY="$messages" AUTH="$TOKEN_KEY"
target upstream_direct_responses $upstream $up/v1/responses post.lua BODY="$responses"
target yarp_responses $yarp $yarp_url/v1/responses post.lua BODY="$responses"
target relay_responses $host $host_url/v1/responses post.lua BODY="$responses" AUTH="$TOKEN_KEY"
