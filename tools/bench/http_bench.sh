#!/usr/bin/env bash
# HTTP benchmark: a real `cledger serve` on a fresh data directory, loaded with wrk over
# loopback. Reports commands/s and reads/s with their p99, each as a ratio against the same
# server's GET /healthz (no engine work, no fsync) measured in the same run.
#
#   bash tools/bench/http_bench.sh [SECONDS] [CONNECTIONS]
#
# Needs wrk (apt-get install wrk) and a build in ./build (or $CLEDGER_BUILD).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
connections=${2:-64}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
"${CLEDGER_BUILD:-build}"/tools/cledger serve --data "$work/data" --listen 127.0.0.1:0 >"$work/banner" 2>/dev/null &
server=$!
for _ in $(seq 100); do grep -q "Stop with" "$work/banner" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^Contact Ledger is serving \(http[^ ]*\).*/\1/p' "$work/banner")
token=$(sed -n 's/^  owner token  \(clt_[a-z0-9]*\).*/\1/p' "$work/banner")
auth="Authorization: Bearer $token"
curl -s -X POST "$url/v1/customers" -H "$auth" -d '{"id":"c1","name":"Acme","email":"ap@acme.test"}' >/dev/null

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"Bench Customer","email":"ap@bench.test"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# run NAME PATH [SCRIPT] → prints "requests/s p99_ms"
run() {
  local out
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "$auth" ${3:+-s "$3"} "$url$2")
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  local non2xx
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  printf '%-10s %10s req/s   p99 %8s   non-2xx %s\n' "$1" "$rps" "$p99" "${non2xx:-0}"
  echo "$rps" >"$work/$1"
}

echo "wrk, $connections connections, ${seconds}s each, 2 cores shared by client and server"
run baseline /healthz
run reads /v1/customers/c1
run commands /v1/customers "$work/post.lua"
base=$(cat "$work/baseline")
awk -v b="$base" -v r="$(cat "$work/reads")" -v c="$(cat "$work/commands")" 'BEGIN {
  printf "reads    = %.2f x baseline   (target >= 50,000/s)\n", r / b
  printf "commands = %.2f x baseline   (target >= 20,000/s, p99 <= 20 ms)\n", c / b }'
