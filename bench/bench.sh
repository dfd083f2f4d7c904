#!/bin/bash
# bench.sh — duct's benchmark (a program, not a test): the work people do on
# a remote file system (git clone and git status of a real repository,
# ls -l and stat of many files, creating small files, a big write and read,
# the latency of a lookup while a bulk copy fills the link), on the bare disk,
# bindfs (a FUSE passthrough), sshfs (sftp-server <-> sshfs -o passive, no
# ssh), duct (two ducts, `duct SRC -` <-> `duct - MNT`) and duct's mount of
# diod. Every peer's channel crosses the same modelled link (build/duct-relay:
# one-way delay RTT/2, a rate, a bounded queue); the bare disk and bindfs have
# no channel and run on the pipe setting only. Peers are interleaved within
# each round (the order rotates); each peer-round gets a fresh mount and a
# fresh export directory, and git status starts on a fresh mount with the
# kernel's caches dropped, so "cold" is cold. For duct's mount the messages
# it sent per operation are read from its own counters (SIGUSR1 summary),
# and each duct's peak RSS from /proc/PID/status (VmHWM). bench/report.py
# prints medians, spread, ratios and the targets met or missed.
#
# Usage: bench/bench.sh [BUILD_DIR]   (root; needs /dev/fuse, git, python3;
#        bindfs, sshfs + openssh-sftp-server, diod: a missing peer is skipped)
# Knobs (environment):
#   BENCH_RTT_MS (10) BENCH_RATE_MBIT (100)   the modelled link besides the pipe
#   BENCH_LINKS ("0:0 $BENCH_RTT_MS:$BENCH_RATE_MBIT")  RTT_MS:RATE_MBIT list;
#                0:0 is the pipe (no delay, no limit, still through the relay)
#   BENCH_QUEUE_KB (256)  bytes that may wait for the link, per direction
#   BENCH_ROUNDS (3)  BENCH_PEERS ("bare bindfs sshfs duct diod") on the pipe
#   BENCH_LINK_PEERS ("sshfs duct") on the other links (diod through duct's
#                mount is far slower there; bare and bindfs have no channel)
#   BENCH_BIG_MB (32)  big write and read;  BENCH_FILES (100) small files created
#   BENCH_STAT_FILES (300) files for ls -l and stat
#   BENCH_REPO (this source tree's git repository) what git clones
#   BENCH_SAMPLES (20) unseen-name stats, idle and under load
#   BENCH_PHASE_TIMEOUT (300) seconds before a phase is killed and reported
#   BENCH_OUT (unset) also write the report to this file (and the raw
#                figures to the same name with .raw for .txt)
set -u
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC_DIR/build}" && pwd)
DUCT=$BUILD/duct
RELAY=$BUILD/duct-relay
STATLAT=$BUILD/duct-statlat
RTT=${BENCH_RTT_MS:-10}
RATE=${BENCH_RATE_MBIT:-100}
LINKS=${BENCH_LINKS:-0:0 $RTT:$RATE}
QUEUE=${BENCH_QUEUE_KB:-256}
ROUNDS=${BENCH_ROUNDS:-3}
PEERS=${BENCH_PEERS:-bare bindfs sshfs duct diod}
LINK_PEERS=${BENCH_LINK_PEERS:-sshfs duct}
BIG=${BENCH_BIG_MB:-32}
NFILES=${BENCH_FILES:-100}
NSTAT=${BENCH_STAT_FILES:-300}
REPO=${BENCH_REPO:-$SRC_DIR}
SAMPLES=${BENCH_SAMPLES:-20}
PHASE_TIMEOUT=${BENCH_PHASE_TIMEOUT:-300}
SFTP=/usr/lib/openssh/sftp-server
DIOD=$(command -v diod || echo /usr/sbin/diod)
W=$(mktemp -d "${TMPDIR:-/tmp}/duct-bench.XXXXXX")
RELAY_PID=
BULK_PID=

cleanup() {
    [ -n "$BULK_PID" ] && kill "$BULK_PID" 2>/dev/null
    for m in "$W"/mnt; do
        awk -v m="$m" '$2 == m {f=1} END {exit !f}' /proc/mounts &&
            { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for x in "$DUCT" "$RELAY" "$STATLAT"; do [ -x "$x" ] || { echo "no $x (build first)" >&2; exit 2; }; done
command -v python3 >/dev/null || { echo "bench needs python3 for its report" >&2; exit 2; }

drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }
wait_mount() { for _ in $(seq 150); do mounted "$1" && return 0; sleep 0.1; done; return 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b - a}'; }

# The repository: a bare, packed copy on the local disk, cloned from in every
# round with --no-local, as from a server (one pack, then the checkout).
git clone -q --bare --no-local "$REPO" "$W/repo.git" || { echo "cannot clone $REPO" >&2; exit 2; }
REPO_FILES=$(git -C "$W/repo.git" ls-tree -r HEAD | wc -l)
head -c 4096 /dev/zero | tr '\0' x > "$W/4k"
SMALL_DATA=$(cat "$W/4k")

# start PEER SRC MNT RTT RATE: mounts SRC on MNT through PEER; sets DIR (the
# directory to work in), MPID (the duct mount's pid, for its counters) and
# PA/PB (the two ends, for their RSS). Returns 1 if the peer is missing.
start() {
    local peer=$1 src=$2 mnt=$3 rtt=$4 rate=$5 a b
    DIR= MPID= PA= PB=
    : > "$W/err"
    case $peer in
    bare) DIR=$src; return 0 ;;
    bindfs)
        command -v bindfs >/dev/null || return 1
        bindfs --no-allow-other "$src" "$mnt" 2>/dev/null || bindfs "$src" "$mnt" || return 1
        wait_mount "$mnt" && DIR=$mnt; return ;;
    sshfs)
        command -v sshfs >/dev/null && [ -x "$SFTP" ] || return 1
        a="exec $SFTP"; b="exec sshfs -f -o passive localhost:$src $mnt 2>>$W/err" ;;
    duct)
        a="exec $DUCT $src - 2>>$W/err.a"; b="exec $DUCT - $mnt 2>>$W/err" ;;
    diod)
        [ -x "$DIOD" ] || return 1
        a="exec $DIOD --foreground --no-auth --config-file /dev/null --logdest stderr --rfdno 0 --wfdno 1 --export $src 2>/dev/null"
        b="exec $DUCT --aname $src - $mnt 2>>$W/err" ;;
    esac
    rm -f "$W/pids"
    "$RELAY" -t "$rtt" -r "$rate" -q "$QUEUE" -p "$W/pids" "$a" "$b" 2>>"$W/relay.err" &
    RELAY_PID=$!
    wait_mount "$mnt" || { echo "# $peer did not mount: $(tail -3 "$W/err")" >&2; stop "$mnt"; return 1; }
    read -r PA PB < "$W/pids"
    case $peer in duct|diod) MPID=$PB ;; esac
    DIR=$mnt
}
stop() {
    mounted "$1" && { fusermount3 -u "$1" 2>/dev/null || umount -l "$1"; }
    if [ -n "$RELAY_PID" ]; then
        for _ in $(seq 100); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
        kill "$RELAY_PID" 2>/dev/null
        wait "$RELAY_PID" 2>/dev/null
        RELAY_PID=
    fi
}

# reqs: the duct mount's request count so far (its SIGUSR1 summary line).
reqs() {
    [ -n "$MPID" ] || { echo 0; return; }
    local n0 n
    n0=$(grep -c 'summary:' "$W/err")
    kill -USR1 "$MPID" 2>/dev/null || { echo 0; return; }
    for _ in $(seq 200); do
        n=$(grep -c 'summary:' "$W/err")
        [ "$n" -gt "$n0" ] && break
        sleep 0.01
    done
    # Idle probes (a Tflush every timeout/3 when nothing else is sent) are
    # not the operation's: subtract them.
    grep 'summary:' "$W/err" | tail -1 |
        awk '{ for (i = 2; i <= NF; i++) { if ($i ~ /^requests/ && $(i-2) == "mount") r = $(i-1); if ($i == "idle") p = $(i-1) } }
             END { print r - p }'
}
hwm() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null; }

# phase NAME OPS COMMAND...: times COMMAND, records seconds and, for a duct
# mount, its messages per operation.
phase() {
    local name=$1 ops=$2 t0 r0 r1 secs; shift 2
    r0=$(reqs)
    t0=$EPOCHREALTIME
    # A hung mount must not hang the benchmark: a watchdog ends the phase.
    "$@" >/dev/null 2>"$W/phase.err" &
    local pid=$! rc=0
    ( trap 'kill $s; exit' TERM; sleep "$PHASE_TIMEOUT" & s=$!; wait $s; kill $pid ) 2>/dev/null &
    local dog=$!
    wait $pid || rc=$?
    secs=$(since "$t0")
    kill $dog 2>/dev/null; wait $dog 2>/dev/null
    [ $rc -eq 0 ] || { echo "# $PEER $name failed (rc $rc): $(tail -2 "$W/phase.err")" >&2; secs=failed; }
    r1=$(reqs)
    local mpo=-
    [ -n "$MPID" ] && mpo=$(awk -v a="$r0" -v b="$r1" -v n="$ops" 'BEGIN{printf "%.2f", (b - a) / n}')
    echo "$LINK $PEER $ROUND $name $secs $mpo" >> "$W/raw"
}

p_clone()  { git clone -q --no-local "$W/repo.git" "$DIR/clone"; }
p_status() { git -C "$DIR/clone" status --porcelain; }
p_create() { mkdir "$DIR/small" && for ((i = 0; i < NFILES; i++)); do printf %s "$SMALL_DATA" > "$DIR/small/f$i" || return 1; done; }
p_ls()     { ls -l "$DIR/many"; }
p_stat()   { stat "$DIR"/many/* ; }
p_write()  { dd if=/dev/zero of="$DIR/big" bs=1M count="$BIG" conv=fsync status=none; }
p_read()   { dd if="$DIR/big" of=/dev/null bs=1M status=none; }

# stat of unseen names, idle and while a bulk write fills the link (its
# data travels the same direction as the stat requests).
p_statlat() {
    local r0 r1 med
    r0=$(reqs)
    read -r med _ < <("$STATLAT" "$DIR" "$SAMPLES" 20)
    r1=$(reqs)
    local mpo=-
    [ -n "$MPID" ] && mpo=$(awk -v a="$r0" -v b="$r1" -v n="$SAMPLES" 'BEGIN{printf "%.2f", (b - a) / n}')
    echo "$LINK $PEER $ROUND stat_idle $(awk -v u="$med" 'BEGIN{printf "%.6f", u / 1e6}') $mpo" >> "$W/raw"
    dd if=/dev/zero of="$DIR/bulk" bs=1M count=4096 status=none 2>/dev/null &
    BULK_PID=$!
    sleep 1
    kill -0 $BULK_PID 2>/dev/null || echo "# $PEER: bulk copy ended before the loaded stats" >&2
    read -r med _ < <("$STATLAT" "$DIR" "$SAMPLES" 20)
    kill $BULK_PID 2>/dev/null; wait $BULK_PID 2>/dev/null; BULK_PID=
    echo "$LINK $PEER $ROUND stat_busy $(awk -v u="$med" 'BEGIN{printf "%.6f", u / 1e6}') -" >> "$W/raw"
}

record_rss() {
    [ -n "$PA" ] && echo "$LINK $PEER $ROUND rss_export $(hwm "$PA") -" >> "$W/raw"
    [ -n "$PB" ] && echo "$LINK $PEER $ROUND rss_mount $(hwm "$PB") -" >> "$W/raw"
    return 0
}
# A fresh mount: what the peer caches in user space (sshfs keeps attributes
# and directories for 20 s) is gone too, not only the kernel's caches.
remount() {
    record_rss; stop "$W/mnt"; drop
    start "$PEER" "$W/src" "$W/mnt" "$rtt" "$rate"
}

run_phases() {
    phase clone "$REPO_FILES" p_clone
    remount || return 1
    phase status_cold "$REPO_FILES" p_status
    phase status_warm "$REPO_FILES" p_status
    phase create "$NFILES" p_create
    phase ls_l "$NSTAT" p_ls
    drop; phase stat "$NSTAT" p_stat
    phase write "$BIG" p_write
    drop; phase read "$BIG" p_read
    p_statlat
}

{
    echo "date $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "versions duct $(git -C "$SRC_DIR" rev-parse --short HEAD 2>/dev/null) sshfs $(sshfs --version 2>&1 | sed -n 's/SSHFS version //p' | head -1) bindfs $(bindfs --version 2>/dev/null | awk '{print $2}')"
    echo "sizes repo $REPO_FILES files ($(basename "$REPO")), $NFILES small files of 4 KiB, $NSTAT files for ls/stat, $BIG MiB big file, $SAMPLES stat samples, queue $QUEUE KiB, $ROUNDS rounds"
    echo "command BENCH_LINKS='$LINKS' BENCH_PEERS='$PEERS' BENCH_LINK_PEERS='$LINK_PEERS' BENCH_ROUNDS=$ROUNDS BENCH_BIG_MB=$BIG BENCH_FILES=$NFILES BENCH_STAT_FILES=$NSTAT bench/bench.sh"
} > "$W/meta"
: > "$W/raw"
mkdir -p "$W/mnt"
for LINK in $LINKS; do
    rtt=${LINK%%:*}; rate=${LINK##*:}
    if [ "$LINK" = 0:0 ]; then read -ra peers <<< "$PEERS"; else read -ra peers <<< "$LINK_PEERS"; fi
    for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
        n=${#peers[@]}
        for ((k = 0; k < n; k++)); do
            PEER=${peers[$(( (k + ROUND - 1) % n ))]}
            case $PEER in bare|bindfs) [ "$LINK" = 0:0 ] || continue ;; esac  # no channel
            src=$W/src
            rm -rf "$src"; mkdir -p "$src/many"
            (cd "$src/many" && for ((i = 0; i < NSTAT; i++)); do : > "f$i"; done)
            drop
            start "$PEER" "$src" "$W/mnt" "$rtt" "$rate" || { echo "# $PEER: not available, skipped" >&2; continue; }
            echo "# link $LINK round $ROUND: $PEER" >&2
            run_phases || echo "# $PEER did not mount again" >&2
            record_rss
            stop "$W/mnt"
            rm -rf "$src"
        done
    done
done
python3 "$SRC_DIR/bench/report.py" "$W/meta" "$W/raw" | tee ${BENCH_OUT:+"$BENCH_OUT"}
[ -n "${BENCH_OUT:-}" ] && cat "$W/meta" "$W/raw" > "${BENCH_OUT%.txt}.raw"
