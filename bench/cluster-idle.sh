#!/usr/bin/env bash
# An idle cluster node with N keys: how much CPU it burns doing nothing (its report loop, its poll's sweep). Seeds a
# redis-server with N key documents (a real one, created through the admin API, copied N times by one Lua script), starts
# one node on it (the join applies them all), lets it settle, then samples the process's CPU time (utime+stime from
# /proc/PID/stat) over 30 s. Prints the % of one core and the machine's load average (bench/README.md "Cluster: idle node").
#   bench/cluster-idle.sh [keys] [path/to/Quota.Host.dll]     default: 100000, src/Host's Release build
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-100000}
host=${2:-}
if [ -z "$host" ]; then
  dotnet build src/Host -c Release -v q -nologo >/dev/null
  host=src/Host/bin/Release/net10.0/Quota.Host.dll
fi
admin_key="sk-admin-Hq3v8RkT2mZp7WcXy4Ld9NfBs6Je1UaG"
redis_port=18492
port=18493
base="http://127.0.0.1:$port"
dir=$(mktemp -d)
pid=
redis_pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; [ -n "$redis_pid" ] && kill $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
redis-server --port $redis_port --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis_pid=$!
until redis-cli -p $redis_port ping >/dev/null 2>&1; do sleep 0.05; done
cluster=(--Cluster:Store=127.0.0.1:$redis_port --Cluster:NodeId=n1 --Quota:AdminKey="$admin_key" --Logging:LogLevel:Default=Warning)
auth=(-H "Authorization: Bearer $admin_key" -H "Content-Type: application/json")

# One real key document, as the admin API writes it.
dotnet "$host" --urls "$base" --Quota:DataDir="$dir/template" "${cluster[@]}" >"$dir/template.out" 2>&1 &
pid=$!
until curl -sf -o /dev/null "$base/healthz"; do sleep 0.05; done
curl -sf "${auth[@]}" -d '{"name":"u","quota":1000000000}' "$base/api/users" >/dev/null
curl -sf "${auth[@]}" -d '{"user_id":1,"name":"k","remain_quota":1000000,"quota_policy":{"period_mode":"daily","quota":100000}}' "$base/api/tokens" >/dev/null
kill $pid; wait $pid 2>/dev/null || true
pid=

# N copies of it (ids 2 … N), each announced in the change set like a save.
redis-cli -p $redis_port EVAL "
  local template = redis.call('GET', 'qe:doc:t:1')
  for i = 2, tonumber(ARGV[1]) do
    local doc = string.gsub(string.gsub(template, '\"Id\":1,', '\"Id\":' .. i .. ','), '\"KeyHash\":\"[^\"]*\"', '\"KeyHash\":\"seed' .. i .. '\"')
    redis.call('SET', 'qe:doc:t:' .. i, doc)
    redis.call('ZADD', 'qe:changes', redis.call('INCR', 'qe:version'), 't:' .. i)
  end
  redis.call('SET', 'qe:ids:t', ARGV[1])
  return 0" 0 "$keys" >/dev/null

# The node joins the store with N keys (a fresh data directory: it applies them all), then idles.
start=$(date +%s.%N)
dotnet "$host" --urls "$base" --Quota:DataDir="$dir/node" "${cluster[@]}" >"$dir/node.out" 2>&1 &
pid=$!
until curl -sf -o /dev/null "$base/healthz"; do sleep 0.2; done
joined=$(echo "$(date +%s.%N) - $start" | bc)
sleep 20 # the start's background work (key index) settles
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
before=$(ticks)
sleep 30
after=$(ticks)
hz=$(getconf CLK_TCK)
printf '| %s keys | joined in %.0f s | idle CPU %.1f%% of one core (%d ticks in 30 s) | load average %s |\n' \
  "$keys" "$joined" "$(echo "($after - $before) * 100 / $hz / 30" | bc -l)" "$((after - before))" "$(cut -d' ' -f1-3 /proc/loadavg)"
