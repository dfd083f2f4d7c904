#!/bin/bash
# policy.sh — export policy and protocol violations (issue 11):
#  1. a --read-only export mounted through two ducts: touch, rm, echo > f,
#     mkdir, chmod fail with "Read-only file system"; reads work; the disk
#     is unchanged;
#  2. both per peer of a --listen, with --as nobody: root's mode-600 file
#     cannot be read whatever the peer attaches as; usage errors;
#  3. `duct EXPORT -` given an R-message (types 99, 255) by a raw 9P client
#     ends the channel naming the type and exits 1 within 2 s, and an even
#     type it does not know gets Rlerror ENOSYS; never silence; a frame
#     longer than msize ends the channel saying so.
source "$(dirname "$0")/lib.bash"
it_init policy
need_fuse
need_cmd python3
make_side_wrapper

B=$T/b M=$T/mnt
mkdir -p "$B/d" "$M"
echo hello > "$B/f"
snap() { (cd "$B" && find . -printf '%p %m %s %T@\n' | sort; cat f); }
before=$(snap)

# ---- 1. --read-only through two ducts ----
log "starting: duct --exec 'duct --read-only $B -' - $M"
timeout 60 "$DUCT" --exec "$T/side.sh b --read-only $B -" - "$M" 2>>"$T/a.log" &
A_PID=$!
track_pid $A_PID
track_mount "$M"
wait_mounted "$M" || die "mount did not come up"

rofs() {  # rofs WHAT CMD: CMD fails, saying "Read-only file system"
    local what=$1 out rc=0; shift
    out=$(timeout 10 "$@" 2>&1) || rc=$?
    if [ $rc -ne 0 ] && [[ $out == *"Read-only file system"* ]]; then ok "$what: Read-only file system"
    else bad "$what: want a 'Read-only file system' failure, got rc=$rc: ${out:0:300}"; fi
}
rofs "touch a new file" touch "$M/new"
rofs "touch an existing file" touch "$M/f"
rofs "rm" rm "$M/f"
rofs "echo > f" sh -c "echo x > '$M/f'"
rofs "echo >> f" sh -c "echo x >> '$M/f'"
rofs "mkdir" mkdir "$M/nd"
rofs "rmdir" rmdir "$M/d"
rofs "chmod" chmod 600 "$M/f"
rofs "mv" mv "$M/f" "$M/g"
rofs "ln -s" ln -s f "$M/l"
expect_eq "cat reads" hello "$(timeout 10 cat "$M/f" 2>&1)"
expect_eq "ls lists" "d f" "$(timeout 10 ls "$M" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the disk is unchanged" "$before" "$(snap)"
check "unmount" unmount "$M"
wait_exit $A_PID 15
expect_eq "the mounting duct exits 0" 0 "$WAIT_RC"

# ---- 2. --read-only and --as USER apply to every peer of a listener ----
if id nobody >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo secret > "$B/secret"; chmod 600 "$B/secret"
    before=$(snap)
    "$DUCT" --listen "unix:$T/sock" --read-only --as nobody "$B" - 2>>"$T/listen.log" &
    L_PID=$!
    track_pid $L_PID
    for i in $(seq 50); do [ -S "$T/sock" ] && break; sleep 0.1; done
    for peer in 1 2; do
        timeout 60 "$DUCT" --dial "unix:$T/sock" - "$M" 2>>"$T/dial$peer.log" &
        D_PID=$!
        track_pid $D_PID
        wait_mounted "$M" || die "listener peer $peer: mount did not come up"
        rofs "listener peer $peer: touch" touch "$M/new"
        expect_eq "listener peer $peer: cat reads" hello "$(timeout 10 cat "$M/f" 2>&1)"
        out=$(timeout 10 cat "$M/secret" 2>&1) && rc=0 || rc=$?
        if [ $rc -ne 0 ] && [[ $out == *"Permission denied"* ]]; then
            ok "listener peer $peer: --as nobody cannot read root's mode-600 file"
        else bad "listener peer $peer: want Permission denied, got rc=$rc: $out"; fi
        check "listener peer $peer: unmount" unmount "$M"
        wait_exit $D_PID 15
        expect_eq "listener peer $peer: exits 0" 0 "$WAIT_RC"
    done
    kill -TERM $L_PID; wait_exit $L_PID 10
    expect_eq "the disk is unchanged after the listener's peers" "$before" "$(snap)"
fi
out=$("$DUCT" --as no-such-user-here "$B" - 2>&1 </dev/null) && rc=0 || rc=$?
expect_eq "--as an unknown user: exit 2" 2 "$rc"
[[ $out == *"no such user"* ]] && ok "--as an unknown user: says so" || bad "--as unknown user said: $out"
out=$("$DUCT" --read-only - "$M" 2>&1 </dev/null) && rc=0 || rc=$?
expect_eq "--read-only with EXPORT -: exit 2" 2 "$rc"

# ---- 3. a peer that breaks the protocol ----
# raw.py TYPE...: Tversion, then for each TYPE a 7-byte+ frame of that type
# (tag 7). Prints each reply as "R<type> <tag> <ecode>" and, at the end,
# "EOF <seconds>" when duct closed the channel (or "OPEN" if it stayed open
# for 2 s with nothing to say), then duct's exit status.
cat > "$T/raw.py" <<'EOS'
import os, struct, subprocess, sys, time, select
p = subprocess.Popen(sys.argv[1:3] + ["-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(sys.argv[3], "ab"))
def send(typ, tag, body=b""):
    p.stdin.write(struct.pack("<IBH", 7 + len(body), typ, tag) + body); p.stdin.flush()
def recv(timeout):
    r, _, _ = select.select([p.stdout], [], [], timeout)
    if not r: return None
    hdr = p.stdout.read(7)
    if len(hdr) < 7: return b""
    size, typ, tag = struct.unpack("<IBH", hdr)
    return (typ, tag, p.stdout.read(size - 7))
v = b"9P2000.L"
send(100, 0xFFFF, struct.pack("<IH", 65536, len(v)) + v)
r = recv(5)
print("Rversion" if r and r[0] == 101 else "no Rversion: %r" % (r,))
for t in sys.argv[4:]:
    send(int(t), 7, b"\0" * 8)
    t0 = time.time()
    r = recv(2)
    if r is None: print("OPEN"); break
    if r == b"": print("EOF %.1f" % (time.time() - t0)); break
    print("R%d %d %d" % (r[0], r[1], struct.unpack("<I", r[2][:4])[0] if len(r[2]) >= 4 else -1))
try: p.stdin.close()
except BrokenPipeError: pass
try: print("rc", p.wait(5))
except subprocess.TimeoutExpired: p.kill(); p.wait(); print("rc hung")
EOS
for t in 99 255; do
    out=$(timeout 20 python3 "$T/raw.py" "$DUCT" "$B" "$T/raw$t.log" 98 $t)
    expect_eq "type $t: Rversion, ENOSYS for unknown type 98, then the channel ends, exit 1" \
        "Rversion R7 7 38 EOF rc 1" "$(echo $out | sed 's/EOF [0-9.]*/EOF/')"
    if grep -q "R-message type $t" "$T/raw$t.log"; then ok "type $t: the log names it"
    else bad "type $t: no message naming the type: $(cat "$T/raw$t.log")"; fi
done
# A frame longer than msize: the channel ends saying so (exit 1).
cat > "$T/big.py" <<'EOS'
import struct, subprocess, sys, select
p = subprocess.Popen([sys.argv[1], sys.argv[2], "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(sys.argv[3], "ab"))
p.stdin.write(struct.pack("<IBH", 0x7fffffff, 110, 1)); p.stdin.flush()
r, _, _ = select.select([p.stdout], [], [], 2)
print("EOF" if r and p.stdout.read(1) == b"" else "OPEN")
try: print("rc", p.wait(3))
except subprocess.TimeoutExpired: p.kill(); p.wait(); print("rc hung")
EOS
expect_eq "a 2 GiB frame: the channel ends, exit 1" "EOF rc 1" "$(timeout 20 python3 "$T/big.py" "$DUCT" "$B" "$T/big.log" | tr '\n' ' ' | sed 's/ $//')"
if grep -q "frame of 2147483647 bytes, more than the" "$T/big.log"; then ok "a 2 GiB frame: the log says its size"
else bad "a 2 GiB frame: log says: $(cat "$T/big.log")"; fi
it_finish
