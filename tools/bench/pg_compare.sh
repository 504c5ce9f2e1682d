#!/usr/bin/env bash
# Engine vs an event table on PostgreSQL under the same load (SPEC §6: ≥ 10×), in one run:
# 64 clients each appending one ~736-byte event per durable commit (PostgreSQL: autocommit
# INSERT with synchronous_commit on; engine: Ledger::Append with sync=true).
#
#   bash tools/bench/pg_compare.sh [SECONDS] [CLIENTS]
#
# Needs a local PostgreSQL 15 server (apt-get install postgresql; pg_ctlcluster 15 main start)
# and a build in ./build (or $CLEDGER_BUILD). It creates and drops a database cledger_bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
clients=${2:-64}
build=${CLEDGER_BUILD:-build}
psql_() { su postgres -c "psql -qAt -v ON_ERROR_STOP=1 $*"; }
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"; psql_ "-c \"DROP DATABASE IF EXISTS cledger_bench\"" >/dev/null 2>&1 || true' EXIT

psql_ "-c \"DROP DATABASE IF EXISTS cledger_bench\"" >/dev/null 2>&1
psql_ "-c \"CREATE DATABASE cledger_bench\"" >/dev/null
psql_ "-d cledger_bench -c \"CREATE TABLE events (position bigserial PRIMARY KEY, tenant text NOT NULL,
  stream text NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(), body bytea NOT NULL)\"" >/dev/null
cat >"$work/append.sql" <<'SQL'
INSERT INTO events (tenant, stream, body)
VALUES ('acme', 'contact-' || :client_id || '-' || (random() * 100)::int, convert_to(repeat('x', 736), 'UTF8'));
SQL
chmod 644 "$work/append.sql"
pg=$(su postgres -c "pgbench -n -c $clients -j 2 -T $seconds -f $work/append.sql cledger_bench" 2>&1 |
     awk '/^tps/ {print $3; exit}')
engine=$("$build/tools/cledger_bench_append" --only engine --producers "$clients" \
           --seconds "$seconds" --json | sed -n 's/.*"engine":{[^}]*"commits_per_s":\([0-9.]*\).*/\1/p')
echo "durable single-event appends, $clients clients, ${seconds}s each, 2 cores"
printf '  PostgreSQL event table  %10.0f /s\n' "$pg"
printf '  cledger engine          %10.0f /s\n' "$engine"
awk -v e="$engine" -v p="$pg" 'BEGIN { printf "  engine = %.1f x PostgreSQL   (target >= 10x)\n", e / p }'
