#!/bin/bash
# systemd.sh — `--listen systemd` (socket activation, issue 11): a python3
# wrapper binds and listens, puts the socket at fd 3, sets LISTEN_FDS=1 and
# LISTEN_PID to its own pid and execs duct (same pid), as systemd does.
#  - a passed TCP socket: without --key or --no-auth refused; with --key a
#    keyed dialer is served, and duct's children do not see LISTEN_*;
#  - a passed unix socket: served, with the uid check;
#  - no socket passed / LISTEN_PID of another process: clear errors.
source "$(dirname "$0")/lib.bash"
it_init systemd
need_fuse
need_cmd python3
wait_log() {
    local i n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
PORT=$(( 20000 + RANDOM % 30000 ))
cat > "$T/activate.py" <<'PY'
import os, socket, sys
kind, addr = sys.argv[1], sys.argv[2]
if kind == "tcp":
    s = socket.socket(socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(addr)))
else:
    s = socket.socket(socket.AF_UNIX); s.bind(addr)
s.listen(16)
os.dup2(s.fileno(), 3)
env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
os.execve(sys.argv[3], sys.argv[3:], env)
PY
mkdir -p "$T/srv" "$T/m" && echo hello > "$T/srv/f"
track_mount "$T/m"
"$DUCT" --genkey "$T/key" 2> /dev/null

rc=0; timeout 5 "$DUCT" --listen systemd "$T/srv" - 2> "$T/e1" || rc=$?
expect_eq "no socket passed: exit 1" 1 "$rc"
check "no socket passed: says LISTEN_PID/LISTEN_FDS" grep -q "LISTEN_PID and LISTEN_FDS are not set" "$T/e1"
rc=0; LISTEN_FDS=1 LISTEN_PID=1 timeout 5 "$DUCT" --listen systemd "$T/srv" - 2> "$T/e2" 3</dev/null || rc=$?
expect_eq "LISTEN_PID of another process: exit 1" 1 "$rc"
check "LISTEN_PID of another process: says so" grep -q "not our pid" "$T/e2"
rc=0; timeout 5 python3 "$T/activate.py" tcp $PORT "$DUCT" --listen systemd "$T/srv" - 2> "$T/e3" || rc=$?
expect_eq "passed TCP socket without --key: exit 1" 1 "$rc"
check "passed TCP socket without --key: names --key and --no-auth" grep -q -- "--key FILE.*--no-auth" "$T/e3"

PORT=$((PORT + 1))
timeout 60 python3 "$T/activate.py" tcp $PORT "$DUCT" -v --listen systemd --key "$T/key" "$T/srv" - 2> "$T/tcp.log" &
lp=$!; track_pid $lp
wait_log "$T/tcp.log" "serving" 10 || bad "systemd TCP listener: $(cat "$T/tcp.log")"
check "systemd TCP listener says TLS" grep -q "on systemd (TLS)" "$T/tcp.log"
check "LISTEN_PID is unset in duct" sh -c "! tr '\\0' '\\n' < /proc/$lp/environ | grep -q ^LISTEN_" 
timeout 60 "$DUCT" --key "$T/key" --dial "127.0.0.1:$PORT" - "$T/m" 2> "$T/d1.log" &
dp=$!; track_pid $dp
if wait_mounted "$T/m" 10; then ok "keyed dialer served through the passed TCP socket"; else bad "dial: $(cat "$T/d1.log")"; fi
expect_eq "read through it" hello "$(timeout 10 cat "$T/m/f" 2>&1)"
unmount "$T/m"; wait_exit $dp 10; expect_eq "dialer exits 0" 0 "$WAIT_RC"
kill -TERM $lp; wait_exit $lp 10; expect_eq "systemd TCP listener exits 0 on SIGTERM" 0 "$WAIT_RC"

timeout 60 python3 "$T/activate.py" unix "$T/u.sock" "$DUCT" -v --listen systemd "$T/srv" - 2> "$T/unix.log" &
up=$!; track_pid $up
wait_log "$T/unix.log" "serving" 10 || bad "systemd unix listener: $(cat "$T/unix.log")"
timeout 60 "$DUCT" --dial "unix:$T/u.sock" - "$T/m" 2> "$T/d2.log" &
dp=$!; track_pid $dp
if wait_mounted "$T/m" 10; then ok "dialer served through the passed unix socket"; else bad "dial: $(cat "$T/d2.log")"; fi
check "the unix peer's uid was checked" grep -q "peer unix (uid 0 pid" "$T/unix.log"
unmount "$T/m"; wait_exit $dp 10; expect_eq "unix dialer exits 0" 0 "$WAIT_RC"
kill -TERM $up; wait_exit $up 10; expect_eq "systemd unix listener exits 0" 0 "$WAIT_RC"
if any_mount_under "$T"; then bad "mounts left behind"; else ok "no mounts left"; fi
it_finish
