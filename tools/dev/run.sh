#!/usr/bin/env bash
# Installs what is needed, builds, and starts Contact Ledger on ./data.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/build.sh
exec ./build/tools/cledger head --data ./data
