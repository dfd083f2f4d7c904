#!/bin/bash
# handshake_flood.sh — a keyed TCP listener cannot be held by peers that
# connect and say nothing (slowloris; issue 11): each connection's TLS
# handshake runs on its own thread, bounded by --timeout. With 8 idle
# connections open (and a long --timeout, so none has been dropped yet), a
# peer with the key is mounted and served while they are all still held
# open; later each idle one is dropped, the listener saying so, and the
# listener still serves. Both kinds of listener: one serving any number of
# peers (EXPORT -), and one taking a single peer and mounting it (EXPORT
# MOUNTPOINT), which takes the first peer to prove the key and drops the
# idle ones then.
source "$(dirname "$0")/lib.bash"
it_init handshake_flood
need_fuse
need_cmd python3

PORT=$(( 20000 + RANDOM % 30000 ))
wait_log() {
    local i n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
mkdir -p "$T/a" "$T/ma"
echo "served" > "$T/a/who"
"$DUCT" --genkey "$T/k" 2> /dev/null
# --timeout 20: the idle connections are held for 20 s before the listener
# gives up on them, far longer than the good peer below needs.
timeout 90 "$DUCT" -v --timeout 20 --key "$T/k" --listen "tcp!127.0.0.1!$PORT" "$T/a" - 2> "$T/srv.log" &
sp=$!; track_pid $sp
wait_log "$T/srv.log" "serving" 10 || bad "keyed server did not start: $(cat "$T/srv.log")"

# 8 connections that send nothing; the holder reports, when told (a file
# appears), how many of them the listener has closed so far.
cat > "$T/idle.py" <<'PY'
import os, select, socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
print("open", flush=True)
def closed():
    n = 0
    for s in socks:
        r, _, _ = select.select([s], [], [], 0)
        if r and s.recv(1, socket.MSG_PEEK) == b"":
            n += 1
    return n
while not os.path.exists(flag):
    time.sleep(0.1)
print("closed-at-check %d" % closed(), flush=True)
deadline = time.time() + 40
while closed() < len(socks) and time.time() < deadline:
    time.sleep(0.2)
print("closed-at-end %d" % closed(), flush=True)
PY
python3 "$T/idle.py" $PORT "$T/flag" > "$T/idle.out" 2>&1 &
ip=$!; track_pid $ip
wait_log "$T/idle.out" "open" 10 || bad "idle connections not made: $(cat "$T/idle.out")"
check "listener saw the 8 idle peers" wait_log "$T/srv.log" "connected" 5

timeout 60 "$DUCT" --key "$T/k" --dial "tcp!127.0.0.1!$PORT" - "$T/ma" 2> "$T/good.err" &
gp=$!; track_pid $gp
if wait_mounted "$T/ma" 15; then ok "with 8 idle connections held, a peer with the key is mounted"
else bad "good peer not mounted: $(cat "$T/good.err")"; fi
expect_eq "good peer reads the export" "served" "$(timeout 10 cat "$T/ma/who" 2>&1)"
touch "$T/flag"
wait_log "$T/idle.out" "closed-at-check" 5
expect_eq "the idle connections were all still open while the good peer was served" \
    "closed-at-check 0" "$(grep closed-at-check "$T/idle.out")"
unmount "$T/ma"; wait_exit $gp 10; expect_eq "good peer exits 0" 0 "$WAIT_RC"

# Then the listener gives up on each idle one (--timeout 20) and says so.
wait_exit $ip 60
expect_eq "every idle connection was closed by the listener" "closed-at-end 8" "$(grep closed-at-end "$T/idle.out")"
expect_eq "the listener logged each dropped handshake" 8 "$(grep -c 'no TLS handshake within 20 s' "$T/srv.log")"
kill -0 $sp 2>/dev/null && ok "the listener still runs" || bad "the listener ended"
kill $sp 2>/dev/null; wait_exit $sp 10

# ---- a listener for one peer, which mounts it ----
PORT=$((PORT + 1))
mkdir -p "$T/b" "$T/mb" "$T/mb2"
echo "from b" > "$T/b/who"
rm -f "$T/flag"
timeout 90 "$DUCT" -v --timeout 20 --key "$T/k" --listen "tcp!127.0.0.1!$PORT" "$T/a" "$T/mb" 2> "$T/one.log" &
op=$!; track_pid $op
wait_log "$T/one.log" "listening on" 10 || bad "one-peer listener did not start: $(cat "$T/one.log")"
python3 "$T/idle.py" $PORT "$T/flag" > "$T/idle2.out" 2>&1 &
ip=$!; track_pid $ip
wait_log "$T/idle2.out" "open" 10 || bad "idle connections not made: $(cat "$T/idle2.out")"
timeout 60 "$DUCT" --key "$T/k" --dial "tcp!127.0.0.1!$PORT" "$T/b" "$T/mb2" 2> "$T/good2.err" &
gp=$!; track_pid $gp
# Handshakes one after another would keep the good peer waiting 8 x 20 s.
if wait_mounted "$T/mb2" 15 && wait_mounted "$T/mb" 5; then
    ok "one-peer listener: with 8 idle connections, the peer with the key is mounted both ways"
else bad "one-peer listener: good peer not served: $(cat "$T/good2.err") / $(tail -3 "$T/one.log")"; fi
track_mount "$T/mb"; track_mount "$T/mb2"
expect_eq "one-peer listener: the dialer reads its export" "served" "$(timeout 10 cat "$T/mb2/who" 2>&1)"
expect_eq "one-peer listener: it reads the dialer's" "from b" "$(timeout 10 cat "$T/mb/who" 2>&1)"
touch "$T/flag"
wait_exit $ip 60
expect_eq "one-peer listener: the idle connections were closed once a peer proved the key" \
    "closed-at-end 8" "$(grep closed-at-end "$T/idle2.out")"
unmount "$T/mb2"; unmount "$T/mb"
wait_exit $gp 15; expect_eq "one-peer dialer exits 0" 0 "$WAIT_RC"
wait_exit $op 15; expect_eq "one-peer listener exits 0" 0 "$WAIT_RC"
it_finish
