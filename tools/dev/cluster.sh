#!/usr/bin/env bash
# A whole cluster on loopback for a person to try (docs/CLUSTER.md): a PostgreSQL 15 primary
# with a synchronous standby, `cledger cluster init` with two partitions, three nodes. Prints
# the nodes' URLs and an ops token; Ctrl-C stops everything and removes its data.
#
#   bash tools/dev/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/install-deps.sh
echo "building (several minutes the first time) …"
bash tools/dev/build.sh >/dev/null
exec python3 tests/cluster/cluster.py --serve --cledger build/tools/cledger
