#!/bin/bash
# lifecycle.sh — the mount's lifecycle (issue 9 items 10, 13, 15), two real
# ducts over --exec socketpairs; the outer duct (this shell's child) mounts,
# the inner one (side.sh) exports.
#  10. unmount with 14,000 cached files: every Tclunk but the root's is sent
#      before the first Rclunk comes back (the exporting duct is SIGSTOPped
#      meanwhile, so no answer can come), the root's after every other Rclunk.
#  13. a second duct on a mounted mount point is refused (exit 1, a clear
#      message, no second mount); SIGTERM of the first unmounts its own
#      mount and exits 0; a tmpfs stacked on top of a duct mount is left
#      alone by duct's teardown.
#  15. SIGTERM with 8 MiB dirty in a shared mmap of a file on the mount: the
#      data reaches the exporting disk, and duct exits non-zero naming the
#      open file it cut off; SIGTERM with nothing open exits 0.
source "$(dirname "$0")/lib.bash"
it_init lifecycle
need_fuse
need_cmd python3
make_side_wrapper

# start_mount TAG EXPORT MOUNTPOINT [duct options]: outer duct (pid in
# MPID, stderr in $T/TAG.log) mounts the inner duct's export of EXPORT.
start_mount() {
    local tag=$1 exp=$2 mp=$3; shift 3
    track_mount "$mp"
    "$DUCT" "$@" --exec "$T/side.sh in$tag $exp -" - "$mp" 2>>"$T/$tag.log" &
    MPID=$!; track_pid $MPID
    if wait_mounted "$mp" 15; then ok "$tag: mounted"; else die "$tag: $mp did not appear"; fi
}
mounts_at() { awk -v m="$1" '$2 == m {n++} END {print n+0}' /proc/mounts; }

# ---- 10. unmount clunks every fid at once ----
N=14000
E10=$T/e10; M10=$T/m10
mkdir -p "$E10/d" "$M10"
(cd "$E10/d" && seq -f 'f%g' 1 $N | xargs touch)
# Without readdirplus (an older duct): the stats below then give every node
# a fid, which is what the unmount must clunk (a listed node has none).
DUCT_TEST_NO_RDP=1 start_mount 10 "$E10" "$M10" -D
got=$(cd "$M10/d" && ls -f | grep -c '^f' || true)
expect_eq "10: the mount lists $N files" $N "$got"
(cd "$M10/d" && ls -f | grep '^f' | xargs stat -c %i > /dev/null) || bad "10: stat of $N files"
IN10=$(side_pid in10)
[ "$IN10" != 0 ] || die "10: no pid for the exporting duct"
# No answer can come while the exporter is stopped: whatever the mounting
# duct sends meanwhile, it sends without waiting for a reply. Wait until
# its Tclunks stop coming (1 s without a new one).
mark=$(wc -l < "$T/10.log")
kill -STOP "$IN10"
t0=$(date +%s%N)
check "10: fusermount3 -u" unmount "$M10"
sent=0; prev=-1; still=0
for ((i = 0; i < 80 && still < 10; i++)); do
    sent=$(tail -n +$((mark + 1)) "$T/10.log" | grep -c -- '-> Tclunk ' || true)
    if [ "$sent" = "$prev" ]; then still=$((still + 1)); else still=0; prev=$sent; fi
    sleep 0.1
done
replied=$(tail -n +$((mark + 1)) "$T/10.log" | grep -c -- '<- Rclunk ' || true)
kill -CONT "$IN10"
wait_exit $MPID 20
t1=$(date +%s%N)
expect_eq "10: the mounting duct exits 0" 0 "$WAIT_RC"
expect_eq "10: the exporting duct exits 0" 0 "$(wait_file_rc "$T/in10.rc" 10)"
log "10: unmount to exit (exporter stopped for part of it): $(( (t1 - t0) / 1000000 )) ms"
# The root fid (the one Tattach named) is clunked last: after every other Rclunk.
tail -n +$((mark + 1)) "$T/10.log" > "$T/10.after"
rootfid=$(grep -m1 -Eo 'Tattach tag [0-9]+ fid [0-9]+' "$T/10.log" | awk '{print $5}')
rootline=$(grep -n -E -- "-> Tclunk tag [0-9]+ fid $rootfid\$" "$T/10.after" | tail -1 | cut -d: -f1)
lastr=$(grep -n -- '<- Rclunk ' "$T/10.after" | tail -2 | head -1 | cut -d: -f1)
nclunk=$(grep -c -- '-> Tclunk ' "$T/10.after" || true)
nr=$(grep -c -- '<- Rclunk ' "$T/10.after" || true)
expect_eq "10: every Tclunk answered" "$nclunk" "$nr"
# All but the root's went out while no answer could come: one round trip
# for all of them, not one each. (Counted from the trace, not assumed to be
# $N: the kernel may have forgotten some nodes before the unmount.)
held=$((nclunk - 1))
log "10: with the exporter stopped: $sent of the $nclunk Tclunks sent, $replied Rclunks"
if [ "$held" -ge 2 ] && [ "$sent" -eq "$held" ] && [ "$replied" -eq 0 ]; then
    ok "10: all $sent Tclunks but the root's sent before any reply"
else bad "10: $sent Tclunks sent before any reply ($replied replies), want all $held but the root's"; fi
[ "$held" -ge 10000 ] || log "10: only $held of $N nodes were still cached at the unmount"
if [ -n "$rootline" ] && [ -n "$lastr" ] && [ "$rootline" -gt "$lastr" ]; then
    ok "10: the root fid $rootfid is clunked after every other fid was answered"
else bad "10: root fid '$rootfid' Tclunk at line '$rootline', last other Rclunk at line '$lastr'"; fi

# ---- 13. two ducts on one mount point ----
E13=$T/e13; M13=$T/m13
mkdir -p "$E13" "$M13"; echo first > "$E13/who"
start_mount 13a "$E13" "$M13"
P13A=$MPID
E13B=$T/e13b; mkdir -p "$E13B"; echo second > "$E13B/who"
rc=0
timeout 10 "$DUCT" --exec "$T/side.sh in13b $E13B -" - "$M13" 2> "$T/13b.log" || rc=$?
expect_eq "13: a second duct on a mounted mount point exits 1" 1 "$rc"
check "13: ... saying it is already a mount point" grep -q "already a mount point" "$T/13b.log"
log "13: second duct said: $(grep -m1 'already' "$T/13b.log" || head -1 "$T/13b.log")"
expect_eq "13: one mount at the mount point" 1 "$(mounts_at "$M13")"
expect_eq "13: the first duct's mount still serves its export" first "$(timeout 10 cat "$M13/who" 2>&1)"
kill -TERM $P13A
wait_exit $P13A 10
expect_eq "13: SIGTERM: the first duct exits 0" 0 "$WAIT_RC"
expect_eq "13: ... and its mount is gone" 0 "$(mounts_at "$M13")"

# someone else's mount on top of ours is not ours to unmount
start_mount 13c "$E13" "$M13"
P13C=$MPID
if mount -t tmpfs lifecycle-on-top "$M13"; then
    track_mount "$M13"
    kill -TERM $P13C
    wait_exit $P13C 10
    log "13: stacked: duct exit status $WAIT_RC; $(grep -m1 'on top' "$T/13c.log" || true)"
    if [ "$WAIT_RC" != timeout ]; then ok "13: stacked: duct exits after SIGTERM ($WAIT_RC)"
    else bad "13: stacked: duct still runs 10 s after SIGTERM"; fi
    check "13: stacked: the tmpfs on top is still mounted" \
        awk -v m="$M13" '$2 == m && $1 == "lifecycle-on-top" {f=1} END {exit !f}' /proc/mounts
    check "13: stacked: duct says why it left the mount point alone" grep -q "on top of" "$T/13c.log"
    umount "$M13" 2>/dev/null || true
    # our own (disconnected) mount below the tmpfs
    while is_mounted "$M13"; do umount -l "$M13" 2>/dev/null || break; done
else
    log "13: cannot mount a tmpfs here; the stacked case is not checked"
fi

# ---- 15. SIGTERM flushes dirty mmap pages; open files make it exit 1 ----
E15=$T/e15; M15=$T/m15
mkdir -p "$E15" "$M15"
start_mount 15 "$E15" "$M15"
cat > "$T/mmap_writer.py" <<'EOF'
import hashlib, mmap, os, sys, time
path, sumfile = sys.argv[1], sys.argv[2]
size = 8 << 20
data = os.urandom(size)
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, size)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[:] = data
with open(sumfile + ".tmp", "w") as f:
    f.write(hashlib.sha256(data).hexdigest() + "\n")
os.rename(sumfile + ".tmp", sumfile)
time.sleep(300)  # neither msync nor munmap nor exit
EOF
python3 "$T/mmap_writer.py" "$M15/mm" "$T/mm.sum" &
WPID=$!; track_pid $WPID
for ((i = 0; i < 200; i++)); do [ -s "$T/mm.sum" ] && break; sleep 0.1; done
[ -s "$T/mm.sum" ] || bad "15: the mmap writer did not get going"
kill -TERM $MPID
wait_exit $MPID 30
log "15: exit status with a file still mapped: $WAIT_RC; $(grep -m1 'cut off' "$T/15.log" || true)"
case "$WAIT_RC" in 0|timeout) bad "15: SIGTERM with an open file: exit status $WAIT_RC (want non-zero)";;
*) ok "15: SIGTERM with an open file exits non-zero ($WAIT_RC)";; esac
check "15: ... naming the one open file it cut off" grep -q "1 open file.*cut off" "$T/15.log"
expect_eq "15: the 8 MiB written into the mmap are on the exporting disk" \
    "$(cat "$T/mm.sum")" "$(sha256sum < "$E15/mm" | cut -d' ' -f1)"
kill -KILL $WPID 2>/dev/null; wait $WPID 2>/dev/null || true
check "15: the mount is gone" wait_unmounted "$M15" 5

# nothing open: SIGTERM exits 0
start_mount 15b "$E15" "$M15"
timeout 10 sh -c "echo closed > '$M15/closed'" || bad "15b: write"
kill -TERM $MPID
wait_exit $MPID 10
expect_eq "15b: SIGTERM with nothing open exits 0" 0 "$WAIT_RC"
expect_eq "15b: what was written is on the disk" closed "$(cat "$E15/closed" 2>&1)"
if grep -q "cut off" "$T/15b.log"; then bad "15b: claims files were cut off"; else ok "15b: no files cut off"; fi

it_finish
