#!/bin/bash
# teardown.sh — the lifecycle of issue 2 item 5, with two real ducts on pipes:
#  1. unmount one side: the peer tears down its export, the other direction
#     keeps working; unmount the second: both exit 0 within 5 s.
#  2. SIGKILL one side: the survivor exits non-zero within 5 s, leaves no
#     mount behind, and stat on its old mount point returns.
#  3. SIGTERM (to A, to B, to both): the signalled side exits 0, nothing
#     written before is lost, no mount is left, nothing hangs.
source "$(dirname "$0")/lib.bash"
it_init teardown
need_fuse
make_side_wrapper

# start_pair TAG: side A = this shell's child (pid in APID), side B = inner
# duct (pid in $T/bTAG.pid, status in $T/bTAG.rc).
start_pair() {
    local tag=$1
    A=$T/a$tag; B=$T/b$tag; MA=$T/mnt-a$tag; MB=$T/mnt-b$tag
    mkdir -p "$A" "$B" "$MA" "$MB"
    echo "A$tag" > "$A/who"; echo "B$tag" > "$B/who"
    track_mount "$MA"; track_mount "$MB"
    # no `timeout` wrapper: the signals below must reach duct itself
    "$DUCT" --exec "$T/side.sh b$tag $B $MA" "$A" "$MB" 2>>"$T/a$tag.log" &
    APID=$!; track_pid $APID
    if wait_mounted "$MA" 15 && wait_mounted "$MB" 15; then ok "$tag: both mounted"
    else die "$tag: mounts did not appear"; fi
    BPID=$(side_pid b$tag)
    [ "$BPID" != 0 ] || die "$tag: no pid for side B"
}
stat_returns() { timeout 5 stat "$1" >/dev/null 2>&1; [ $? -ne 124 ]; }

# ---- 1. unmount one side, then the other ----
start_pair 1
check "1: unmount side A's mount (mnt-b)" unmount "$MB"
check "1: mnt-b is gone from /proc/mounts" bash -c "! awk '{print \$2}' /proc/mounts | grep -qx '$MB'"
sleep 0.5
check "1: side A still running" kill -0 $APID
check "1: side B still running" kill -0 "$BPID"
# the other direction still works: B writes into A's export through mnt-a
check "1: B writes through its mount after A unmounted" timeout 10 sh -c "echo after > '$MA/after.txt'"
expect_eq "1: ... and it is on A's disk" after "$(cat "$A/after.txt" 2>&1)"
expect_eq "1: B reads through its mount" A1 "$(timeout 10 cat "$MA/who" 2>&1)"
check "1: B lists its mount" timeout 10 ls "$MA"
check "1: unmount side B's mount (mnt-a)" unmount "$MA"
wait_exit $APID 5
expect_eq "1: side A exits 0 within 5 s" 0 "$WAIT_RC"
expect_eq "1: side B exits 0 within 5 s" 0 "$(wait_file_rc "$T/b1.rc" 5)"
if any_mount_under "$T"; then bad "1: mounts left behind"; else ok "1: no mounts left"; fi

# ... and the same starting from the inner side
start_pair 1b
check "1b: unmount side B's mount first" unmount "$MA"
sleep 0.5
check "1b: A writes through its mount after B unmounted" timeout 10 sh -c "echo after > '$MB/after.txt'"
expect_eq "1b: ... and it is on B's disk" after "$(cat "$B/after.txt" 2>&1)"
check "1b: unmount side A's mount" unmount "$MB"
wait_exit $APID 5
expect_eq "1b: side A exits 0 within 5 s" 0 "$WAIT_RC"
expect_eq "1b: side B exits 0 within 5 s" 0 "$(wait_file_rc "$T/b1b.rc" 5)"

# ---- 2. SIGKILL one side ----
for victim in B A; do
    start_pair 2$victim
    timeout 10 sh -c "echo data > '$MB/x'" || bad "2$victim: write before kill"
    if [ $victim = B ]; then
        kill -KILL "$BPID"
        SURV="side A"; SURVMNT=$MB
        wait_exit $APID 5
        rc=$WAIT_RC
    else
        # A is the parent of B's shell: killing it closes B's channel
        kill -KILL $APID
        wait $APID 2>/dev/null || true
        SURV="side B"; SURVMNT=$MA
        rc=$(wait_file_rc "$T/b2A.rc" 5)
    fi
    if [ "$rc" != timeout ] && [ "$rc" != 0 ]; then ok "2$victim: $SURV exits non-zero ($rc) within 5 s"
    else bad "2$victim: $SURV after SIGKILL of the peer: $rc (want non-zero within 5 s)"; fi
    # the killed side's FUSE mount is left for the kernel to abort; the
    # survivor's own mount must be gone
    if wait_unmounted "$SURVMNT" 2; then ok "2$victim: $SURV left no mount behind"
    else bad "2$victim: $SURV's mount $SURVMNT still in /proc/mounts"; fi
    if stat_returns "$SURVMNT"; then ok "2$victim: stat on the survivor's old mount point returns"
    else bad "2$victim: stat on $SURVMNT hangs"; fi
    # clean the victim's stale mount (its FUSE server is dead)
    for m in "$MA" "$MB"; do is_mounted "$m" && { fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"; }; done
    if stat_returns "$MA" && stat_returns "$MB"; then ok "2$victim: no stat hangs after cleanup"
    else bad "2$victim: stat hangs after cleanup"; fi
done

# ---- 3. SIGTERM ----
# The side that gets SIGTERM unmounts its mount, then ends the channel and
# exits 0. Its peer then loses the channel while its own mount is in use, so
# it detaches that mount and exits (status 1 per uplink.h; not checked here
# beyond "exits, within 5 s, not by a signal"). Either way: nothing written
# before is lost, no mount is left, nothing hangs.
for target in A B both; do
    start_pair 3$target
    timeout 30 dd if=/dev/urandom of="$MB/data" bs=1M count=8 status=none || bad "3$target: write A->B"
    timeout 30 dd if=/dev/urandom of="$MA/data" bs=1M count=8 status=none || bad "3$target: write B->A"
    sumB=$(timeout 30 sha256sum < "$MB/data" | cut -d' ' -f1)
    sumA=$(timeout 30 sha256sum < "$MA/data" | cut -d' ' -f1)
    case $target in
    A) kill -TERM $APID ;;
    B) kill -TERM "$BPID" ;;
    both) kill -TERM $APID "$BPID" ;;
    esac
    wait_exit $APID 5
    rcA=$WAIT_RC
    rcB=$(wait_file_rc "$T/b3$target.rc" 5)
    log "3$target: exit statuses A=$rcA B=$rcB"
    if [ $target = A ] || [ $target = both ]; then expect_eq "3$target: side A exits 0 after SIGTERM" 0 "$rcA"; fi
    if [ $target = B ] || [ $target = both ]; then expect_eq "3$target: side B exits 0 after SIGTERM" 0 "$rcB"; fi
    case "$rcA" in timeout|12[4-9]|13[0-9]|14[0-3]) bad "3$target: side A did not exit cleanly within 5 s ($rcA)";; *) ok "3$target: side A exited ($rcA)";; esac
    case "$rcB" in timeout|12[4-9]|13[0-9]|14[0-3]) bad "3$target: side B did not exit cleanly within 5 s ($rcB)";; *) ok "3$target: side B exited ($rcB)";; esac
    expect_eq "3$target: data written A->B is on B's disk" "$sumB" "$(sha256sum < "$B/data" | cut -d' ' -f1)"
    expect_eq "3$target: data written B->A is on A's disk" "$sumA" "$(sha256sum < "$A/data" | cut -d' ' -f1)"
    check "3$target: mnt-a gone" wait_unmounted "$MA" 2
    check "3$target: mnt-b gone" wait_unmounted "$MB" 2
    if stat_returns "$MA" && stat_returns "$MB"; then ok "3$target: stat on both mount points returns"
    else bad "3$target: stat hangs"; fi
done

it_finish
