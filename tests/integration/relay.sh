#!/bin/bash
# relay.sh — the benchmark's link model, build/duct-relay: it carries bytes
# unchanged both ways at once, a configured round trip makes an echo take at
# least that long, a rate limit makes a transfer take at least size/rate,
# and it ends when both commands end. Lower bounds only: never a speed check.
source "$(dirname "$0")/lib.bash"
it_init relay
RELAY=$DUCT_BUILD/duct-relay
[ -x "$RELAY" ] || die "no $RELAY (build first)"

# Both directions at once, 3 MiB each way, no delay: A sends its file and
# receives B's, B the same; the bytes must arrive unchanged.
head -c $((3 << 20)) /dev/urandom > "$T/a.src"
head -c $((3 << 20)) /dev/urandom > "$T/b.src"
rc=0; timeout 30 "$RELAY" -q 64 \
    "cat '$T/a.src' & exec 1>&-; cat > '$T/a.got'; wait" \
    "cat '$T/b.src' & exec 1>&-; cat > '$T/b.got'; wait" || rc=$?
expect_eq "relay exits 0 when both commands do" 0 $rc
cmp -s "$T/a.src" "$T/b.got" && ok "A to B: 3 MiB unchanged" || bad "A to B differs"
cmp -s "$T/b.src" "$T/a.got" && ok "B to A: 3 MiB unchanged" || bad "B to A differs"

# A 100 ms round trip: A writes a line, B echoes it back; A times the echo.
timeout 30 "$RELAY" -t 100 \
    "t0=\$(date +%s%N); echo ping; read x; t1=\$(date +%s%N); echo \"\$x \$(( (t1 - t0) / 1000000 ))\" > '$T/rtt'" \
    "read x; echo \$x"
read -r word ms < "$T/rtt"
expect_eq "echo came back" ping "$word"
[ "$ms" -ge 100 ] && ok "100 ms round trip: echo took $ms ms (>= 100)" || bad "echo took $ms ms, under the 100 ms round trip"

# 2 MiB at 16 Mbit/s is at least 1.05 s of serialisation, with the delay on
# top; the same bytes come out. The queue is bounded: the sender is held
# back until all but queue + pipes + a packet (64 + 128 + 4 KiB) have left,
# so its writes take at least (2048 - 196) KiB at 16 Mbit/s = 0.95 s.
head -c $((2 << 20)) /dev/urandom > "$T/r.src"
t0=$(date +%s%N)
timeout 30 "$RELAY" -t 20 -r 16 -q 64 \
    "s=\$(date +%s%N); cat '$T/r.src'; e=\$(date +%s%N); echo \$(( (e - s) / 1000000 )) > '$T/wrote'" \
    "cat > '$T/r.got'"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -ge 1048 ] && ok "2 MiB at 16 Mbit/s took $ms ms (>= 1048)" || bad "2 MiB at 16 Mbit/s took only $ms ms"
cmp -s "$T/r.src" "$T/r.got" && ok "rate-limited bytes unchanged" || bad "rate-limited bytes differ"
w=$(cat "$T/wrote")
[ "$w" -ge 900 ] && ok "bounded queue: the sender was held back $w ms (>= 900)" || bad "the sender wrote 2 MiB in $w ms: the relay buffers without bound"

# The first status that is not 0 is the relay's.
rc=0; timeout 10 "$RELAY" "exit 3" "cat > /dev/null" || rc=$?
expect_eq "relay passes on A's exit status" 3 $rc
it_finish
