#!/bin/bash
# faults_more.sh — the cases of it.faults (same harness, faults_lib.bash;
# same assertions: both ducts end, no hang, no mount left, what fsync and
# close reported written is on the exporting disk) that it does not make,
# so each test stays near a minute:
#   - a stall in the B->A direction (faults.sh stalls A->B);
#   - each header field flipped in the direction faults.sh does not flip it
#     (size a2b, type b2a, tag a2b), with a message naming the field;
#   - a cut at 16 MiB and a payload flip at 24 MiB into the stream, deep in
#     the big transfers (the writes, 24 MiB each way, and the 2 x 16 MiB
#     reads): well past the first frames, where buffers are full and every
#     queue is busy.
source "$(dirname "$0")/lib.bash"
it_init faults_more
need_fuse
source "$(dirname "$0")/faults_lib.bash"
faults_setup

run stall_b2a b2a:stall:15000000; ends_by_itself stall_b2a
run cut16 b2a:cut:16777216; ends_by_itself cut16
# a byte of the stream at 24 MiB: inside a Twrite or Rread payload (the
# frames there are almost all 1 MiB ones), so as with faults.sh's payload
# case nothing can tell, and one fsync'd file may carry the flip; should it
# land on a header instead, the channel ends and the case still asserts a
# clean end.
run payload24 a2b:flip:25165824
# the size's low byte, +-1: the frame is still within every limit, but its
# fields no longer fit it and the next header is read from the wrong place:
# the receiver may then wait inside a bogus frame, and --timeout ends that.
run size_a2b a2b:flip:f300+0:xor=0x01
# b reads what a sent: it says the frame was bad (too short for its fields,
# bytes left over, or a size beyond every limit once framing is lost).
grep -qiE "bad frame|malformed reply|frame of [0-9]+ bytes|inside a frame" "$T/size_a2b.b.log" && ok "size_a2b: the receiver names the bad frame" || bad "size_a2b: no message about the frame"
run type_b2a b2a:flip:f250+4:xor=0x7f
grep -qiE "type|unknown|not 9P|answered with" "$T/type_b2a.a.log" "$T/type_b2a.b.log" && ok "type_b2a: a message names the bad type" || bad "type_b2a: no message about the type"
run tag_a2b a2b:flip:t118.30+5:xor=0x55
grep -qiE "tag" "$T/tag_a2b.a.log" "$T/tag_a2b.b.log" && ok "tag_a2b: a message names the tag" || bad "tag_a2b: no message about the tag"
it_finish
