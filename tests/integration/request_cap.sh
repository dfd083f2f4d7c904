#!/bin/bash
# request_cap.sh — issue 11, "requests outstanding per peer": a peer that
# keeps sending while nothing is answered cannot make the export queue
# without end. Every worker of `duct EXPORT -` is held in a walk into a
# stuck file system (a duct mount inside EXPORT whose own exporting duct is
# SIGSTOPped, as in it.stuck_export); then a raw client sends 20,000
# Tgetattr. The export takes up to src/export/limits.h's kMaxQueued (1024)
# and then stops reading the channel: the client's writes block and the
# pipe stays full. Once the stuck file system runs again, every request is
# answered: none was dropped. (9P has no "busy" answer: backpressure, not an
# error, is what a correct server does; limits.h says why.)
source "$(dirname "$0")/lib.bash"
it_init request_cap
need_fuse
need_cmd python3

E=$T/exp; S=$T/inner-src
mkdir -p "$E/inner" "$S"
source "$(dirname "$0")/stuck_lib.bash"
inner_mount "$S" "$E/inner"
kill -STOP "$INNER_EXP"

cat > "$T/cap.py" <<'EOS'
import fcntl, os, signal, struct, subprocess, sys, termios, threading, time
duct, exp, logf, inner, n, hold = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
p = subprocess.Popen([duct, exp, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(logf, "ab"), bufsize=0)
def frame(typ, tag, body=b""): return struct.pack("<IBH", 7 + len(body), typ, tag) + body
def s(x): return struct.pack("<H", len(x)) + x
got, lock = {}, threading.Lock()
def readn(k):
    b = b""
    while len(b) < k:
        c = p.stdout.read(k - len(b))
        if not c: return b
        b += c
    return b
def reader():
    while True:
        hdr = readn(7)
        if len(hdr) < 7: return
        size, typ, tag = struct.unpack("<IBH", hdr)
        readn(size - 7)
        with lock: got[typ] = got.get(typ, 0) + 1
threading.Thread(target=reader, daemon=True).start()
w = p.stdin
w.write(frame(100, 0xFFFF, struct.pack("<I", 65536) + s(b"9P2000.L")))
w.write(frame(104, 1, struct.pack("<II", 0, 0xFFFFFFFF) + s(b"root") + s(b"") + struct.pack("<I", 0)))
time.sleep(0.5)
# Walks to names the stuck file system has never seen: each holds a worker.
for i in range(hold):
    w.write(frame(110, 10 + i, struct.pack("<IIH", 0, 100 + i, 2) + s(b"inner") + s(b"u%d" % i)))
time.sleep(2)
sent = 0
def sender():
    global sent
    for i in range(n):
        w.write(frame(24, 1000 + i, struct.pack("<IQ", 0, 0x7ff)))  # Tgetattr of the root
        sent += 1
threading.Thread(target=sender, daemon=True).start()
time.sleep(3)
buf = bytearray(4)
fcntl.ioctl(w.fileno(), termios.FIONREAD, buf)
with lock: print("held sent %d unread %d answered %d" % (sent, struct.unpack("<I", buf)[0], got.get(25, 0)))
os.kill(inner, signal.SIGCONT)  # the stuck file system runs again
deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        if got.get(25, 0) >= n and got.get(7, 0) + got.get(111, 0) >= hold: break
    time.sleep(0.1)
with lock: print("after sent %d answered %d walks %d" % (sent, got.get(25, 0), got.get(7, 0) + got.get(111, 0)))
w.close()
try: print("rc %d" % p.wait(10))
except subprocess.TimeoutExpired: p.kill(); p.wait(); print("rc hung")
EOS
N=20000; HOLD=70  # more walks than the export's most workers (64)
out=$(timeout 120 python3 "$T/cap.py" "$DUCT" "$E" "$T/exp.log" "$INNER_EXP" $N $HOLD 2>&1 || true)
log "$(echo "$out" | tr '\n' ';')"
held=$(echo "$out" | grep '^held') || die "no report from the client: $out"
read -r _ _ sent _ unread _ answered <<< "$held"
check "while every worker is stuck: no Tgetattr answered ($answered)" test "$answered" -eq 0
check "the export stopped reading: the client's writes block ($sent of $N sent)" test "$sent" -lt $N
# 64 KiB of pipe, less the frame a blocked write holds back
check "the export stopped reading: the pipe stays full ($unread bytes unread)" test "$unread" -ge 60000
check "... having taken at most kMaxQueued (1024) requests plus its reader's buffer" \
    test $(( (sent * 15 - unread) / 15 )) -le $((1024 + HOLD + 70000 / 15))
expect_eq "once the file system runs again, every request is answered" \
    "after sent $N answered $N walks $HOLD" "$(echo "$out" | grep '^after')"
expect_eq "the export ends when the client hangs up" "rc 1" "$(echo "$out" | grep '^rc')"
if grep -qiE "crash|dropped" "$T/exp.log"; then bad "the export logged: $(grep -iE 'crash|dropped' "$T/exp.log" | head -3)"
else ok "the export dropped nothing"; fi
it_finish
