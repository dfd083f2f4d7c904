#!/bin/bash
# write_pieces.sh — issue 10 item 5, "metadata never waits behind bulk
# data": a frame being written cannot be overtaken, so on a slow link a
# 1 MiB write goes as Twrites of at most 256 KiB (bulk_io.h), sent together
# rather than one after another. Through duct-relay at 10 ms and 100 Mbit/s
# (a 1 MiB write takes ~95 ms there): the first large write goes whole (the
# mount has not timed one yet), every later one in pieces, in flight at
# once; the bytes on the exporting disk are the bytes written. On a fast
# channel (a plain pipe) writes stay whole: one Twrite per 1 MiB. An
# O_APPEND write always goes whole (appends stay atomic). Counted in the
# mounting duct's -D trace.
source "$(dirname "$0")/lib.bash"
it_init write_pieces
need_fuse
make_side_wrapper

E=$T/exp; M=$T/mnt
mkdir -p "$E" "$M"; track_mount "$M"
head -c $((4 << 20)) /dev/urandom > "$T/data"

RELAY=$DUCT_BUILD/duct-relay
[ -x "$RELAY" ] || die "no $RELAY (build first)"
timeout 120 "$RELAY" -t 10 -r 100 "exec '$DUCT' '$E' - 2>'$T/exp.log'" "exec '$DUCT' -D - '$M' 2>'$T/mnt.log'" 2> "$T/relay.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"

m=$(wc -l < "$T/mnt.log")
timeout 60 dd if="$T/data" of="$M/f" bs=1M conv=fsync status=none || bad "dd through the mount failed"
sleep 0.2
tail -n +"$((m + 1))" "$T/mnt.log" | grep -E -- '-> Twrite|<- Rwrite' > "$T/w.trace"
n=$(grep -c -- '-> Twrite' "$T/w.trace")
big=$(grep -- '-> Twrite' "$T/w.trace" | awk '{for (i = 1; i < NF; i++) if ($i == "count" && $(i+1) > 262144) n++} END {print n + 0}')
log "4 MiB in 1 MiB writes: $n Twrites, $big larger than 256 KiB"
expect_eq "only the first (untimed) write goes whole" 1 "$big"
expect_eq "4 MiB written with bs=1M on a slow link: 1 + 3 x 4 Twrites" 13 "$n"
# in flight together: at some point a second Twrite went out while an
# earlier one was unanswered
overlap=$(awk '/-> Twrite/ {out++; if (out > max) max = out} /<- Rwrite/ {out--} END {print max + 0}' "$T/w.trace")
log "most Twrites outstanding at once: $overlap"
check "the pieces of a write are in flight together ($overlap outstanding at most)" [ "$overlap" -ge 2 ]
check "the exporting disk has the bytes written" cmp "$T/data" "$E/f"

# O_APPEND: direct I/O, each write one Twrite, whole
m=$(wc -l < "$T/mnt.log")
timeout 60 dd if="$T/data" of="$M/a" bs=512k count=2 oflag=append conv=notrunc,fsync status=none || bad "append dd failed"
sleep 0.2
na=$(tail -n +"$((m + 1))" "$T/mnt.log" | grep -c -- '-> Twrite')
expect_eq "two 512 KiB appends: two Twrites, each whole" 2 "$na"
check "the appended bytes are on the exporting disk" cmp <(head -c $((1 << 20)) "$T/data") "$E/a"
unmount "$M"; wait_exit $DP 20

# a fast channel: no pieces
rm -f "$E/f"
timeout 120 "$DUCT" -D --exec "$T/side.sh exp $E -" - "$M" 2> "$T/fast.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no second mount"
timeout 60 dd if="$T/data" of="$M/f" bs=1M conv=fsync status=none || bad "dd through the fast mount failed"
sleep 0.2
nf=$(grep -c -- '-> Twrite' "$T/fast.log")
expect_eq "4 MiB written with bs=1M on a pipe: 4 whole Twrites" 4 "$nf"
check "the exporting disk has the bytes written (fast)" cmp "$T/data" "$E/f"
unmount "$M"; wait_exit $DP 20
it_finish
