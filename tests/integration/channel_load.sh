#!/bin/bash
# channel_load.sh — issue 9 item 2: two ducts, joined by two pipes (FIFOs),
# each mounting the other's export, with a small channel writer budget
# (DUCT_WRITER_BUDGET=256K), and both directions saturated at once: from
# each side, parallel big writes and big reads through its mount plus
# `ls -lR` and stat loops. Before the fix each side's reader could wait for
# its own full writer (the export replied under a lock the reader needs)
# while each writer waited for the other side to read: both hung. Every
# transfer must finish within the bound, with its contents intact, and
# both ducts must then unmount and exit cleanly.
source "$(dirname "$0")/lib.bash"
it_init channel_load
need_fuse
need_cmd sha256sum

MB=${DUCT_TEST_LOADMB:-64}
export DUCT_WRITER_BUDGET=256K

mkdir -p "$T/a" "$T/b" "$T/ma" "$T/mb"
head -c $((MB * 1048576)) /dev/urandom > "$T/src"
SUM=$(sha256sum < "$T/src" | cut -d' ' -f1)
for d in a b; do cp "$T/src" "$T/$d/r1"; cp "$T/src" "$T/$d/r2"; done
# Something for ls -lR to walk on both sides.
for d in a b; do mkdir -p "$T/$d/tree"; for i in $(seq 40); do mkdir -p "$T/$d/tree/d$i"; touch "$T/$d/tree/d$i/f"{1..10}; done; done

# Two pipes: A reads ba and writes ab, B the other way round. A opens its
# input read-write so neither open(2) waits for the other side's.
mkfifo "$T/ab" "$T/ba"
"$DUCT" "$T/a" "$T/mb" <>"$T/ba" >"$T/ab" 2>>"$T/a.log" &
PA=$!; track_pid $PA
"$DUCT" "$T/b" "$T/ma" <"$T/ab" >"$T/ba" 2>>"$T/b.log" &
PB=$!; track_pid $PB
track_mount "$T/ma"; track_mount "$T/mb"
wait_mounted "$T/mb" 15 || die "A did not mount B's export"
wait_mounted "$T/ma" 15 || die "B did not mount A's export"
ok "both ducts mounted over two pipes"

pids=() loops=()
for side in "a mb" "b ma"; do
    set -- $side
    who=$1 M=$T/$2
    for i in 1 2; do
        timeout 120 dd if="$T/src" of="$M/w-$who-$i" bs=1M status=none 2>>"$T/dd.log" &
        pids+=($!)
        timeout 120 dd if="$M/r$i" of="$T/got-$who-$i" bs=1M status=none 2>>"$T/dd.log" &
        pids+=($!)
    done
    (while [ ! -e "$T/stop" ]; do timeout 30 ls -lR "$M/tree" >/dev/null || { echo "ls -lR $M failed" >>"$T/meta.err"; break; }; done) &
    loops+=($!)
    (while [ ! -e "$T/stop" ]; do for i in $(seq 40); do timeout 30 stat "$M/tree/d$i/f1" >/dev/null || { echo "stat $M failed" >>"$T/meta.err"; exit; }; done; done) &
    loops+=($!)
done
log "8 transfers of $MB MiB and 4 metadata loops running"
# The transfers first, then stop the loops.
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
touch "$T/stop"
for p in "${loops[@]}"; do wait "$p" || true; done
expect_eq "every transfer finished within 120 s without error" 0 "$fails"
expect_eq "metadata loops never failed" "" "$(cat "$T/meta.err" 2>/dev/null)"

for who in a b; do
    peer=$([ $who = a ] && echo b || echo a)
    for i in 1 2; do
        expect_eq "$who: write $i arrived intact on the peer's disk" "$SUM" "$(sha256sum < "$T/$peer/w-$who-$i" | cut -d' ' -f1)"
        expect_eq "$who: read $i intact" "$SUM" "$(sha256sum < "$T/got-$who-$i" | cut -d' ' -f1)"
    done
done

check "A's mount still answers" timeout 10 stat "$T/mb/r1"
check "B's mount still answers" timeout 10 stat "$T/ma/r1"
unmount "$T/mb" || bad "unmount A's mount"
unmount "$T/ma" || bad "unmount B's mount"
wait_exit $PA 15; expect_eq "A exits 0 after both unmounts" 0 "$WAIT_RC"
wait_exit $PB 15; expect_eq "B exits 0 after both unmounts" 0 "$WAIT_RC"
it_finish
