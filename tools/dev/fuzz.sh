#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, ./build-fuzz) and runs each for a bounded
# time from its seed corpus in tests/fuzz/corpus. Fails when any target finds a crash, a leak
# or undefined behaviour; the input that did it is saved in build-fuzz/fuzz-artifacts/.
#
#   tools/dev/fuzz.sh                 60 s per target (what CI runs)
#   tools/dev/fuzz.sh 14400           four hours per target
#   tools/dev/fuzz.sh 600 http_fuzz   one target
#
# New inputs that reach new code stay in build-fuzz/fuzz-work/<target> and are reused by the
# next run; seeds worth keeping (a fixed crash, above all) are copied into the corpus.
# Reproduce a saved crash: build-fuzz/tests/fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http_fuzz query_fuzz json_fuzz event_fuzz import_fuzz)

bash tools/dev/install-deps.sh fuzz
export CCACHE_BASEDIR="$PWD"
jobs="${CLEDGER_JOBS:-$(nproc)}"
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCLEDGER_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"

dict_of() {
  case "$1" in
    http_fuzz|query_fuzz) echo tests/fuzz/http.dict ;;
    json_fuzz|import_fuzz) echo tests/fuzz/json.dict ;;
  esac
}

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
mkdir -p build-fuzz/fuzz-artifacts
summary=build-fuzz/fuzz-summary.txt
: >"$summary"
failed=()
for t in "${targets[@]}"; do
  work="build-fuzz/fuzz-work/$t"
  mkdir -p "$work"
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="build-fuzz/fuzz-artifacts/$t-")
  dict="$(dict_of "$t")"
  [ -n "$dict" ] && args+=(-dict="$dict")
  # The HTTP target runs a whole server and RocksDB in the process: a leak scan after every
  # new-coverage input walks that heap and cut its executions twentyfold. The ASan+UBSan suite
  # (tools/dev/sanitize.sh) checks the server for leaks instead.
  [ "$t" = http_fuzz ] && args+=(-detect_leaks=0)
  echo "== $t: ${seconds}s"
  log="build-fuzz/fuzz-work/$t.log"
  started=$(date +%s)
  set +e
  "build-fuzz/tests/fuzz/$t" "${args[@]}" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - started ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "$t rc=$rc seconds=$took executions=${execs:-?} corpus=$(ls "$work" | wc -l)" | tee -a "$summary"
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    grep -E "ERROR: |SUMMARY: |runtime error|Test unit written|deadly signal" "$log" | head -20
    echo "   full log: $log"
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzzing found a problem in: ${failed[*]}"; exit 1; }
