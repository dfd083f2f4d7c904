#!/bin/bash
# channels.sh — every way duct makes its channel (issue 5 "Channels"), each
# with real FUSE mounts on both ends:
#  1. --listen/--dial, one peer, both directions mounted: TCP IPv4 (Inferno
#     dial string and host:port), IPv6 ([::1]:port, skipped without an IPv6
#     loopback), unix sockets (unix!/path and unix:/path); the listener takes
#     exactly one peer (a second dial is refused).
#  2. `--listen ADDR EXPORT -` serving three mounting clients at once.
#  3. --fd R,W on inherited fifo fds.
#  4. a tty channel: two ducts on the two ends of a socat pty pair; a few MiB
#     each way with checksums; duct puts a cooked tty in raw mode itself.
#  5. --exec with socat on a unix socket (socat EXEC on the other end).
#  6. bad addresses and fds: exit 2 with one line on stderr; nobody
#     listening: exit 1 with one line.
# TCP needs --key or --no-auth (keys.sh tests that): the IPv4 Inferno-string
# pair runs with --no-auth (plain 9P), the host:port and IPv6 ones keyed.
# Every duct runs in the background with -v; the test polls /proc/mounts and
# log files with timeouts, never a bare wait.
source "$(dirname "$0")/lib.bash"
it_init channels
need_fuse
need_cmd socat "apt-get install socat"

PORT=$(( 20000 + RANDOM % 30000 ))
next_port() { PORT=$((PORT + 1)); }
# wait_log FILE PATTERN [SECONDS]
wait_log() {
    local i n=$(( ${3:-10} * 10 ))
    for ((i = 0; i < n; i++)); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
# exits_with WHAT WANT PID SECONDS: a background child's exit status (or
# "timeout") must be WANT.
exits_with() { wait_exit "$3" "$4"; expect_eq "$1" "$2" "$WAIT_RC"; }
mkside() {   # mkside NAME: an export dir with a marker file and a mount point
    mkdir -p "$T/$1" "$T/m$1"
    echo "I am $1" > "$T/$1/who"
    track_mount "$T/m$1"
}

# pair TAG LISTEN-ADDR DIAL-ADDR: a listener exporting A and mounting B's
# export, a dialer the other way round; reads and writes both ways, then
# unmounts both and expects both to exit 0.
pair() {
    local tag=$1 la=$2 da=$3 lp dp rc
    mkside "l$tag"; mkside "d$tag"
    timeout 60 "$DUCT" -v "${AUTH[@]}" --listen "$la" "$T/l$tag" "$T/md$tag" 2> "$T/l$tag.log" &
    lp=$!; track_pid $lp
    wait_log "$T/l$tag.log" "listening on" 10 || { bad "$tag: listener did not start: $(cat "$T/l$tag.log")"; return; }
    timeout 60 "$DUCT" -v "${AUTH[@]}" --dial "$da" "$T/d$tag" "$T/ml$tag" 2> "$T/d$tag.log" &
    dp=$!; track_pid $dp
    if wait_mounted "$T/md$tag" 10 && wait_mounted "$T/ml$tag" 10; then ok "$tag: both directions mounted"
    else bad "$tag: mounts did not appear"; return; fi
    expect_eq "$tag: listener reads the dialer's export" "I am d$tag" "$(timeout 10 cat "$T/md$tag/who" 2>&1)"
    expect_eq "$tag: dialer reads the listener's export" "I am l$tag" "$(timeout 10 cat "$T/ml$tag/who" 2>&1)"
    timeout 10 sh -c "echo from-listener > '$T/md$tag/new'" || bad "$tag: write through the listener's mount"
    expect_eq "$tag: ... lands on the dialer's disk" from-listener "$(cat "$T/d$tag/new" 2>&1)"
    # the listener took its one peer and closed the listening socket
    rc=0; timeout 5 "$DUCT" "${AUTH[@]}" --dial "$da" - "$T/mnone" 2> "$T/second.err" || rc=$?
    expect_eq "$tag: a second dial to a one-peer listener fails (status 1)" 1 "$rc"
    unmount "$T/md$tag" || bad "$tag: unmount the listener's mount"
    unmount "$T/ml$tag" || bad "$tag: unmount the dialer's mount"
    exits_with "$tag: listener exits 0" 0 $lp 10
    exits_with "$tag: dialer exits 0" 0 $dp 10
    check "$tag: listener logged the peer's address" grep -q "peer .* connected" "$T/l$tag.log"
}

# ---- 1. one peer over each kind of address ----
mkdir -p "$T/mnone"
"$DUCT" --genkey "$T/key" 2> /dev/null || bad "duct --genkey"
AUTH=(--no-auth)
pair tcp4inferno "tcp!127.0.0.1!$PORT" "tcp!127.0.0.1!$PORT"; next_port
AUTH=(--key "$T/key")
pair tcp4colon "127.0.0.1:$PORT" "localhost:$PORT"; next_port
if grep -q '^00000000000000000000000000000001 .* lo$' /proc/net/if_inet6 2>/dev/null; then
    pair tcp6 "[::1]:$PORT" "tcp!::1!$PORT"
    next_port
else
    log "no IPv6 loopback: the [::1] case is not run"
fi
AUTH=()
pair unixbang "unix!$T/u1.sock" "unix!$T/u1.sock"
check "unix!: the socket file is removed after the peer connected" test ! -e "$T/u1.sock"
pair unixcolon "unix:$T/u2.sock" "unix:$T/u2.sock"

# ---- 2. an export server for three clients at once ----
mkdir -p "$T/srv"
echo shared > "$T/srv/who"
timeout 80 "$DUCT" -v --listen "unix:$T/srv.sock" "$T/srv" - 2> "$T/srv.log" &
SP=$!; track_pid $SP
wait_log "$T/srv.log" "serving" 10 || bad "server did not start: $(cat "$T/srv.log")"
CP=()
for i in 1 2 3; do
    mkdir -p "$T/mc$i"; track_mount "$T/mc$i"
    timeout 60 "$DUCT" -v --dial "unix!$T/srv.sock" - "$T/mc$i" 2> "$T/c$i.log" &
    CP+=($!); track_pid $!
done
for i in 1 2 3; do wait_mounted "$T/mc$i" 10 || bad "client $i did not mount"; done
# all three write at the same time, each its own file of 1 MiB
for i in 1 2 3; do
    head -c 1048576 /dev/urandom > "$T/src$i"
    timeout 30 cp "$T/src$i" "$T/mc$i/from$i" & CPS[$i]=$!
done
wait_cp=0
for i in 1 2 3; do wait "${CPS[$i]}" || wait_cp=$((wait_cp + 1)); done
expect_eq "3 clients wrote concurrently" 0 "$wait_cp"
for i in 1 2 3; do
    expect_eq "client $i's file is on the server's disk intact" "$(sha256sum < "$T/src$i")" "$(sha256sum < "$T/srv/from$i")"
    j=$(( i % 3 + 1 ))
    expect_eq "client $j sees client $i's file" "$(sha256sum < "$T/src$i")" "$(timeout 10 sha256sum < "$T/mc$j/from$i")"
done
check "server logged 3 peers" test "$(grep -c 'peer .* connected' "$T/srv.log")" -ge 3
# SIGUSR1: the listener's summary lists each live peer with its traffic
# (to duct itself: SIGUSR1 would end the `timeout` wrapper)
kill -USR1 "$(pgrep -P $SP -x duct)"
for _ in $(seq 30); do grep -q 'summary: 3 peer(s) connected' "$T/srv.log" && break; sleep 0.1; done
check "SIGUSR1 on the listener: a summary of 3 live peers" grep -q 'summary: 3 peer(s) connected, 0 finished' "$T/srv.log"
expect_eq "SIGUSR1 on the listener: one line per peer with its export's traffic" 3 \
    "$(grep -cE '^  .+: channel in [0-9]+ msgs/[0-9]+ bytes.*; export [1-9][0-9]* requests' "$T/srv.log")"
unmount "$T/mc2" || bad "unmount client 2"
exits_with "client 2 exits 0 after its unmount" 0 "${CP[1]}" 10
expect_eq "client 1 still reads after client 2 left" shared "$(timeout 10 cat "$T/mc1/who" 2>&1)"
check "server still running" kill -0 $SP
# a fourth client can still come
mkdir -p "$T/mc4"; track_mount "$T/mc4"
timeout 30 "$DUCT" --dial "unix:$T/srv.sock" - "$T/mc4" 2> "$T/c4.log" &
C4=$!; track_pid $C4
wait_mounted "$T/mc4" 10 && expect_eq "a later client reads" shared "$(timeout 10 cat "$T/mc4/who" 2>&1)" ||
    bad "a fourth client did not mount"
unmount "$T/mc4" || bad "unmount client 4"; exits_with "client 4 exits 0" 0 $C4 10
kill -TERM $SP || bad "server gone before SIGTERM"
exits_with "server exits 0 on SIGTERM with clients still attached" 0 $SP 10
for i in 1 3; do
    wait_exit "${CP[$((i-1))]}" 10; rc=$WAIT_RC
    [ "$rc" != timeout ] && ok "client $i exits ($rc) after the server stopped" || bad "client $i hangs after the server stopped"
    check "client $i left no mount" wait_unmounted "$T/mc$i" 5
done
check "server removed its unix socket" test ! -e "$T/srv.sock"

# ---- 3. --fd R,W on inherited fifos ----
mkside fa; mkside fb
mkfifo "$T/ab" "$T/ba"
# open order matters for fifos: A opens ab for reading while B opens it for
# writing, then the same for ba.
timeout 60 "$DUCT" -v --fd 3,4 "$T/fa" "$T/mfb" 3<"$T/ba" 4>"$T/ab" 2> "$T/fa.log" &
FA=$!; track_pid $FA
timeout 60 "$DUCT" -v --fd 5,6 "$T/fb" "$T/mfa" 6>"$T/ba" 5<"$T/ab" 2> "$T/fb.log" &
FB=$!; track_pid $FB
if wait_mounted "$T/mfa" 10 && wait_mounted "$T/mfb" 10; then
    expect_eq "--fd: A reads B" "I am fb" "$(timeout 10 cat "$T/mfb/who" 2>&1)"
    expect_eq "--fd: B reads A" "I am fa" "$(timeout 10 cat "$T/mfa/who" 2>&1)"
    unmount "$T/mfb" || bad "--fd: unmount"; unmount "$T/mfa" || bad "--fd: unmount"
    exits_with "--fd: A exits 0" 0 $FA 10
    exits_with "--fd: B exits 0" 0 $FB 10
else
    bad "--fd: mounts did not appear"
fi

# ---- 4. a tty channel ----
# 4a: duct puts a cooked tty in raw mode itself (and restores it on exit).
socat -d PTY,link="$T/c1" PTY,link="$T/c2" 2>/dev/null &
SC=$!; track_pid $SC
for _ in $(seq 50); do [ -e "$T/c1" ] && [ -e "$T/c2" ] && break; sleep 0.1; done
check "4a: the tty starts cooked (echo on)" sh -c "stty -F '$T/c1' -a | grep -qw echo"
mkside ta
timeout 30 "$DUCT" -v --fd 3 "$T/ta" - 3<>"$T/c1" 2> "$T/ta.log" &
TA=$!; track_pid $TA
sleep 0.5
check "4a: duct made its tty raw (-echo -icanon)" sh -c "stty -F '$T/c1' -a | grep -qw -- -echo && stty -F '$T/c1' -a | grep -qw -- -icanon"
# a peer on the other (cooked) end: it also goes raw before it writes
timeout 30 "$DUCT" -v --fd 3 - "$T/mta" 3<>"$T/c2" 2> "$T/tb.log" &
TB=$!; track_pid $TB
wait_mounted "$T/mta" 10 && expect_eq "4a: read over a tty made raw by duct" "I am ta" "$(timeout 10 cat "$T/mta/who" 2>&1)" ||
    bad "4a: no mount over the cooked pty pair"
unmount "$T/mta" || bad "4a: unmount"
exits_with "4a: mounting side exits 0" 0 $TB 10
# the exporting side exits by itself once its peer has unmounted
exits_with "4a: exporting side exits 0" 0 $TA 10
check "4a: the tty's settings are restored (echo on again)" sh -c "stty -F '$T/c1' -a | grep -qw echo"
kill $SC 2>/dev/null || true

# 4b: both directions over a raw pty pair, a few MiB each way.
socat -d PTY,raw,echo=0,link="$T/p1" PTY,raw,echo=0,link="$T/p2" 2>/dev/null &
SP2=$!; track_pid $SP2
for _ in $(seq 50); do [ -e "$T/p1" ] && [ -e "$T/p2" ] && break; sleep 0.1; done
mkside pa; mkside pb
timeout 60 "$DUCT" -v --fd 3 "$T/pa" "$T/mpb" 3<>"$T/p1" 2> "$T/pa.log" &
PA=$!; track_pid $PA
timeout 60 "$DUCT" -v --fd 3 "$T/pb" "$T/mpa" 3<>"$T/p2" 2> "$T/pb.log" &
PB=$!; track_pid $PB
if wait_mounted "$T/mpa" 10 && wait_mounted "$T/mpb" 10; then
    head -c $((3 << 20)) /dev/urandom > "$T/tty-ab"
    head -c $((3 << 20)) /dev/urandom > "$T/tty-ba"
    t0=$(date +%s.%N)
    timeout 40 cp "$T/tty-ab" "$T/mpb/x" & c1=$!
    timeout 40 cp "$T/tty-ba" "$T/mpa/y" & c2=$!
    wait $c1 || bad "4b: copy A->B over the tty"
    wait $c2 || bad "4b: copy B->A over the tty"
    log "4b: 2 x 3 MiB at once over the pty pair in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')s"
    expect_eq "4b: A->B checksum on B's disk" "$(sha256sum < "$T/tty-ab")" "$(sha256sum < "$T/pb/x")"
    expect_eq "4b: B->A checksum on A's disk" "$(sha256sum < "$T/tty-ba")" "$(sha256sum < "$T/pa/y")"
    expect_eq "4b: A reads it back through the tty" "$(sha256sum < "$T/tty-ab")" "$(timeout 30 sha256sum < "$T/mpb/x")"
    unmount "$T/mpb" || bad "4b: unmount"; unmount "$T/mpa" || bad "4b: unmount"
    exits_with "4b: A exits 0" 0 $PA 10
    exits_with "4b: B exits 0" 0 $PB 10
else
    bad "4b: no mounts over the raw pty pair"
fi
kill $SP2 2>/dev/null || true

# ---- 5. --exec with socat ----
# B: socat accepts on a unix socket and, with nofork, execs duct in its own
# process on the connection (so B's exit status is socat's); A runs socat
# as its --exec command to reach it.
mkside xa; mkside xb
socat UNIX-LISTEN:"$T/x.sock" EXEC:"$DUCT -v $T/xb $T/mxa",nofork 2> "$T/xb.log" &
XB=$!; track_pid $XB
for _ in $(seq 50); do [ -S "$T/x.sock" ] && break; sleep 0.1; done
timeout 60 "$DUCT" -v --exec "socat - UNIX-CONNECT:$T/x.sock" "$T/xa" "$T/mxb" 2> "$T/xa.log" &
XA=$!; track_pid $XA
if wait_mounted "$T/mxa" 10 && wait_mounted "$T/mxb" 10; then
    expect_eq "--exec socat: A reads B" "I am xb" "$(timeout 10 cat "$T/mxb/who" 2>&1)"
    expect_eq "--exec socat: B reads A" "I am xa" "$(timeout 10 cat "$T/mxa/who" 2>&1)"
    unmount "$T/mxb" || bad "--exec: unmount"; unmount "$T/mxa" || bad "--exec: unmount"
    exits_with "--exec socat: A exits 0" 0 $XA 10
    exits_with "--exec socat: B exits 0" 0 $XB 10
else
    bad "--exec socat: mounts did not appear"
fi

# ---- 6. bad addresses ----
usage2() {
    local what=$1 rc=0; shift
    timeout 5 "$DUCT" "$@" "$T" - > "$T/u.out" 2> "$T/u.err" < /dev/null || rc=$?
    expect_eq "$what: exit 2" 2 "$rc"
    expect_eq "$what: one line on stderr" 1 "$(wc -l < "$T/u.err")"
    log "$what: $(head -1 "$T/u.err")"
}
usage2 "dial string without a port" --dial 'tcp!localhost'
usage2 "unknown network" --dial 'udp!localhost!1127'
usage2 "no port" --dial localhost
usage2 "port out of range" --dial localhost:70000
usage2 "unbracketed IPv6" --listen ::1:1127
usage2 "unclosed bracket" --dial '[::1:1127'
usage2 "empty unix path" --listen unix:
usage2 "two channel sources" --dial localhost:1 --listen localhost:2
usage2 "--fd not a number" --fd x
usage2 "--fd not open" --fd 97,98
rc=0; next_port
timeout 5 "$DUCT" --no-auth --dial "127.0.0.1:$PORT" - "$T/mnone" 2> "$T/u.err" < /dev/null || rc=$?
expect_eq "nobody listening: exit 1" 1 "$rc"
expect_eq "nobody listening: one line on stderr" 1 "$(wc -l < "$T/u.err")"
check "nobody listening: says connection refused" grep -qi refused "$T/u.err"

if any_mount_under "$T"; then bad "mounts left behind"; else ok "no mounts left"; fi
it_finish
