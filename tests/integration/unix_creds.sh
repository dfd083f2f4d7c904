#!/bin/bash
# unix_creds.sh — unix-domain listeners admit only our uid and root (issue
# 11): the socket file is mode 0600, and a peer of another uid (nobody,
# connecting even after the mode was loosened) is refused by SO_PEERCRED
# with a logged message naming its uid and pid; our own peer is served.
source "$(dirname "$0")/lib.bash"
it_init unix_creds
need_fuse
need_cmd python3
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 for the peer run as nobody"
need_cmd setpriv "apt-get install util-linux"
[ "$(id -u)" = 0 ] || skip "needs root to run a peer as nobody"
wait_log() {
    local i n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
mkdir -p "$T/srv" "$T/m" && echo hello > "$T/srv/f"
chmod 755 "$T"
track_mount "$T/m"
timeout 60 "$DUCT" -v --listen "unix:$T/s.sock" "$T/srv" - 2> "$T/l.log" &
lp=$!; track_pid $lp
wait_log "$T/l.log" serving 10 || bad "listener did not start: $(cat "$T/l.log")"
expect_eq "socket file mode 600" 600 "$(stat -c %a "$T/s.sock")"
check "no private directory left next to it" test -z "$(ls -A "$T" | grep '^\.duct-')"
# Loosen the mode: the credential check must still refuse nobody.
chmod 666 "$T/s.sock"
cat > "$T/raw.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
v = b"9P2000.L"; body = struct.pack("<IH", 8192, len(v)) + v
try:
    s.sendall(struct.pack("<IBH", 7 + len(body), 100, 0xFFFF) + body)
    s.settimeout(10); got = s.recv(100)
except OSError:
    got = b""
print("rversion" if len(got) >= 7 and got[4] == 101 else "refused")
PY
expect_eq "nobody gets no Rversion" refused \
    "$(timeout 15 setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 "$T/raw.py" "$T/s.sock" 2>&1)"
check "listener logs the refused uid" wait_log "$T/l.log" "unix-socket peer uid 65534 (pid [0-9]*) refused" 5
expect_eq "root (us) gets an Rversion" rversion "$(timeout 15 python3 "$T/raw.py" "$T/s.sock" 2>&1)"
timeout 60 "$DUCT" --dial "unix:$T/s.sock" - "$T/m" 2> "$T/d.log" &
dp=$!; track_pid $dp
if wait_mounted "$T/m" 10; then ok "our own dialer is served"; else bad "dialer: $(cat "$T/d.log")"; fi
expect_eq "read through it" hello "$(timeout 10 cat "$T/m/f" 2>&1)"
unmount "$T/m"; wait_exit $dp 10; expect_eq "dialer exits 0" 0 "$WAIT_RC"
kill -TERM $lp; wait_exit $lp 10; expect_eq "listener exits 0" 0 "$WAIT_RC"
check "socket file removed" test ! -e "$T/s.sock"
# A dialer refuses a listener of another uid (nobody listening on a socket).
mkdir -p "$T/nb" && chown nobody "$T/nb"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 -c "
import socket, time, sys
s = socket.socket(socket.AF_UNIX); s.bind('$T/nb/s'); s.listen(4); time.sleep(15)" &
np=$!; track_pid $np
for i in $(seq 50); do [ -S "$T/nb/s" ] && break; sleep 0.1; done
rc=0; timeout 10 "$DUCT" --dial "unix:$T/nb/s" - "$T/m" 2> "$T/nb.err" || rc=$?
expect_eq "dial to a listener run by nobody: exit 1" 1 "$rc"
check "dial to a listener run by nobody: names its uid" grep -q "listener runs as uid 65534" "$T/nb.err"
kill $np 2>/dev/null
if any_mount_under "$T"; then bad "mounts left behind"; else ok "no mounts left"; fi
it_finish
