#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/build.sh -DCLEDGER_WERROR=ON  # warnings are errors here, not in users' builds
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 600
