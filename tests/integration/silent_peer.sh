#!/bin/bash
# silent_peer.sh — issue 5 "No hangs": a peer that stops answering is
# noticed (--timeout 3 here): waiting calls fail with EIO, the mount is
# detached, duct exits non-zero saying what happened, and stat on the old
# mount point returns. Cases:
#  1. a healthy but idle pair outlives several timeouts (the idle probes
#     are answered; SIGUSR1's summary counts them);
#  2. the peer process is stopped (SIGSTOP) while a call waits on it;
#  3. the peer is stopped while our mount is idle (only the probe notices);
#  4. the channel stops carrying bytes: a socat relay between two ducts on
#     unix sockets is stopped; both ends give up.
# Processes are polled with timeouts; nothing here waits unbounded.
source "$(dirname "$0")/lib.bash"
it_init silent_peer
need_fuse
need_cmd socat "apt-get install socat"
TMO=3

# side.sh NAME ARGS...: runs duct on the channel it is given as stdin/stdout
# (as an --exec command), pid to NAME.pid, status to NAME.rc.
make_side_wrapper
stat_returns() { timeout 5 stat "$1" >/dev/null 2>&1; [ $? -ne 124 ]; }
# gave_up WHO PID-OR-RCFILE LOG MNT STARTED: the checks every silent case makes
gave_up() {
    local who=$1 rc=$2 logf=$3 mnt=$4 t0=$5
    local dt; dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    log "$who: status $rc after ${dt}s"
    if [ "$rc" != timeout ] && [ "$rc" != 0 ]; then ok "$who exits non-zero ($rc) within 10 s"
    else bad "$who: status '$rc' (want non-zero within 10 s)"; fi
    check "$who says why" grep -q "sent nothing for .* (--timeout $TMO)" "$logf"
    if wait_unmounted "$mnt" 2; then ok "$who: no mount left at $mnt"; else bad "$who: $mnt still mounted"; fi
    if stat_returns "$mnt"; then ok "$who: stat on the old mount point returns"; else bad "$who: stat on $mnt hangs"; fi
}

# b_exits TAG: the resumed B must end by itself (its channel is gone). A
# reaps, and in the end terminates, its --exec command, so side.sh may not
# live to write B's status: watch B's pid.
b_exits() {
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$BPID" 2>/dev/null; then bad "$1: B hangs after SIGCONT"; else ok "$1: B exits once resumed"; fi
}

# start_pair TAG: A (our child) mounts B's export on $MB, B (inner) mounts A's on $MA
start_pair() {
    local tag=$1
    A=$T/a$tag; B=$T/b$tag; MA=$T/ma$tag; MB=$T/mb$tag
    mkdir -p "$A" "$B" "$MA" "$MB"; track_mount "$MA"; track_mount "$MB"
    echo "B$tag" > "$B/who"; echo "A$tag" > "$A/who"
    timeout 80 "$DUCT" -v --timeout $TMO --exec "$T/side.sh b$tag -v --timeout $TMO $B $MA" "$A" "$MB" \
        2> "$T/a$tag.log" &
    APID=$!; track_pid $APID
    if wait_mounted "$MB" 10 && wait_mounted "$MA" 10; then ok "$tag: pair mounted"; else die "$tag: no mounts"; fi
    BPID=$(side_pid b$tag)
}

# ---- 1. healthy pairs must not be given up on ----
start_pair 1
sleep $((TMO * 2 + 1))   # idle for more than two timeouts
check "1: A still running after idling for 2 timeouts" kill -0 $APID
check "1: B still running" kill -0 "$BPID"
expect_eq "1: A still reads" B1 "$(timeout 5 cat "$MB/who" 2>&1)"
# SIGUSR1 to the duct itself ($APID is the timeout(1) wrapping it)
DPID=$(pgrep -P $APID -x duct || echo 0)
check "1: A's SIGUSR1 summary counts the idle probes" bash -c "kill -USR1 $DPID && sleep 0.5 && grep -Eq 'summary: .*[1-9][0-9]* idle probes' '$T/a1.log'"
check "1: A keeps running after SIGUSR1" kill -0 $DPID
unmount "$MB" || bad "1: unmount"; unmount "$MA" || bad "1: unmount"
wait_exit $APID 10
expect_eq "1: A exits 0" 0 "$WAIT_RC"
expect_eq "1: B exits 0" 0 "$(wait_file_rc "$T/b1.rc" 10)"

# ---- 2. peer stopped while a call waits ----
start_pair 2
kill -STOP "$BPID"
T0=$(date +%s.%N)
( rc=0; timeout 20 cat "$MB/who" > /dev/null 2> "$T/call2.err" || rc=$?; echo $rc > "$T/call2.rc" ) &
wait_exit $APID 10
gave_up "2: A (peer stopped, call waiting)" "$WAIT_RC" "$T/a2.log" "$MB" "$T0"
rc=$(wait_file_rc "$T/call2.rc" 10)
if [ "$rc" != timeout ] && [ "$rc" != 0 ] && [ "$rc" != 124 ]; then ok "2: the waiting call failed ($rc: $(head -c 80 "$T/call2.err"))"
else bad "2: the waiting call: $rc"; fi
kill -CONT "$BPID" || true
b_exits 2
check "2: B left no mount" wait_unmounted "$MA" 5

# ---- 3. peer stopped while our mount is idle ----
start_pair 3
sleep 1
kill -STOP "$BPID"
T0=$(date +%s.%N)
wait_exit $APID 10
gave_up "3: A (peer stopped, idle mount)" "$WAIT_RC" "$T/a3.log" "$MB" "$T0"
kill -CONT "$BPID" || true
b_exits 3

# ---- 4. the channel stops carrying bytes ----
A=$T/a4; B=$T/b4; MA=$T/ma4; MB=$T/mb4
mkdir -p "$A" "$B" "$MA" "$MB"; track_mount "$MA"; track_mount "$MB"
echo B4 > "$B/who"; echo A4 > "$A/who"
timeout 60 "$DUCT" -v --timeout $TMO --listen "unix:$T/b.sock" "$B" "$MA" 2> "$T/b4.log" &
BP=$!; track_pid $BP
for _ in $(seq 50); do [ -S "$T/b.sock" ] && break; sleep 0.1; done
socat UNIX-LISTEN:"$T/relay.sock" UNIX-CONNECT:"$T/b.sock" &
RP=$!; track_pid $RP
for _ in $(seq 50); do [ -S "$T/relay.sock" ] && break; sleep 0.1; done
timeout 60 "$DUCT" -v --timeout $TMO --dial "unix:$T/relay.sock" "$A" "$MB" 2> "$T/a4.log" &
AP=$!; track_pid $AP
if wait_mounted "$MB" 10 && wait_mounted "$MA" 10; then ok "4: pair through the relay mounted"; else die "4: no mounts"; fi
expect_eq "4: A reads through the relay" B4 "$(timeout 5 cat "$MB/who" 2>&1)"
kill -STOP $RP
T0=$(date +%s.%N)
( timeout 20 ls "$MA" > /dev/null 2>&1 || true ) &
wait_exit $AP 10
gave_up "4: A (relay stopped)" "$WAIT_RC" "$T/a4.log" "$MB" "$T0"
wait_exit $BP 10
gave_up "4: B (relay stopped)" "$WAIT_RC" "$T/b4.log" "$MA" "$T0"
kill -CONT $RP 2>/dev/null || true

if any_mount_under "$T"; then bad "mounts left behind"; else ok "no mounts left"; fi
it_finish
