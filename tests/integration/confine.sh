#!/bin/bash
# confine.sh — the export's confinement and robustness on real mounts
# (issue 9):
#  1. item 14: each side exports a directory that holds its own mount point
#     (`duct ~ ~/peer` on both ends): peer/peer/... fails at once with an
#     error instead of hanging, other names are served, both exit cleanly;
#  2. item 12: two appenders on one file at once, one through the mount and
#     one on the exporting disk, 20,000 lines each of varying length (many
#     crossing 4 KiB pages): every line lands whole.
source "$(dirname "$0")/lib.bash"
it_init confine
need_fuse
need_cmd python3
make_side_wrapper

# ---- 1. exports that hold their own mount points ----
A=$T/a; B=$T/b
mkdir -p "$A/peer" "$B/peer"
echo "A's fa" > "$A/fa"; echo "B's fb" > "$B/fb"
track_mount "$A/peer"; track_mount "$B/peer"
log "starting: duct --exec 'duct $B $B/peer' $A $A/peer"
timeout 300 "$DUCT" --exec "$T/side.sh b $B $B/peer" "$A" "$A/peer" 2>>"$T/a.log" &
APID=$!; track_pid $APID
if wait_mounted "$A/peer" 15 && wait_mounted "$B/peer" 15; then ok "loop: both sides mounted"
else die "loop: mounts did not appear (a.log: $(tail -3 "$T/a.log" 2>/dev/null); b.log: $(tail -3 "$T/b.log" 2>/dev/null))"; fi
expect_eq "loop: A reads B's file" "B's fb" "$(timeout 10 cat "$A/peer/fb" 2>&1)"
expect_eq "loop: B reads A's file" "A's fa" "$(timeout 10 cat "$B/peer/fa" 2>&1)"

# A's peer/peer is B's own mount point, seen through B's export: refused.
# The command runs in the background and is never waited for past 10 s: a
# process stuck in the loop sits in D state, deaf to SIGKILL, until the
# cleanup kills the ducts (which aborts their FUSE connections).
loop_fails() {  # WHAT COMMAND...
    local what=$1 pid i rc=0 out=$T/loop.out; shift
    "$@" > "$out" 2>&1 & pid=$!
    for ((i = 0; i < 100; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then bad "$what hung"; track_pid $pid; return 0; fi
    wait $pid || rc=$?
    if [ $rc -ne 0 ]; then ok "$what fails at once ($(head -c 200 "$out"))"
    else bad "$what succeeded: $(head -c 200 "$out")"; fi
}
loop_fails "loop: A: cat peer/peer/fa" cat "$A/peer/peer/fa"
loop_fails "loop: A: ls peer/peer" ls "$A/peer/peer"
loop_fails "loop: B: cat peer/peer/fb" cat "$B/peer/peer/fb"
loop_fails "loop: B: stat peer/peer/peer" stat "$B/peer/peer/peer"
expect_eq "loop: A's export logged the loop once" 1 "$(grep -c 'walked into our own mount' "$T/a.log")"
expect_eq "loop: B's export logged the loop once" 1 "$(grep -c 'walked into our own mount' "$T/b.log")"
# Both still serve everything else, both ways.
expect_eq "loop: A still reads B's file" "B's fb" "$(timeout 10 cat "$A/peer/fb" 2>&1)"
expect_eq "loop: B still reads A's file" "A's fa" "$(timeout 10 cat "$B/peer/fa" 2>&1)"
check "loop: A writes through the mount" timeout 10 sh -c "echo new > '$A/peer/new'"
expect_eq "loop: ...and it is on B's disk" new "$(cat "$B/new" 2>&1)"
expect_eq "loop: ls of A's mount lists B's names" "fb new peer" "$(timeout 10 ls "$A/peer" | tr '\n' ' ' | sed 's/ $//')"
check "loop: unmount A's mount" unmount "$A/peer"
check "loop: unmount B's mount" unmount "$B/peer"
wait_exit $APID 15
expect_eq "loop: side A exits 0" 0 "$WAIT_RC"
expect_eq "loop: side B exits 0" 0 "$(wait_file_rc "$T/b.rc" 15)"

# ---- 2. concurrent appends, one through the mount, one local ----
E=$T/e; M=$T/m
mkdir -p "$E" "$M"
: > "$E/log"
track_mount "$M"
timeout 300 "$DUCT" --exec "$T/side.sh e $E -" - "$M" 2>>"$T/m.log" &
MPID=$!; track_pid $MPID
wait_mounted "$M" 15 || die "appends: the mount did not appear ($(tail -3 "$T/m.log" 2>/dev/null))"
ok "appends: mounted"
N=${DUCT_TEST_APPENDS:-20000}
cat > "$T/appender.py" <<'EOF'
# appender.py FILE TAG N [MAXLEN [aligned]]: N lines, each one os.write()
# on an O_APPEND fd. Line i: "TAG i LEN payload\n", the payload LEN copies of
# one letter; most lines are short, one in five is 3 KiB..MAXLEN (default
# 9000) so that many cross a 4 KiB page. "aligned" writes from a
# page-aligned buffer (an mmap), so a line of up to 4 pages is one request.
import mmap, os, random, sys
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
top = int(sys.argv[4]) if len(sys.argv) > 4 else 9000
buf = mmap.mmap(-1, 1 << 16) if len(sys.argv) > 5 and sys.argv[5] == "aligned" else None
rnd = random.Random(tag)
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
for i in range(n):
    ln = rnd.randint(3000, top) if rnd.random() < 0.2 else rnd.randint(1, 200)
    line = ("%s %d %d %s\n" % (tag, i, ln, chr(97 + i % 26) * ln)).encode()
    if buf is not None:
        buf[:len(line)] = line
        line = memoryview(buf)[:len(line)]
    if os.write(fd, line) != len(line):
        sys.exit("short write")
os.close(fd)
EOF
cat > "$T/verify.py" <<'EOF'
# verify.py FILE N: every line whole, each writer's N lines all there, in order.
import sys
path, n = sys.argv[1], int(sys.argv[2])
count = {"mount": 0, "local": 0}
last = {"mount": -1, "local": -1}
bad = 0
samples = []
with open(path, "rb") as f:
    for raw in f:
        parts = raw.rstrip(b"\n").split(b" ")
        ok = raw.endswith(b"\n") and len(parts) == 4 and parts[0].decode(errors="replace") in count
        if ok:
            try:
                tag, i, ln, payload = parts[0].decode(), int(parts[1]), int(parts[2]), parts[3]
                ok = i > last[tag] and len(payload) == ln and payload == bytes([97 + i % 26]) * ln
            except ValueError:
                ok = False
        if not ok:
            bad += 1
            if bad <= 2: samples.append("torn line: %r..." % raw[:60])
            continue
        count[tag] += 1
        last[tag] = i
print("torn %d; whole lines: mount %d, local %d" % (bad, count["mount"], count["local"]))
print("\n".join(samples))
sys.exit(0 if bad == 0 and count["mount"] == n and count["local"] == n else 1)
EOF
log "appends: $N lines each, through $M and on $E"
rc_m=0; rc_l=0
timeout 240 python3 "$T/appender.py" "$M/log" mount "$N" & P1=$!
timeout 240 python3 "$T/appender.py" "$E/log" local "$N" & P2=$!
wait $P1 || rc_m=$?
wait $P2 || rc_l=$?
expect_eq "appends: the writer through the mount finished" 0 "$rc_m"
expect_eq "appends: the local writer finished" 0 "$rc_l"
check "appends: every line whole, $N from each writer (on disk)" python3 "$T/verify.py" "$E/log" "$N"
check "appends: the same read through the mount" timeout 60 python3 "$T/verify.py" "$M/log" "$N"
check "appends: unmount" unmount "$M"
wait_exit $MPID 15
expect_eq "appends: duct exits 0" 0 "$WAIT_RC"
expect_eq "appends: exporting duct exits 0" 0 "$(wait_file_rc "$T/e.rc" 15)"

# ---- 3. the same with a small msize: an append up to one Twrite's worth
# (16360 bytes here) is one Twrite, not cut at the 12 KiB page boundary
# below it; lines up to 16,000 bytes from a page-aligned buffer. (The
# kernel puts at most ceil(max_write / 4096) pages in one request, so from
# an unaligned buffer only max_write - 4096 bytes are sure to go whole;
# beyond one Twrite nothing can be atomic over 9P.)
: > "$E/log2"
timeout 300 "$DUCT" --msize 16384 --exec "$T/side.sh e2 $E -" - "$M" 2>>"$T/m2.log" &
MPID=$!; track_pid $MPID
wait_mounted "$M" 15 || die "small msize: the mount did not appear ($(tail -3 "$T/m2.log" 2>/dev/null))"
N2=${DUCT_TEST_APPENDS_SMALL:-5000}
rc_m=0; rc_l=0
timeout 240 python3 "$T/appender.py" "$M/log2" mount "$N2" 16000 aligned & P1=$!
timeout 240 python3 "$T/appender.py" "$E/log2" local "$N2" 16000 aligned & P2=$!
wait $P1 || rc_m=$?
wait $P2 || rc_l=$?
expect_eq "small msize: both writers finished" "0 0" "$rc_m $rc_l"
check "small msize: every line whole, $N2 from each writer" python3 "$T/verify.py" "$E/log2" "$N2"
check "small msize: unmount" unmount "$M"
wait_exit $MPID 15
expect_eq "small msize: duct exits 0" 0 "$WAIT_RC"
expect_eq "small msize: exporting duct exits 0" 0 "$(wait_file_rc "$T/e2.rc" 15)"

it_finish
