#!/usr/bin/env bash
# The test suite under sanitizers:
#   1. every test under AddressSanitizer + UndefinedBehaviorSanitizer, in ./build-fuzz (clang;
#      the fuzzing build, so CI compiles once for both: coverage instrumentation does not change
#      what a test does);
#   2. the concurrent tests (store: group commit and faults; server: requests, streams,
#      limits; simulation: engine threads across restarts; scenarios: rebuilds beside readers,
#      writers and the audit follower) under ThreadSanitizer, in
#      ./build-tsan (GCC 12), with RocksDB's own internals suppressed (tools/dev/tsan.supp).
# Any report fails the run.
#
#   tools/dev/sanitize.sh            both
#   tools/dev/sanitize.sh asan       only the first
#   tools/dev/sanitize.sh tsan       only the second
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-all}"
bash tools/dev/install-deps.sh fuzz
export CCACHE_BASEDIR="$PWD"
jobs="${CLEDGER_JOBS:-$(nproc)}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/dev/lsan.supp:print_suppressions=0"

if [ "$which" = all ] || [ "$which" = asan ]; then
  echo "== ASan+UBSan: the whole suite (build-fuzz)"
  if [ ! -f build-fuzz/CMakeCache.txt ]; then
    cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER=clang++-14 -DCLEDGER_FUZZ=ON >/dev/null
  fi
  cmake --build build-fuzz -j "$jobs"
  # The install test builds an uninstrumented consumer against these instrumented libraries,
  # and the cluster test runs three servers beside two PostgreSQL servers: both run in the
  # normal suite (the cluster's replication paths run here in the engine's replica tests).
  # The Python verifier's and the layers' tests run no compiled code at all.
  # A test that fails is run once more (CI's summary still lists the first failure): on a slow
  # machine ASan's slowdown can push a timing-bound test past its bound.
  # One seed of the simulation, not the normal suite's two: under ASan it runs 13 times slower
  # (430 s for two seeds), longer than any other test.
  (cd build-fuzz && CLEDGER_SIM_RUNS=1 ctest --output-on-failure -j "$jobs" --timeout 1200 --repeat until-pass:2 \
     -E 'TheInstalledLibraryIsUsableThroughFindPackage|TheClusterKeeps|ALedgerImportedIntoACluster|ThePythonVerifierPasses|^Layers')
fi

if [ "$which" = all ] || [ "$which" = tsan ]; then
  echo "== TSan: the concurrent tests (build-tsan)"
  if [ ! -f build-tsan/CMakeCache.txt ]; then
    cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCLEDGER_SANITIZE=thread >/dev/null
  fi
  tsan_tests=(store_test server_test sim_test scenarios_test)
  cmake --build build-tsan -j "$jobs" --target "${tsan_tests[@]}"
  export TSAN_OPTIONS="suppressions=$PWD/tools/dev/tsan.supp:halt_on_error=1:second_deadlock_stack=1"
  for t in "${tsan_tests[@]}"; do
    echo "-- $t"
    # GCC 12's TSan cannot map its shadow memory with the kernel's 28 random mmap bits:
    # run without address-space randomisation.
    # The damaged-WAL tests fork a child that starts a ledger's threads, which TSan cannot
    # follow ("starting new threads after multi-threaded fork"); they are single-threaded
    # recovery tests and run under ASan.
    # Of the scenarios only the rebuilds: the others restore backups on RocksDB's own threads,
    # whose uninstrumented synchronisation TSan reports as races.
    only=()
    [ "$t" != scenarios_test ] || only=(--test-case="*Rebuil*")
    setarch "$(uname -m)" -R "build-tsan/tests/$t" --test-case-exclude="*Wal*" "${only[@]}"
  done
fi
