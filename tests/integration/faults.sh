#!/bin/bash
# faults.sh — issue 11 "a cut, stalled or corrupted channel": two ducts,
# both mounting each other (`duct EXPORT MOUNTPOINT` at both ends), joined
# by build/duct-relay with a fault injected (bench/fault.h), while both
# directions are busy at once: a writer of numbered files (each logged only
# after dd conv=fsync and close succeeded), a reader of a 16 MiB file and
# an `ls -lR` of 1000 entries, on each mount. For each fault:
#   - both ducts exit within a bound, with status 1 (never a signal), and
#     both mounts are gone from /proc/mounts; no traffic process hangs;
#   - every file the writer logged as fsync'd is on the exporting disk,
#     byte-identical;
#   - a corrupted frame header ends the channel with a message on stderr
#     naming what was wrong.
# A flipped byte inside a Twrite/Rread payload cannot be detected: 9P has no
# checksum. There the test checks only no crash, no hang, clean teardown.
source "$(dirname "$0")/lib.bash"
it_init faults
need_fuse
source "$(dirname "$0")/faults_lib.bash"
faults_setup

# a cut in the middle of a big write/read, each way
run cut_a2b a2b:cut:20000000; ends_by_itself cut_a2b
# (the 12th Rread: reads are 1 MiB each since the 4 MiB read-ahead window,
# readahead.h, so two 16 MiB reads carry 32 of them, not 256)
run cut_b2a b2a:cut:t117.12+mid; ends_by_itself cut_b2a
# a hung network: the mounts' --timeout gives up
run stall_a2b a2b:stall:15000000; ends_by_itself stall_a2b
# a flipped byte in the middle of a big Twrite or Rread payload: 9P has no
# checksum, nothing can tell; only no crash, no hang, a clean teardown.
run payload a2b:flip:t118.5+mid
# a corrupted header: size (the channel cannot be framed any more: it
# ends), type and tag (a message that is still framed: the receiver says
# what was wrong, answers with an error where 9P has one, and carries on;
# the request it broke fails alone after --timeout)
run size b2a:flip:f200+3:xor=0x40; ends_by_itself size
grep -qiE "size|frame|too (big|large)" "$T/size.a.log" "$T/size.b.log" && ok "size flip: a message names the bad size" || bad "size flip: no message about the size"
run type a2b:flip:f250+4:xor=0x7f
grep -qiE "type|unknown|not 9P" "$T/type.a.log" "$T/type.b.log" && ok "type flip: a message names the bad type" || bad "type flip: no message about the type"
run tag b2a:flip:t117.30+5:xor=0x55
grep -qiE "tag" "$T/tag.a.log" "$T/tag.b.log" && ok "tag flip: a message names the tag" || bad "tag flip: no message about the tag"
it_finish
