#!/bin/bash
# peer_stall.sh — issue 9 items 6 and 2: an export-only duct on two pipes
# (`ssh host duct /srv -` when the network dies) whose peer sends
# Tversion, Tattach, Twalk, Tlopen and many 1 MiB Treads of a big file,
# then stops reading its replies while keeping the pipes open. Before the
# fix duct's writer sat in write(2) on the full pipe, where shutdown(2)
# does nothing: SIGTERM and EOF on its input left it running for good.
#   1. SIGTERM ends it within 2 s, non-zero, saying the peer reads nothing;
#   2. EOF on its input ends it within 5 s, non-zero;
#   3. left alone (small writer budget, --timeout 2) it ends by itself,
#      saying the peer does not read its replies, instead of queueing them.
# The peer is a small python3 9P client (below).
source "$(dirname "$0")/lib.bash"
it_init peer_stall
need_cmd python3

mkdir -p "$T/x"
head -c $((8 * 1048576)) /dev/urandom > "$T/x/big"

cat > "$T/peer.py" <<'EOF'
# peer.py MODE LOG PIDFILE DUCT ARGS...: runs duct on two pipes, speaks 9P2000.L
# to it, stops reading, then (MODE) sends SIGTERM, closes duct's input, or
# waits; prints "rc SECONDS" once duct has exited (or "rc timeout").
import os, signal, struct, subprocess, sys, time
mode, log, pidfile, argv = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(log, "ab"), bufsize=0)
open(pidfile, "w").write(str(p.pid))
win, rout = p.stdin, p.stdout.fileno()
def s(x): b = x.encode(); return struct.pack("<H", len(b)) + b
def send(typ, tag, body): win.write(struct.pack("<IBH", 7 + len(body), typ, tag) + body)
buf = b""
def reply():
    global buf
    while True:
        if len(buf) >= 4:
            n = struct.unpack("<I", buf[:4])[0]
            if len(buf) >= n:
                f, buf = buf[:n], buf[n:]
                return f[4]
        c = os.read(rout, 65536)
        if not c: sys.exit("duct ended early")
        buf += c
send(100, 0xFFFF, struct.pack("<I", 1 << 20 | 4096) + s("9P2000.L"))
assert reply() == 101
send(104, 1, struct.pack("<II", 0, 0xFFFFFFFF) + s("root") + s("") + struct.pack("<I", 0))
assert reply() == 105
send(110, 1, struct.pack("<IIH", 0, 1, 1) + s("big"))
assert reply() == 111
send(12, 1, struct.pack("<II", 1, 0))
assert reply() == 13
# 64 reads of 1 MiB, never read back: 64 MiB of replies for a 64 KiB pipe.
for t in range(2, 66):
    send(116, t, struct.pack("<IQI", 1, (t % 8) << 20, 1 << 20))
time.sleep(1.5)  # duct's writer is now stuck on the full pipe
t0 = time.time()
if mode == "term":
    p.send_signal(signal.SIGTERM)
elif mode == "eof":
    win.close()
limit = 2 if mode == "term" else 5 if mode == "eof" else 10
try:
    rc = p.wait(timeout=limit + 0.5)
    print(rc, "%.1f" % (time.time() - t0))
except subprocess.TimeoutExpired:
    print("timeout", limit)
EOF

# run MODE ENV...: the duct export-only, its peer in MODE; sets RC and SECS.
run() {
    local mode=$1 out; shift
    out=$(env "$@" python3 "$T/peer.py" "$mode" "$T/$mode.log" "$T/$mode.pid" "$DUCT" --timeout 2 "$T/x" - 2>>"$T/py.log") || true
    RC=${out%% *} SECS=${out#* }
    log "$mode: $out"
}

run term
expect_eq "SIGTERM: duct exits within 2 s, non-zero" 1 "$RC"
check "SIGTERM: it says the peer reads nothing" grep -q "peer has read nothing" "$T/term.log"

run eof
expect_eq "EOF on its input: duct exits within 5 s, non-zero" 1 "$RC"
check "EOF: it says the channel closed while the export was in use" grep -q "closed by the peer while our export was in use" "$T/eof.log"

run wait DUCT_WRITER_BUDGET=256K
expect_eq "left alone: duct ends the channel by itself, non-zero" 1 "$RC"
check "left alone: it says the peer does not read its replies" grep -q "peer does not read its replies: .* MiB unsent for [0-9]* s" "$T/wait.log"
it_finish
