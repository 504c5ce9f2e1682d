#!/usr/bin/env bash
# Installs what is needed, builds, and starts the Contact Ledger server on ./data at 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/build.sh -DCLEDGER_WERROR=OFF  # a user's build: warnings never stop it
exec ./build/tools/cledger serve --data ./data --listen 127.0.0.1:8080 --ops-token 12h
