#!/usr/bin/env bash
# HTTP load on loopback, bounded (DURATION seconds per run), stops by itself; prints one RESULT line per run.
#   bash bench/http.sh            (installs wrk from Debian if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DIR="$PWD/bench"
DURATION=${DURATION:-10}; CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
dotnet build src/Host -c Release --nologo -v q >/dev/null && dotnet build tools/FakeUpstream -c Release --nologo -v q >/dev/null
data=$(mktemp -d); export ADMIN_KEY=bench-admin-key-0123456789
dotnet tools/FakeUpstream/bin/Release/net10.0/FakeUpstream.dll --urls http://127.0.0.1:9100 > "$data/upstream.log" 2>&1 & upstream=$!
dotnet src/Host/bin/Release/net10.0/Quota.Host.dll --urls http://127.0.0.1:9101 --Quota:DataDir="$data/host" --Quota:AdminKey=$ADMIN_KEY \
  --Relay:Upstream:BaseUrl=http://127.0.0.1:9100/v1 --Logging:LogLevel:Default=Warning > "$data/host.log" 2>&1 & host=$!
trap 'kill $upstream $host 2>/dev/null; wait $upstream $host 2>/dev/null; rm -rf "$data" || true' EXIT
for i in $(seq 100); do curl -sf localhost:9101/healthz >/dev/null && curl -sf localhost:9100/stats >/dev/null && break; sleep 0.2; done
A="Authorization: Bearer $ADMIN_KEY"; J='content-type: application/json'
curl -sf -XPOST localhost:9101/api/users -H "$A" -H "$J" -d '{"name":"bench","quota":1000000000000000}' >/dev/null
export TOKEN_KEY=$(curl -sf -XPOST localhost:9101/api/tokens -H "$A" -H "$J" \
  -d '{"user_id":1,"remain_quota":1000000000000000,"quota_policy":{"period_mode":"daily","quota":70000000000000}}' | sed -E 's/.*"key":"([^"]+)".*/\1/')
chat='{"model":"demo-per-call","max_tokens":12,"messages":[{"role":"user","content":"hello there"}]}'

run() { # name url script [env...]
  local name=$1 url=$2 script=$3; shift 3
  env "$@" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "bench/http/$script" "$url" | sed -n 's/^RESULT /'"$name"' /p'
}
{
  run bare_post http://127.0.0.1:9100/echo post.lua BODY='{"amount":60}'
  run quota_api http://127.0.0.1:9101/api/quota/reserve quota.lua
  run upstream_direct http://127.0.0.1:9100/v1/chat/completions post.lua BODY="$chat"
  run relay http://127.0.0.1:9101/v1/chat/completions post.lua BODY="$chat" AUTH="$TOKEN_KEY"
}
