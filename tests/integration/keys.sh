#!/bin/bash
# keys.sh — TCP channels are authenticated (issue 11, "Keys on TCP"):
#  1. duct --genkey: mode 0600, never overwrites; a group-readable or
#     malformed key file is refused.
#  2. TCP without --key or --no-auth refuses to start (exit 1, says both).
#  3. two ducts with the same key: both directions mounted, write/read across.
#  4. a keyed export server and: a dialer with another key, one with none
#     (--no-auth), a raw-9P client (python3 sending Tversion): each gets
#     nothing of 9P, the dialers exit 1 saying why (the one without a key:
#     that the listener may require --key), the listener logs each
#     refusal and still serves a good peer afterwards.
#  5. a peer that connects and says nothing is dropped after the handshake
#     timeout (--timeout).
#  6. a keyed dialer against a plain (--no-auth) listener fails clearly.
source "$(dirname "$0")/lib.bash"
it_init keys
need_fuse
need_cmd python3

PORT=$(( 20000 + RANDOM % 30000 ))
wait_log() {
    local i n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# ---- 1. genkey ----
rc=0; "$DUCT" --genkey "$T/k1" 2> "$T/g.err" || rc=$?
expect_eq "genkey: exit 0" 0 "$rc"
expect_eq "genkey: mode 600" 600 "$(stat -c %a "$T/k1")"
expect_eq "genkey: a header line and 64 hex digits" "duct-key-v1 1" \
    "$(head -1 "$T/k1") $(sed -n 2p "$T/k1" | grep -c '^[0-9a-f]\{64\}$')"
cp -p "$T/k1" "$T/k1.saved"
rc=0; "$DUCT" --genkey "$T/k1" 2> "$T/g.err" || rc=$?
expect_eq "genkey over an existing file: exit 1" 1 "$rc"
check "genkey over an existing file: says so" grep -q "already exists" "$T/g.err"
check "genkey over an existing file: the key is unchanged" cmp -s "$T/k1" "$T/k1.saved"
"$DUCT" --genkey "$T/k2" 2> /dev/null
check "two keys differ" test "$(sed -n 2p "$T/k1")" != "$(sed -n 2p "$T/k2")"
cp -p "$T/k1" "$T/kgrp" && chmod 640 "$T/kgrp"
rc=0; timeout 5 "$DUCT" --key "$T/kgrp" --listen "tcp!127.0.0.1!$PORT" "$T" - 2> "$T/g.err" || rc=$?
expect_eq "group-readable key: exit 1" 1 "$rc"
check "group-readable key: says why" grep -q "readable by group or others (mode 0640)" "$T/g.err"
printf 'duct-key-v1\nnot-hex\n' > "$T/kbad" && chmod 600 "$T/kbad"
rc=0; timeout 5 "$DUCT" --key "$T/kbad" --dial "tcp!127.0.0.1!$PORT" - "$T" 2> "$T/g.err" || rc=$?
expect_eq "malformed key: exit 1" 1 "$rc"
check "malformed key: says why" grep -q "not a duct key file" "$T/g.err"

# ---- 2. plain TCP needs --no-auth ----
for how in "--listen tcp!127.0.0.1!$PORT $T -" "--dial 127.0.0.1:$PORT - $T"; do
    rc=0; timeout 5 "$DUCT" $how 2> "$T/p.err" < /dev/null || rc=$?
    expect_eq "${how%% *} on TCP without --key: exit 1" 1 "$rc"
    check "${how%% *} on TCP without --key: names --key, --genkey and --no-auth" \
        grep -q -- "--key FILE.*duct --genkey FILE.*--no-auth" "$T/p.err"
done
rc=0; timeout 5 "$DUCT" --key "$T/k1" --no-auth --dial "127.0.0.1:$PORT" - "$T" 2> "$T/p.err" || rc=$?
expect_eq "--key with --no-auth: exit 2" 2 "$rc"
rc=0; timeout 5 "$DUCT" --key "$T/k1" --exec true - "$T" 2> "$T/p.err" || rc=$?
expect_eq "--key on an --exec channel: exit 2" 2 "$rc"
check "--key on an --exec channel: says it is trusted as what runs under it" grep -q "trusted" "$T/p.err"

# ---- 3. same key, both ways ----
mkdir -p "$T/a" "$T/b" "$T/ma" "$T/mb"
echo "I am a" > "$T/a/who"; echo "I am b" > "$T/b/who"
track_mount "$T/ma"; track_mount "$T/mb"
PORT=$((PORT + 1))
timeout 60 "$DUCT" -v --key "$T/k1" --listen "tcp!127.0.0.1!$PORT" "$T/a" "$T/mb" 2> "$T/la.log" &
lp=$!; track_pid $lp
wait_log "$T/la.log" "listening on" 10 || bad "keyed listener did not start: $(cat "$T/la.log")"
timeout 60 "$DUCT" -v --key "$T/k1" --dial "tcp!127.0.0.1!$PORT" "$T/b" "$T/ma" 2> "$T/db.log" &
dp=$!; track_pid $dp
if wait_mounted "$T/ma" 10 && wait_mounted "$T/mb" 10; then ok "same key: both directions mounted"
else bad "same key: mounts did not appear: $(cat "$T/la.log" "$T/db.log")"; fi
expect_eq "same key: dialer reads the listener's export" "I am a" "$(timeout 10 cat "$T/ma/who" 2>&1)"
expect_eq "same key: listener reads the dialer's export" "I am b" "$(timeout 10 cat "$T/mb/who" 2>&1)"
head -c 3000000 /dev/urandom > "$T/blob"
timeout 20 cp "$T/blob" "$T/ma/blob" && timeout 20 cp "$T/blob" "$T/mb/blob" || bad "same key: writes across"
check "same key: 3 MB written through the dialer's mount lands on the listener's disk" cmp -s "$T/blob" "$T/a/blob"
check "same key: 3 MB written through the listener's mount lands on the dialer's disk" cmp -s "$T/blob" "$T/b/blob"
check "dialer says TLS" grep -q "(TLS, key" "$T/db.log"
unmount "$T/ma" || bad "unmount ma"; unmount "$T/mb" || bad "unmount mb"
wait_exit $lp 10; expect_eq "same key: listener exits 0" 0 "$WAIT_RC"
wait_exit $dp 10; expect_eq "same key: dialer exits 0" 0 "$WAIT_RC"

# ---- 4. an export server refuses who has not the key ----
PORT=$((PORT + 1))
timeout 60 "$DUCT" -v --timeout 3 --key "$T/k1" --listen "tcp!127.0.0.1!$PORT" "$T/a" - 2> "$T/srv.log" &
sp=$!; track_pid $sp
wait_log "$T/srv.log" "serving" 10 || bad "keyed server did not start: $(cat "$T/srv.log")"
rc=0; timeout 10 "$DUCT" --key "$T/k2" --dial "tcp!127.0.0.1!$PORT" - "$T/ma" 2> "$T/other.err" || rc=$?
expect_eq "another key: dialer exits 1" 1 "$rc"
check "another key: dialer says the peer did not prove the key" grep -q "did not prove the key in $T/k2" "$T/other.err"
check "another key: dialer names the address" grep -q "tcp!127.0.0.1!$PORT" "$T/other.err"
check "another key: listener logs the refusal" wait_log "$T/srv.log" "did not prove the key in $T/k1: TLS handshake failed" 5
rc=0; timeout 10 "$DUCT" --no-auth --dial "tcp!127.0.0.1!$PORT" - "$T/ma" 2> "$T/none.err" || rc=$?
expect_eq "no key: dialer exits 1" 1 "$rc"
check "no key: dialer says the listener may require --key" grep -q "hung up before answering anything: a duct listening with --key does that to a peer without one; dial it with --key FILE" "$T/none.err"
check "no key: listener says the peer does not speak TLS" wait_log "$T/srv.log" "does not speak TLS" 5
cat > "$T/raw9p.py" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
v = b"9P2000.L"
body = struct.pack("<IH", 8192, len(v)) + v
s.sendall(struct.pack("<IBH", 7 + len(body), 100, 0xFFFF) + body)
s.settimeout(10)
got = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
except OSError:
    pass
# A TLS alert record starts 0x15 0x03; an Rversion would be type 101 at byte 4.
print("rversion" if len(got) >= 7 and got[4] == 101 else "no9p %d" % len(got))
PY
expect_eq "raw 9P client: no Rversion, dropped" "no9p" "$(timeout 15 python3 "$T/raw9p.py" $PORT | cut -d' ' -f1)"
check "raw 9P client: listener says why it dropped it" test "$(grep -c 'does not speak TLS' "$T/srv.log")" -ge 2
# 5. a silent peer is dropped after the handshake timeout (3 s here)
python3 -c "
import socket, sys, time
s = socket.create_connection(('127.0.0.1', $PORT)); t = time.time(); s.settimeout(20)
try: s.recv(1)
except OSError: pass
print(int(time.time() - t))" > "$T/silent.out" &
silent=$!; track_pid $silent
check "silent peer: dropped after the handshake timeout" wait_log "$T/srv.log" "no TLS handshake within 3 s" 15
wait_exit $silent 10
check "silent peer: its connection was closed (not held 20 s)" test "$(cat "$T/silent.out")" -lt 15
# and the server still serves a good peer
timeout 60 "$DUCT" --key "$T/k1" --dial "tcp!127.0.0.1!$PORT" - "$T/ma" 2> "$T/good.err" &
gp=$!; track_pid $gp
if wait_mounted "$T/ma" 10; then ok "after the refusals a peer with the key is served"
else bad "good peer after refusals: $(cat "$T/good.err")"; fi
expect_eq "good peer reads the export" "I am a" "$(timeout 10 cat "$T/ma/who" 2>&1)"
unmount "$T/ma"; wait_exit $gp 10; expect_eq "good peer exits 0" 0 "$WAIT_RC"
kill -TERM $sp; wait_exit $sp 10; expect_eq "keyed server exits 0 on SIGTERM" 0 "$WAIT_RC"

# ---- 6. keyed dialer, plain listener ----
PORT=$((PORT + 1))
timeout 30 "$DUCT" -v --no-auth --listen "tcp!127.0.0.1!$PORT" "$T/a" - 2> "$T/plain.log" &
pp=$!; track_pid $pp
wait_log "$T/plain.log" "serving" 10
rc=0; timeout 10 "$DUCT" --key "$T/k1" --dial "tcp!127.0.0.1!$PORT" - "$T/ma" 2> "$T/kp.err" || rc=$?
expect_eq "keyed dialer, plain listener: exit 1" 1 "$rc"
check "keyed dialer, plain listener: says the peer did not prove the key" grep -q "did not prove the key" "$T/kp.err"
kill -TERM $pp; wait_exit $pp 10

if any_mount_under "$T"; then bad "mounts left behind"; else ok "no mounts left"; fi
it_finish
