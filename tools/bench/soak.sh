#!/usr/bin/env bash
# Soak: a real `cledger serve` for a while (default 10 minutes) with writers, readers and
# stream subscribers coming and going, sampling the server's resident memory every 10 s.
# The claim to check is that RSS stays flat after warm-up; the script reports the numbers and
# asserts nothing about them.
#
#   tools/bench/soak.sh [seconds] [writers] [readers] [subscribers]
#   tools/bench/soak.sh 600 4 2 4      (the defaults)
#
# Needs ./build/tools/cledger (tools/dev/build.sh) and curl. Output: one line per sample,
# then a summary (warm-up = the first minute, or the first sixth of a shorter run).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
writers="${2:-4}"
readers="${3:-2}"
subscribers="${4:-4}"
bin=./build/tools/cledger
[ -x "$bin" ] || { echo "build first: bash tools/dev/build.sh"; exit 2; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve --data "$work/data" --listen 127.0.0.1:0 >"$work/banner" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do grep -q "Stop with Ctrl-C" "$work/banner" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/^Contact Ledger is serving \(http[^ ]*\).*/\1/p' "$work/banner")"
token="$(sed -n 's/^  owner token  \([^ ]*\).*/\1/p' "$work/banner")"
[ -n "$url" ] && [ -n "$token" ] || { echo "server did not start"; cat "$work/banner" "$work/server.log"; exit 1; }
ops_token="$(sed -n 's/^  ops token    \([^ ]*\).*/\1/p' "$work/banner")"
auth=(-H "Authorization: Bearer $token")
end=$(( $(date +%s) + seconds ))

# A writer lives 5–30 s (customers with a few contacts each, then edits), then a new one
# takes its place.
writer() {
  local w=$1 n=0
  while [ "$(date +%s)" -lt "$end" ]; do
    local life=$(( $(date +%s) + 5 + RANDOM % 26 ))
    while [ "$(date +%s)" -lt "$life" ] && [ "$(date +%s)" -lt "$end" ]; do
      n=$((n + 1))
      local c="s$w-$n"
      curl -s -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/v1/customers" \
        -d "{\"id\":\"$c\",\"name\":\"Soak $c\",\"email\":\"$c@soak.test\"}" || true
      curl -s -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -X POST \
        "$url/v1/customers/$c/contacts" \
        -d "{\"id\":\"k$c\",\"first_name\":\"P\",\"email\":\"k$c@soak.test\"}" || true
      curl -s -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -X PATCH \
        "$url/v1/contacts/k$c" -d "{\"last_name\":\"L$n\"}" || true
    done
    sleep 0.$((RANDOM % 10))
  done
}
# A reader reads what writers made, and pages of the log.
reader() {
  local r=$1
  while [ "$(date +%s)" -lt "$end" ]; do
    local c="s$((RANDOM % writers))-$((1 + RANDOM % 50))"
    curl -s -o /dev/null "${auth[@]}" "$url/v1/customers/$c" || true
    curl -s -o /dev/null "${auth[@]}" "$url/v1/customers/$c/contacts" || true
    curl -s -o /dev/null "${auth[@]}" "$url/v1/contacts/k$c/history" || true
    curl -s -o /dev/null "${auth[@]}" "$url/v1/events?from=$((1 + RANDOM % 1000))&limit=100" || true
  done
}
# A subscriber follows the stream for 2–20 s, from the start or live, then leaves.
subscriber() {
  while [ "$(date +%s)" -lt "$end" ]; do
    local from=""
    [ $((RANDOM % 2)) -eq 0 ] && from="?from=1"
    curl -s -N -o /dev/null --max-time $((2 + RANDOM % 19)) "${auth[@]}" \
      "$url/v1/events/stream$from" || true
  done
}

for w in $(seq "$writers"); do writer "$w" & done
for r in $(seq "$readers"); do reader "$r" & done
for s in $(seq "$subscribers"); do subscriber & done

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status"; }
head_pos() { curl -s -H "Authorization: Bearer $ops_token" "$url/metrics" 2>/dev/null | sed -n 's/^cledger_events_total //p' | head -1; }
echo "seconds rss_mb head_position"
samples=()
start=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 10
  kill -0 "$server_pid" 2>/dev/null || { echo "the server died"; cat "$work/server.log" | tail -20; exit 1; }
  t=$(( $(date +%s) - start ))
  rss="$(rss_mb)"
  samples+=("$t $rss")
  echo "$t $rss $(head_pos)"
done
warmup=$(( seconds / 6 < 60 ? seconds / 6 : 60 ))
printf '%s\n' "${samples[@]}" | awk -v w="$warmup" '
  $1 > w { n++; if (n == 1) first = $2; last = $2; if ($2 > max) max = $2; if (min == "" || $2 < min) min = $2 }
  END { if (n) printf "after %d s of warm-up: first %.1f MB, last %.1f MB, min %.1f MB, max %.1f MB (%d samples)\n", w, first, last, min, max, n }'
