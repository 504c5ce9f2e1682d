#!/usr/bin/env bash
# Installs what is needed, builds the server, and starts it on ./data at 127.0.0.1:8080.
# Arguments go to `cledger serve` and replace these defaults: --listen 127.0.0.1:9090 for
# another port (port 0 picks a free one and prints it), --data DIR for another directory;
# --help lists every option (after the build).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Only the server and its CLI: the tests and benchmarks are the test command's to build.
CLEDGER_TARGET=cledger bash tools/dev/build.sh -DCLEDGER_WERROR=OFF  # warnings never stop it
given() {
  local flag=$1 arg
  shift
  for arg in "$@"; do [[ $arg == "$flag" || $arg == "$flag="* ]] && return 0; done
  return 1
}
defaults=()
given --data "$@" || defaults+=(--data ./data)
given --listen "$@" || defaults+=(--listen 127.0.0.1:8080)
given --ops-token "$@" || defaults+=(--ops-token 12h)
exec ./build/tools/cledger serve "${defaults[@]}" "$@"
