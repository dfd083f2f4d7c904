#!/bin/bash
# readahead.sh — issue 10 item 6: a cold sequential read through the mount
# goes as 1 MiB read-ahead requests, each sent as four 256 KiB Treads in
# flight together (bulk_io.h), not as the kernel's default 128 KiB window
# (eight Treads per MiB, each waited for). The mount sets its bdi's
# read_ahead_kb at the first open (readahead.h).
# Counted in the mounting duct's -D trace; and the data read is the data.
source "$(dirname "$0")/lib.bash"
it_init readahead
need_fuse
[ "$(id -u)" = 0 ] || skip "only root may set a bdi's read_ahead_kb"
make_side_wrapper

MIB=16
E=$T/exp; M=$T/mnt
mkdir -p "$E" "$M"; track_mount "$M"
head -c $((MIB << 20)) /dev/urandom > "$E/big"

timeout 120 "$DUCT" -D --exec "$T/side.sh exp $E -" - "$M" 2> "$T/mnt.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"

dev=$(awk -v m="$M" '$5 == m {print $3}' /proc/self/mountinfo | tail -1)
[ -n "$dev" ] || die "no mountinfo line for $M"
sync; echo 3 > /proc/sys/vm/drop_caches
m=$(wc -l < "$T/mnt.log")
sum=$(timeout 60 dd if="$M/big" bs=1M status=none | md5sum | cut -d' ' -f1)
expect_eq "the data read is the data" "$(md5sum < "$E/big" | cut -d' ' -f1)" "$sum"
ra=$(cat "/sys/class/bdi/$dev/read_ahead_kb")
log "read_ahead_kb of $dev: $ra"
check "the mount's read-ahead window is at least 1 MiB (was the kernel's 128 KiB)" [ "$ra" -ge 1024 ]
sleep 0.2
treads=$(tail -n +"$((m + 1))" "$T/mnt.log" | grep -c -- '-> Tread')
log "cold read of $MIB MiB: $treads Treads"
big=$(tail -n +"$((m + 1))" "$T/mnt.log" | grep -- '-> Tread' | awk '{for (i = 1; i < NF; i++) if ($i == "count" && $(i+1) > 262144) n++} END {print n + 0}')
expect_eq "no Tread asks more than 256 KiB" 0 "$big"
# four 256 KiB Treads per MiB, plus a few for the first, smaller window
# and the end of file; the kernel's 128 KiB window took 8 x MIB.
check "cold read of $MIB MiB: at most $((MIB * 5)) Treads (got $treads)" [ "$treads" -le $((MIB * 5)) ]
check "cold read of $MIB MiB: at least $((MIB * 4)) Treads (got $treads)" [ "$treads" -ge $((MIB * 4)) ]
overlap=$(tail -n +"$((m + 1))" "$T/mnt.log" | grep -E -- '-> Tread|<- Rread' |
    awk '/-> Tread/ {out++; if (out > max) max = out} /<- Rread/ {out--} END {print max + 0}')
log "most Treads outstanding at once: $overlap"
check "Treads in flight together ($overlap at most)" [ "$overlap" -ge 4 ]

# DUCT_READAHEAD_KB=0 leaves the kernel's window: the knob works, and it
# shows what this test would count without the change.
unmount "$M"; wait_exit $DP 20
DUCT_READAHEAD_KB=0 timeout 120 "$DUCT" -D --exec "$T/side.sh exp $E -" - "$M" 2> "$T/mnt0.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no second mount"
sync; echo 3 > /proc/sys/vm/drop_caches
timeout 60 dd if="$M/big" of=/dev/null bs=1M status=none
sleep 0.2
t0=$(grep -c -- '-> Tread' "$T/mnt0.log")
log "cold read of $MIB MiB with the kernel's window: $t0 Treads"
check "with DUCT_READAHEAD_KB=0 the kernel's window stays (more Treads: $t0 > $treads)" [ "$t0" -gt "$treads" ]
unmount "$M"; wait_exit $DP 20
it_finish
