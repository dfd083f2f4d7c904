#!/bin/bash
# stuck_export.sh — issue 9 item 8 end to end: a syscall stuck on the
# exporting side must not make the caller on the mounting side unkillable.
# The stuck file system is a duct mount inside EXPORT whose own exporting
# duct is SIGSTOPped and whose mount waits forever (--timeout 0): it stands
# for a hung NFS server. The outer mount waits a bounded time for its
# Rflush, the outer export answers the Tflush of the stuck request within
# its own bound, and both keep serving other names meanwhile.
source "$(dirname "$0")/lib.bash"
it_init stuck_export
need_fuse

E=$T/exp; M=$T/mnt; S=$T/inner-src
mkdir -p "$E/inner" "$M" "$S"
echo inner > "$S/x"
echo plain > "$E/plain"

# The stuck-to-be file system: E/inner shows S through two ducts.
source "$(dirname "$0")/stuck_lib.bash"
inner_mount "$S" "$E/inner"

# The mount under test: M shows E (inner mount included) through two ducts.
track_mount "$M"
timeout 120 "$DUCT" --exec "$DUCT $E -" - "$M" 2> "$T/mnt.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"
expect_eq "the inner file reads through both mounts" inner "$(timeout 10 cat "$M/inner/x")"

kill -STOP "$INNER_EXP"
# A name not seen before: the exporting side's walk blocks in the inner mount.
stat "$M/inner/unseen" > /dev/null 2>&1 &
SP=$!
sleep 1.5
if kill -0 "$SP" 2>/dev/null; then ok "the stat is stuck on the exporting side"; else bad "the stat did not get stuck"; fi
kill -KILL "$SP"
start=$(date +%s%N)
reaped=0
for _ in $(seq 100); do
    kill -0 "$SP" 2>/dev/null || { reaped=1; break; }
    sleep 0.1
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $reaped = 1 ]; then ok "the SIGKILLed caller is reaped (${ms} ms)"; else bad "the SIGKILLed caller is still there after ${ms} ms"; fi
wait "$SP" 2>/dev/null || true

expect_eq "the mount still serves other names" plain "$(timeout 10 cat "$M/plain")"
check "... and makes new files" timeout 10 sh -c "echo new > '$M/new'"
expect_eq "... which land on the exporting disk" new "$(cat "$E/new")"

# Let the stuck syscall finish, then end everything in order.
kill -CONT "$INNER_EXP"
expect_eq "once unstuck, the inner file system answers again" inner "$(timeout 20 cat "$M/inner/x")"
unmount "$M" || bad "unmount of the mount under test"
wait_exit $DP 15
expect_eq "its duct exits 0" 0 "$WAIT_RC"
unmount "$E/inner" || bad "unmount of the inner mount"
wait_exit $IP 15
it_finish
