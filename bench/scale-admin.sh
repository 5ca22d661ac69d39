#!/usr/bin/env bash
# The host at scale: seeds a data directory with N keys (and 1.3·N log rows) through the engine and the config store
# (bench/Engine.Benchmarks --seed-scale), starts the real host on it, and times: start until /healthz answers, the
# first key listing (it waits for the key index, built after start), then the median of 10 calls of each admin and
# console page, the idle CPU over a minute, and how long a clean stop takes. Prints a markdown table per N, with the
# load average (bench/README.md "Host at scale").
#   bench/scale-admin.sh [keys …]        default: 100000 1000000
#   SCALE_SEEDS=dir bench/scale-admin.sh   keeps each seeded directory in dir/<keys> and copies it on later runs
#                                          (seeding a million keys takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-100000 1000000}")
read -r -a sizes <<<"${sizes[*]}"
admin_key="sk-admin-Hq3v8RkT2mZp7WcXy4Ld9NfBs6Je1UaG"
dotnet build src/Host -c Release -v q -nologo >/dev/null
dotnet build bench/Engine.Benchmarks -c Release -v q -nologo >/dev/null
host=src/Host/bin/Release/net10.0/Quota.Host.dll
seed=bench/Engine.Benchmarks/bin/Release/net10.0/Engine.Benchmarks.dll
port=18391
base="http://127.0.0.1:$port"

median_ms() { # url [curl options…]: the median of 10 calls, in ms
  local url=$1; shift
  for _ in $(seq 10); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"; done |
    sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", (t[5] + t[6]) / 2 * 1000 }'
}

for keys in "${sizes[@]}"; do
  dir=$(mktemp -d)
  pid=
  trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
  rows=$((keys * 13 / 10))
  if [ -n "${SCALE_SEEDS:-}" ] && [ -d "$SCALE_SEEDS/$keys" ]; then
    rm -rf "$dir"; cp -r "$SCALE_SEEDS/$keys" "$dir"
  else
    dotnet "$seed" --seed-scale "$dir" "$keys" "$rows" >&2
    if [ -n "${SCALE_SEEDS:-}" ]; then mkdir -p "$SCALE_SEEDS"; cp -r "$dir" "$SCALE_SEEDS/$keys"; fi
  fi
  start=$(date +%s.%N)
  dotnet "$host" --urls "$base" --Quota:DataDir="$dir" --Quota:AdminKey="$admin_key" --Logging:LogLevel:Default=Warning >"$dir/host.out" 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "$base/healthz"; do sleep 0.05; done
  healthy=$(echo "$(date +%s.%N) - $start" | bc)
  auth=(-H "Authorization: Bearer $admin_key")
  first=$(curl -s -o /dev/null -w '%{time_total}' "${auth[@]}" "$base/api/tokens")
  # The console: sign in once (the form's antiforgery token and cookie), then reuse the session cookie.
  jar="$dir/cookies"
  form=$(curl -s -c "$jar" "$base/signin")
  token=$(grep -o 'name="__RequestVerificationToken" value="[^"]*"' <<<"$form" | sed 's/.*value="//; s/"$//')
  curl -s -o /dev/null -b "$jar" -c "$jar" --data-urlencode "__RequestVerificationToken=$token" --data-urlencode "_handler=signin" \
    --data-urlencode "Form.AdminKey=$admin_key" "$base/signin"
  console=(-b "$jar")
  deep=$((keys / 20 / 2))
  echo
  echo "#### $keys keys, $rows log rows ($(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| what | ms |"
  echo "|---|---|"
  printf '| start until /healthz answers | %.0f |\n' "$(echo "$healthy * 1000" | bc)"
  printf '| first GET /api/tokens after start (waits for the key index) | %.0f |\n' "$(echo "$first * 1000" | bc)"
  echo "| GET /api/tokens page 1 | $(median_ms "$base/api/tokens" "${auth[@]}") |"
  echo "| GET /api/tokens page $deep (the middle) | $(median_ms "$base/api/tokens?p=$deep" "${auth[@]}") |"
  echo "| GET /api/tokens?status=disabled | $(median_ms "$base/api/tokens?status=disabled" "${auth[@]}") |"
  echo "| GET /api/tokens?status=enabled&p=$deep | $(median_ms "$base/api/tokens?status=enabled&p=$deep" "${auth[@]}") |"
  echo "| GET /api/tokens?user_id=7&status=exhausted | $(median_ms "$base/api/tokens?user_id=7&status=exhausted" "${auth[@]}") |"
  echo "| console keys page | $(median_ms "$base/" "${console[@]}") |"
  echo "| console name search (?q=key-00012, a substring) | $(median_ms "$base/?q=key-00012" "${console[@]}") |"
  echo "| console name search, broad (?q=search) | $(median_ms "$base/?q=search" "${console[@]}") |"
  echo "| GET /api/logs page 1 | $(median_ms "$base/api/logs" "${auth[@]}") |"
  echo "| GET /api/logs?type=system | $(median_ms "$base/api/logs?type=system" "${auth[@]}") |"
  echo "| GET /api/logs?before=$((rows / 2)) | $(median_ms "$base/api/logs?before=$((rows / 2))" "${auth[@]}") |"
  echo "| GET /api/logs?token_id=42 | $(median_ms "$base/api/logs?token_id=42" "${auth[@]}") |"
  echo "| GET /api/logs?user_id=7 | $(median_ms "$base/api/logs?user_id=7" "${auth[@]}") |"
  # Idle: a minute without requests, after the pages above (the key index is built); CPU ticks are 1/100 s.
  sleep 10
  ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
  before=$(ticks); sleep 60; idle=$(( $(ticks) - before ))
  rss=$(($(grep VmRSS /proc/$pid/status | awk '{print $2}') / 1024))
  stopping=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  stopped=$(echo "$(date +%s.%N) - $stopping" | bc)
  echo "| idle CPU over 60 s (% of one core) | $(echo "scale=2; $idle / 60" | bc) |"
  printf '| clean stop (SIGTERM until the process exits) | %.0f |\n' "$(echo "$stopped * 1000" | bc)"
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); host RSS before the stop: $rss MB ($((rss * 1024 * 1024 / keys)) bytes a key)"
  rm -rf "$dir"
  trap - EXIT
done
