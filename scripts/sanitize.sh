#!/bin/bash
# sanitize.sh — the tests under the sanitizers, each in its own build dir:
#  asan: AddressSanitizer + UndefinedBehaviorSanitizer (-DDUCT_SANITIZE=ON;
#        UB is fatal: -fno-sanitize-recover) over every unit test and the
#        integration tests in ASAN_IT;
#  tsan: ThreadSanitizer (-DDUCT_TSAN=ON) over the unit tests of the
#        threaded parts (TSAN_UNITS) and the integration tests in TSAN_IT.
# Every sanitizer writes its reports to files (log_path) in the build dir's
# sanitizer-logs/, so a report from any process counts, even a duct a test
# runs in the background and never waits for; a report fails the run, as
# does a failing test. Leak checking is on (detect_leaks=1) with the
# suppressions in tests/sanitize/lsan.supp (each explained there).
# Usage: scripts/sanitize.sh [asan] [tsan]   (default both). Exit status 1
# on any failure; the reports are printed. Build dirs: DUCT_ASAN_BUILD
# (default build-asan), DUCT_TSAN_BUILD (default build-tsan). Needs root
# for the FUSE tests, as scripts/test.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
MODES=("$@")
[ ${#MODES[@]} -gt 0 ] || MODES=(asan tsan)
ASAN_IT=${ASAN_IT:-pair operations conformance channels lifecycle mount_locks channel_load}
TSAN_IT=${TSAN_IT:-pair channel_load mount_locks}
TSAN_UNITS=${TSAN_UNITS:-mux_test writer_test inodes_test mount_fake_test export_flush_test export_test}
UNITS=$(ls tests/unit/*.cc | xargs -n1 basename | sed 's/\.cc$//')
# proto_test (typed tests of every message) alone takes over 8 minutes to
# compile under ASan on 2 cores; the codec runs under ASan+UBSan anyway in
# tests/fuzz/codec_fuzz.cc, over every row of the table. ASAN_UNITS=... to add it.
ASAN_UNITS=${ASAN_UNITS:-$(echo $UNITS | tr ' ' '\n' | grep -vx proto_test)}
abs() { case $1 in /*) echo "$1" ;; *) echo "$SRC/$1" ;; esac; }
it_regex() { local r; r=$(echo $1 | tr ' ' '|'); echo "^it\.($r)\$"; }
failed=()

# run_suite NAME BUILD CTEST-ARGS...: ctest, then every report file.
run_suite() {
    local name=$1 build=$2
    shift 2
    local rc=0
    ctest --test-dir "$build" --output-on-failure --timeout 300 "$@" </dev/null || rc=$?
    [ "$rc" = 0 ] || failed+=("$name: ctest exit $rc")
}
check_logs() {
    local name=$1 dir=$2 f n=0
    for f in "$dir"/*; do
        [ -s "$f" ] || continue
        n=$((n + 1))
        echo "sanitize.sh: $name report $f:" >&2
        head -60 "$f" >&2
    done
    [ "$n" = 0 ] || failed+=("$name: $n sanitizer report(s) in $dir")
    echo "sanitize.sh: $name: $n sanitizer report file(s)"
}

for mode in "${MODES[@]}"; do
    case $mode in
    asan)
        B=$(abs "${DUCT_ASAN_BUILD:-build-asan}")
        cmake -S . -B "$B" -G Ninja -DDUCT_SANITIZE=ON >/dev/null
        ninja -C "$B" duct duct-example conform $ASAN_UNITS
        L=$B/sanitizer-logs
        rm -rf "$L" && mkdir -p "$L"
        export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$L/asan:log_exe_name=1"
        export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$L/ubsan:log_exe_name=1"
        export LSAN_OPTIONS="suppressions=$SRC/tests/sanitize/lsan.supp:print_suppressions=0"
        echo "sanitize.sh: asan: unit tests"
        run_suite "asan unit" "$B" -E '^it\.|_NOT_BUILT$'
        echo "sanitize.sh: asan: integration tests $ASAN_IT"
        # Sized for a build that runs 2-3 times slower: channel_load moves
        # 16 MiB per transfer (not 64), and conformance runs its open(2)
        # cases only, without the bindfs reference (under ASan the
        # "readdir/changing while listed" case outlives its 30 s guard).
        export DUCT_TEST_LOADMB=${DUCT_TEST_LOADMB:-16}
        export DUCT_CONFORM_ONLY=${DUCT_CONFORM_ONLY:-open/} DUCT_CONFORM_NO_BINDFS=1
        run_suite "asan integration" "$B" -R "$(it_regex "$ASAN_IT")"
        check_logs asan "$L"
        unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS DUCT_CONFORM_ONLY DUCT_CONFORM_NO_BINDFS
        ;;
    tsan)
        B=$(abs "${DUCT_TSAN_BUILD:-build-tsan}")
        cmake -S . -B "$B" -G Ninja -DDUCT_TSAN=ON >/dev/null
        ninja -C "$B" duct $TSAN_UNITS
        L=$B/sanitizer-logs
        rm -rf "$L" && mkdir -p "$L"
        export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:log_path=$L/tsan:log_exe_name=1"
        echo "sanitize.sh: tsan: unit tests $TSAN_UNITS"
        # Only the test binaries built here run: ctest names the others
        # NAME_NOT_BUILT (gtest discovery never ran for them).
        run_suite "tsan unit" "$B" -E '^it\.|_NOT_BUILT$'
        echo "sanitize.sh: tsan: integration tests $TSAN_IT"
        export DUCT_TEST_LOADMB=${DUCT_TEST_LOADMB:-16}  # TSan: 5-15 times slower
        run_suite "tsan integration" "$B" -R "$(it_regex "$TSAN_IT")"
        check_logs tsan "$L"
        unset TSAN_OPTIONS
        ;;
    *) echo "sanitize.sh: unknown mode $mode (asan, tsan)" >&2; exit 2 ;;
    esac
done
if [ ${#failed[@]} -gt 0 ]; then
    printf 'sanitize.sh: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "sanitize.sh: no failures, no sanitizer reports"
