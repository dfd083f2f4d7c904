#!/bin/bash
# fuzz.sh [SECONDS] — build the libFuzzer targets (tests/fuzz, clang,
# -DDUCT_FUZZ=ON) in their own build dir and run each for SECONDS (default
# 60), starting from the committed seeds (tests/fuzz/corpus/TARGET) plus
# seeds made again from the current message table (make_seeds). New inputs
# go to $BUILD/corpus/TARGET, crashes to $BUILD/artifacts/. Prints each
# target's executions and coverage (libFuzzer's final cov: and ft:).
# Exit status 1 if any target found a crash, leak, hang or sanitizer report
# (the report is printed, and the input that caused it is named).
# Environment: DUCT_FUZZ_BUILD (default build-fuzz), FUZZ_TARGETS (names,
# default all; one target at a time). Reproduce a crash:
# $BUILD/fuzz/TARGET_fuzz ARTIFACT.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
BUILD=${DUCT_FUZZ_BUILD:-build-fuzz}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/setup.sh installs it)" >&2; exit 1; }
ALL=(codec export mux client)
TARGETS=(${FUZZ_TARGETS:-${ALL[*]}})

# Each target's input size limit: a codec frame, a session of frames, a
# byte stream of many frames, a program of calls and hostile replies.
declare -A MAXLEN=([codec]=4096 [export]=16384 [mux]=65536 [client]=8192)

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DDUCT_FUZZ=ON >/dev/null
ninja -C "$BUILD" make_seeds "${TARGETS[@]/%/_fuzz}"

rm -rf "$BUILD/seeds"
"$BUILD/fuzz/make_seeds" "$BUILD/seeds"
mkdir -p "$BUILD/artifacts" "$BUILD/tmp"
export TMPDIR=$BUILD/tmp  # export_fuzz's directory (its tmpfs mount point)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
printf '%-8s %12s %8s %8s %8s %s\n' target execs exec/s cov ft result > "$BUILD/fuzz-summary.txt"
for t in "${TARGETS[@]}"; do
    bin=$BUILD/fuzz/${t}_fuzz
    [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 1; }
    mkdir -p "$BUILD/corpus/$t"
    log=$BUILD/fuzz-$t.log
    echo "fuzz.sh: $t for ${SECS}s (max_len ${MAXLEN[$t]}), log $log"
    rc=0
    # -close_fd_mask=2: the targets' own stderr (duct's error log of every
    # bad frame) is discarded; libFuzzer's and the sanitizers' reports are not.
    "$bin" -max_total_time="$SECS" -max_len="${MAXLEN[$t]}" -timeout=25 -rss_limit_mb=2560 \
        -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
        "$BUILD/corpus/$t" "$BUILD/seeds/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 </dev/null || rc=$?
    rmdir "$TMPDIR"/duct-fuzz-export.* 2>/dev/null || true
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$rc" = 0 ]; then
        res=ok
    else
        res="FAILED (exit $rc)"
        failed+=("$t")
        echo "fuzz.sh: $t FAILED; its report:" >&2
        grep -E -A40 'ERROR:|runtime error|FUZZ CONTRACT|==[0-9]+==|Test unit written|SUMMARY' "$log" | head -80 >&2 || tail -40 "$log" >&2
    fi
    printf '%-8s %12s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res" | tee -a "$BUILD/fuzz-summary.txt"
done
echo "fuzz.sh: summary ($BUILD/fuzz-summary.txt):"
cat "$BUILD/fuzz-summary.txt"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
    exit 1
fi
