#!/bin/bash
# relay_faults.sh — the fault injector of build/duct-relay (bench/fault.h),
# before the fault tests rely on it: on a stream of 9P-framed bytes it flips
# exactly the byte asked for (a stream offset, byte K of frame N, the middle
# of the N-th frame of a type, every K bytes), a cut delivers exactly the
# bytes before it and closes both directions (the sender's writes fail, the
# other way sees EOF), and a stall delivers the bytes before it and then
# nothing, without closing, until the commands end. Bad specs are refused.
source "$(dirname "$0")/lib.bash"
it_init relay_faults
need_cmd python3
RELAY=$DUCT_BUILD/duct-relay
[ -x "$RELAY" ] || die "no $RELAY (build first)"

# A stream of frames: Tversion-sized (19 bytes, type 100), then big
# Twrite-like frames (type 118, 300001 bytes) and small Rread-like ones (type
# 117, 11 bytes) alternating, 8 of each; 9P's size[4] type[1] tag[2] header.
cat > "$T/gen.py" <<'PY'
import struct, sys, random
r = random.Random(7)
def frame(t, tag, n):
    return struct.pack("<IBH", n, t, tag) + bytes(r.getrandbits(8) for _ in range(n - 7))
out = frame(100, 0xFFFF, 19)
for i in range(8):
    out += frame(118, i, 300001) + frame(117, i, 11)
sys.stdout.buffer.write(out)
PY
python3 "$T/gen.py" > "$T/stream"
size=$(stat -c %s "$T/stream")
# frame offsets: f0 at 0 (19 bytes); f(2i+1) type 118 at 19 + i*300012; f(2i+2) type 117 after it
off118() { echo $(( 19 + $1 * 300012 )); }

# diffbytes A B: "offset:a:b" per differing byte (1-based offsets from cmp, printed 0-based)
diffbytes() { { cmp -l "$1" "$2" 2>/dev/null || true; } | awk '{printf "%d:%s:%s\n", $1 - 1, $2, $3}' | tr '\n' ' ' | sed 's/ $//'; }

# flip RUN SPEC...: A sends the stream, B keeps what comes.
flip() {
    local name=$1; shift
    local args=() s
    for s in "$@"; do args+=(-x "$s"); done
    rc=0; timeout 30 "$RELAY" "${args[@]}" "cat '$T/stream'" "cat > '$T/$name.got'" 2>"$T/$name.log" || rc=$?
    expect_eq "$name: relay exits 0" 0 $rc
}

flip byte a2b:flip:1000
expect_eq "flip at byte 1000 (xor 0xff): only that byte differs" "1000:$(cmp -l "$T/stream" "$T/byte.got" | awk '{print $2":"$3}')" "$(diffbytes "$T/stream" "$T/byte.got")"
b=$(od -An -tu1 -j1000 -N1 "$T/stream" | tr -d ' ')
g=$(od -An -tu1 -j1000 -N1 "$T/byte.got" | tr -d ' ')
expect_eq "flip at byte 1000: xored with 0xff" $((b ^ 255)) "$g"
check "flip logged with its offset" grep -q "a2b: flip at offset 1000 " "$T/byte.log"

flip hdr a2b:flip:f3+4:xor=0x40
o=$(( $(off118 1) + 4 ))
expect_eq "f3+4 (frame 3's type byte) xor 0x40: 118 -> 54" "$o:166:66" "$(diffbytes "$T/stream" "$T/hdr.got")"
check "header flip logged with the frame" grep -q "frame 3 (type 118, size 300001) byte 4" "$T/hdr.log"

flip size a2b:flip:f2+1
o=$(( $(off118 1) - 11 + 1 ))
expect_eq "f2+1 (second byte of frame 2's size field, a type-117 frame)" 1 "$(diffbytes "$T/stream" "$T/size.got" | wc -w)"
expect_eq "f2+1 at offset $o" "$o" "$(diffbytes "$T/stream" "$T/size.got" | cut -d: -f1)"

flip mid a2b:flip:t118.5+mid
o=$(( $(off118 5) + 150000 ))
expect_eq "t118.5+mid: the middle of the 6th type-118 frame" "$o" "$(diffbytes "$T/stream" "$T/mid.got" | cut -d: -f1)"

flip tag a2b:flip:t117.7+5:every=1
expect_eq "t117.7+5: the tag of the last type-117 frame" "$((size - 11 + 5))" "$(diffbytes "$T/stream" "$T/tag.got" | cut -d: -f1)"

flip every a2b:flip:100000:every=500000:xor=1
n=$(diffbytes "$T/stream" "$T/every.got" | wc -w)
expect_eq "every=500000 from 100000: $(( (size - 100000 + 499999) / 500000 )) bytes flipped" $(( (size - 100000 + 499999) / 500000 )) "$n"
first=$(diffbytes "$T/stream" "$T/every.got" | tr ' ' '\n' | sed -n 2p | cut -d: -f1)
expect_eq "the second flip is at 600000" 600000 "$first"

flip none b2a:flip:5
cmp -s "$T/stream" "$T/none.got" && ok "a fault the other way leaves this way unchanged" || bad "b2a fault changed a2b"

# A cut in the middle of frame 5 (a big one): B gets exactly the bytes
# before it, A's writes fail from then on (EPIPE: dd stops early), and A's
# input (the other direction) ends too.
cut_at=$(( $(off118 2) + 1234 ))
rc=0; timeout 30 "$RELAY" -x "a2b:cut:$cut_at" \
    "(cat '$T/stream' '$T/stream' '$T/stream' 2>/dev/null; echo \"writer rc \$?\" > '$T/cut.arc') & cat > /dev/null; echo eof > '$T/cut.ain'; wait" \
    "cat > '$T/cut.got'; sleep 5" 2>"$T/cut.log" || rc=$?
expect_eq "cut: B got exactly the $cut_at bytes before the cut" "$cut_at" "$(stat -c %s "$T/cut.got")"
cmp -s -n "$cut_at" "$T/stream" "$T/cut.got" && ok "cut: and they are unchanged" || bad "cut: bytes before the cut differ"
check "cut: A's writes failed (not all 3 copies sent)" grep -qv "writer rc 0" "$T/cut.arc"
expect_eq "cut: A's input ended although B still runs" eof "$(cat "$T/cut.ain" 2>/dev/null)"
check "cut logged" grep -q "a2b: cut at offset $cut_at" "$T/cut.log"
check "cut both ways logged" grep -q "connection cut both ways" "$T/cut.log"

# A cut at a frame boundary, from B to A.
rc=0; timeout 30 "$RELAY" -x "b2a:cut:f4" "cat > '$T/cutb.got'" "cat '$T/stream'; sleep 1" 2>"$T/cutb.log" || rc=$?
expect_eq "cut at f4 (b2a): A got frames 0-3 exactly" "$(( $(off118 2) - 11 ))" "$(stat -c %s "$T/cutb.got")"

# A stall in frame 3: B gets the bytes before it, then nothing and no EOF
# while A lives (B's read times out); A's writer blocks (a full pipe, as TCP
# flow control); once A's shell exits the relay drops the stalled link
# (the blocked writer gets EPIPE) and ends.
st=$(( $(off118 1) + 777 ))
rc=0; timeout 30 "$RELAY" -x "a2b:stall:$st" \
    "cat '$T/stream' & sleep 3" \
    "timeout 2 cat > '$T/stall.got'; echo \$? > '$T/stall.brc'" 2>"$T/stall.log" || rc=$?
expect_eq "stall: B got the $st bytes before it" "$st" "$(stat -c %s "$T/stall.got")"
expect_eq "stall: then no EOF (B's read timed out: 124)" 124 "$(cat "$T/stall.brc")"
expect_eq "stall: the relay ended with its commands" 0 "$rc"

# Bad specs: a clear message, exit 2.
for s in x2y:cut:1 a2b:bend:1 a2b:cut:f a2b:cut:1:every=2 a2b:flip:t300.1 a2b:flip:1:xor=0; do
    rc=0; "$RELAY" -x "$s" true true 2>"$T/bad.err" || rc=$?
    expect_eq "bad fault $s: exit 2" 2 $rc
    check "bad fault $s: says so" grep -q "bad fault '$s'" "$T/bad.err"
done
it_finish
