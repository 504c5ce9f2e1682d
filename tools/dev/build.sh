#!/usr/bin/env bash
# Configures and builds into ./build (Release with debug info, Ninja, ccache when present).
# Arguments go to CMake, e.g. -DCLEDGER_WERROR=ON; CLEDGER_TARGET=cledger builds only that target.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/install-deps.sh
export CCACHE_BASEDIR="$PWD"  # relative paths in the cache key: hits across clones of the tree
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j "$(nproc)" ${CLEDGER_TARGET:+--target "$CLEDGER_TARGET"}
