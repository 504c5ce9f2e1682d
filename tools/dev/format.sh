#!/usr/bin/env bash
# Formats every C++ file with the repository's .clang-format (clang-format 14, Debian's).
#   tools/dev/format.sh           rewrite files in place
#   tools/dev/format.sh --check   change nothing; list the files that differ and fail (CI)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/dev/install-deps.sh fuzz
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--check" ]; then
  differ=()
  for f in "${files[@]}"; do
    clang-format-14 --dry-run "$f" 2>&1 | grep -q . && differ+=("$f")
  done
  [ ${#differ[@]} -eq 0 ] && { echo "formatting: ${#files[@]} files match .clang-format"; exit 0; }
  printf 'differs from .clang-format: %s\n' "${differ[@]}"
  echo "fix with: bash tools/dev/format.sh"
  exit 1
fi
clang-format-14 -i "${files[@]}"
