#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds and runs a consumer project against it.
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/install/consumer" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/consumer" "$work/data")
[ "$out" = "Ann v1" ] || { echo "unexpected output: $out"; exit 1; }
echo "installed library works: $out"
