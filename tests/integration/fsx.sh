#!/bin/bash
# fsx.sh — randomized file operations (tests/conformance/fsx.cc, fixed seeds)
# through BOTH directions of one bidirectional duct at once: side A exports
# A/ and mounts B's export at mntB, side B exports B/ and mounts A's at mntA,
# over one pipe pair. Two fsx processes write through each mount at the same
# time (so both exports serve while both mounts wait on replies on the same
# channel); each compares every read and size with its model, and at the end
# the file on the exporting side's disk. DUCT_FSX_OPS=N for a longer run
# (default 3000 operations per file, a few seconds); DUCT_FSX_SEED shifts seeds.
source "$(dirname "$0")/lib.bash"
it_init fsx
need_fuse
FSX=$DUCT_BUILD/tests/fsx
[ -x "$FSX" ] || die "no $FSX (ninja -C build fsx)"
OPS=${DUCT_FSX_OPS:-3000}
SEED=${DUCT_FSX_SEED:-0}
make_side_wrapper

mkdir -p "$T/A" "$T/B" "$T/mntA" "$T/mntB"
"$DUCT" --exec "$T/side.sh B $T/B $T/mntA" "$T/A" "$T/mntB" 2>"$T/A.log" &
track_pid $!
track_mount "$T/mntA"
track_mount "$T/mntB"
wait_mounted "$T/mntA" || die "mount of A's export did not appear"
wait_mounted "$T/mntB" || die "mount of B's export did not appear"

pids=(); names=()
run() {  # run NAME SEED DIR BACKING
    timeout 240 "$FSX" -n "$OPS" -s "$2" --backing "$4" "$3" "$1" > "$T/$1.out" 2>&1 &
    pids+=($!); names+=("$1")
}
run a-to-B-1 $((SEED + 1)) "$T/mntB" "$T/B"
run a-to-B-2 $((SEED + 2)) "$T/mntB" "$T/B"
run b-to-A-1 $((SEED + 3)) "$T/mntA" "$T/A"
run b-to-A-2 $((SEED + 4)) "$T/mntA" "$T/A"
for i in "${!pids[@]}"; do
    rc=0; wait "${pids[$i]}" || rc=$?
    if [ $rc -eq 0 ]; then ok "$(cat "$T/${names[$i]}.out")"
    else bad "fsx ${names[$i]} (rc=$rc): $(tail -40 "$T/${names[$i]}.out")"; fi
done
# the same seed must give the same result on a local disk (the model is right)
mkdir "$T/local"
check "fsx on a local dir (control)" "$FSX" -n "$OPS" -s $((SEED + 1)) "$T/local" ctl
check "unmount mntA" unmount "$T/mntA"
check "unmount mntB" unmount "$T/mntB"
it_finish
