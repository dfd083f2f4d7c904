#!/bin/bash
# bench.sh — duct's benchmark: the same workloads on the bare disk, a FUSE
# passthrough (bindfs), sshfs in passive mode over a socketpair (no ssh, no
# network: the fairest sshfs there is) and duct over a socketpair, all
# measured in this run; prints figures and the ratios duct/peer.
#
# Usage: bench/bench.sh [BUILD_DIR]     (root; needs bindfs, sshfs, socat,
#        openssh-sftp-server; a missing peer is reported and skipped)
# Knobs: BENCH_BIG_MB (1024) BENCH_SMALL_MB (64) BENCH_FILES (2000)
#        BENCH_TREE (directory to tar up for the unpack/grep test, /usr/include)
#        BENCH_ONLY (space-separated subset of: bare bindfs sshfs duct)
#        BENCH_FSX_SECONDS (60): the randomized fsx run (tests/conformance/fsx.cc)
#        on every peer (2 files), then on both directions of one duct at
#        once (2 files each way); any mismatch with its model is reported.
set -u
BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
DUCT=$BUILD/duct
BIG=${BENCH_BIG_MB:-1024}
SMALL=${BENCH_SMALL_MB:-64}
NFILES=${BENCH_FILES:-2000}
TREE=${BENCH_TREE:-/usr/include}
ONLY=${BENCH_ONLY:-bare bindfs sshfs duct}
SFTP=/usr/lib/openssh/sftp-server
FSX=$BUILD/tests/fsx
FSX_SECS=${BENCH_FSX_SECONDS:-60}
W=$(mktemp -d "${TMPDIR:-/tmp}/duct-bench.XXXXXX")
PIDS=()
cleanup() {
    for m in "$W"/mnt-*; do mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$DUCT" ] || { echo "no duct at $DUCT (build first)" >&2; exit 2; }

now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
wait_mount() { for _ in $(seq 100); do mountpoint -q "$1" && return 0; sleep 0.1; done; return 1; }

tar -C "$(dirname "$TREE")" -cf "$W/tree.tar" "$(basename "$TREE")" 2>/dev/null
TREE_MB=$(( $(stat -c %s "$W/tree.tar") / 1048576 ))

# setup_X SRC MNT: makes MNT show SRC through X; sets DIR to the directory to use.
# (Not run in $(...): a background server would hold the substitution open.)
setup_bare() { DIR=$1; }
setup_bindfs() {
    command -v bindfs >/dev/null || return 1
    mkdir -p "$2"; bindfs --no-allow-other "$1" "$2" 2>/dev/null || bindfs "$1" "$2" || return 1
    wait_mount "$2" && DIR=$2
}
setup_sshfs() {
    command -v sshfs >/dev/null && command -v socat >/dev/null && [ -x "$SFTP" ] || return 1
    mkdir -p "$2"
    socat EXEC:"$SFTP" EXEC:"sshfs -f -o passive localhost\:$1 $2" >/dev/null 2>&1 &
    PIDS+=($!)
    wait_mount "$2" && DIR=$2
}
setup_duct() {
    mkdir -p "$2"
    "$DUCT" --exec "$DUCT $1 -" - "$2" >/dev/null 2>"$W/duct.err" &
    PIDS+=($!)
    wait_mount "$2" && DIR=$2
}

declare -A R
run_suite() {  # NAME DIR
    local n=$1 d=$2 t0 t1
    mkdir -p "$d/b"
    drop; t0=$(now); dd if=/dev/zero of="$d/b/big" bs=1M count=$BIG conv=fsync status=none; t1=$(now)
    R[$n.write]=$(awk -v a=$t0 -v b=$t1 -v m=$BIG 'BEGIN{printf "%.1f", m/(b-a)}')
    drop; t0=$(now); dd if="$d/b/big" of=/dev/null bs=1M status=none; t1=$(now)
    R[$n.read]=$(awk -v a=$t0 -v b=$t1 -v m=$BIG 'BEGIN{printf "%.1f", m/(b-a)}')
    rm -f "$d/b/big"
    drop; t0=$(now); dd if=/dev/zero of="$d/b/small" bs=4k count=$((SMALL*256)) conv=fsync status=none; t1=$(now)
    R[$n.w4k]=$(awk -v a=$t0 -v b=$t1 -v m=$SMALL 'BEGIN{printf "%.1f", m/(b-a)}')
    rm -f "$d/b/small"
    mkdir -p "$d/b/meta"
    t0=$(now)
    (cd "$d/b/meta" && for i in $(seq $NFILES); do : > f$i; done && stat f* >/dev/null && rm -f f*)
    t1=$(now)
    R[$n.meta]=$(awk -v a=$t0 -v b=$t1 -v n=$NFILES 'BEGIN{printf "%.0f", n/(b-a)}')
    t0=$(now); tar -C "$d/b" -xf "$W/tree.tar"; t1=$(now)
    R[$n.untar]=$(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.2f", b-a}')
    drop; t0=$(now); grep -r -c duct_never_found "$d/b" >/dev/null; t1=$(now)
    R[$n.grep]=$(awk -v a=$t0 -v b=$t1 'BEGIN{printf "%.2f", b-a}')
    rm -rf "$d/b"
    run_fsx "$n" "$d" ""
}

# run_fsx NAME DIR BACKING: two fsx processes (fixed seeds) for FSX_SECS on
# DIR; R[NAME.fsx] = their operations per second, R[NAME.fsxbad] = failures.
run_fsx() {
    local n=$1 d=$2 back=$3 i pids=() rc bad=0 ops=0
    [ -x "$FSX" ] && [ "$FSX_SECS" -gt 0 ] || return 0
    mkdir -p "$d/fsx"
    for i in 1 2; do
        "$FSX" -n 100000000 -t "$FSX_SECS" -s $((100 + i)) ${back:+--backing "$back/fsx"} "$d/fsx" "f$i" \
            > "$W/fsx-$n-$i.out" 2>&1 &
        pids+=($!)
    done
    for i in 1 2; do
        rc=0; wait "${pids[$((i - 1))]}" || rc=$?
        if [ $rc -ne 0 ]; then bad=$((bad + 1)); echo "# fsx on $n FAILED:" >&2; tail -20 "$W/fsx-$n-$i.out" >&2; fi
        ops=$(awk -v o="$ops" '{for (i = 1; i < NF; i++) if ($(i+1) == "operations") o += $i} END {print o + 0}' "$W/fsx-$n-$i.out")
    done
    R[$n.fsx]=$(awk -v o="$ops" -v s="$FSX_SECS" 'BEGIN{printf "%.0f", o/s}')
    R[$n.fsxbad]=$bad
    rm -rf "$d/fsx"
}

DONE=()
for peer in $ONLY; do
    mkdir -p "$W/src-$peer"
    DIR=
    setup_$peer "$W/src-$peer" "$W/mnt-$peer" && [ -n "$DIR" ] || { echo "# $peer: not available, skipped" >&2; continue; }
    d=$DIR
    echo "# running $peer on $d" >&2
    run_suite "$peer" "$d"
    DONE+=("$peer")
    mountpoint -q "$W/mnt-$peer" 2>/dev/null && { fusermount3 -u "$W/mnt-$peer" 2>/dev/null || umount -l "$W/mnt-$peer"; }
    sleep 0.5
done

# Both directions of one duct at once: A exports srcA and mounts B's srcB,
# over one socketpair; fsx writes through both mounts and checks each file
# on the exporting disk too.
BIDIR=""
if [[ " $ONLY " == *" duct "* ]] && [ -x "$FSX" ] && [ "$FSX_SECS" -gt 0 ] && command -v socat >/dev/null; then
    mkdir -p "$W"/{bA,bB,mnt-bA,mnt-bB}
    socat EXEC:"$DUCT $W/bA $W/mnt-bB" EXEC:"$DUCT $W/bB $W/mnt-bA" >/dev/null 2>"$W/bidir.err" &
    PIDS+=($!)
    if wait_mount "$W/mnt-bA" && wait_mount "$W/mnt-bB"; then
        echo "# running fsx on both directions of one duct" >&2
        run_fsx bidirAB "$W/mnt-bB" "$W/bB" &
        sub=$!
        run_fsx bidirBA "$W/mnt-bA" "$W/bA"
        wait $sub
        # run_fsx in a subshell cannot set R: read its outputs here.
        ops=0; bad=0
        for f in "$W"/fsx-bidir*.out; do
            grep -q 'operations ok' "$f" || bad=$((bad + 1))
            ops=$(awk -v o="$ops" '{for (i = 1; i < NF; i++) if ($(i+1) == "operations") o += $i} END {print o + 0}' "$f")
        done
        BIDIR="$(awk -v o="$ops" -v s="$FSX_SECS" 'BEGIN{printf "%.0f", o/s}') ops/s over 4 files (2 each way), $bad failed"
    else
        BIDIR="did not mount: $(tail -2 "$W/bidir.err")"
    fi
    fusermount3 -u "$W/mnt-bA" 2>/dev/null; fusermount3 -u "$W/mnt-bB" 2>/dev/null
fi

printf '\nduct benchmark  (big file %d MiB, 4k writes %d MiB, %d files, tree %d MiB from %s)\n' "$BIG" "$SMALL" "$NFILES" "$TREE_MB" "$TREE"
printf '%-26s' "workload"; for p in "${DONE[@]}"; do printf '%12s' "$p"; done
for p in "${DONE[@]}"; do [ "$p" != duct ] && [[ " ${DONE[*]} " == *" duct "* ]] && printf '%14s' "duct/$p"; done; echo
row() {  # key label higher-is-better(1/0)
    printf '%-26s' "$2"; for p in "${DONE[@]}"; do printf "%12s" "${R[$p.$1]:--}"; done
    for p in "${DONE[@]}"; do
        [ "$p" != duct ] && [[ " ${DONE[*]} " == *" duct "* ]] || continue
        awk -v d="${R[duct.$1]:-0}" -v o="${R[$p.$1]:-0}" -v h="$3" 'BEGIN{ if (d+0==0||o+0==0) {printf "%14s","-"} else printf "%13.2fx", (h? d/o : o/d) }'
    done; echo
}
row write "seq write MiB/s (1M)" 1
row read  "seq read MiB/s (1M)" 1
row w4k   "4k write MiB/s" 1
row meta  "create+stat+rm files/s" 1
row untar "untar tree, s" 0
row grep  "grep -r tree, s" 0
row fsx   "fsx ops/s (2 files, ${FSX_SECS}s)" 1
printf '%-26s' "fsx failures"; for p in "${DONE[@]}"; do printf '%12s' "${R[$p.fsxbad]:--}"; done; echo
[ -n "$BIDIR" ] && echo "fsx on both directions of one duct at once: $BIDIR"
echo "(ratios: >1 means duct is better; times are inverted so that holds for them too)"
