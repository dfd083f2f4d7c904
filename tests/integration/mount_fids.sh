#!/bin/bash
# mount_fids.sh — issue 9 item 3 "Too many fids": a node holds ONE fid on
# the peer. 3,000 files are stat'ed three times through a duct mount, with
# more than the 1 s entry timeout between passes, so every pass after the
# first looks each name up again (a new Twalk). Before the fix each
# re-lookup kept the old fid too (up to 4 per node): ~3 fids per file after
# three passes, and the exporting duct holds one descriptor per fid (14,000
# files hit EMFILE). Checked two ways: the exporting duct's open
# descriptors, and the mounting duct's -D trace (Twalks that made a newfid
# minus Tclunks = fids held).
source "$(dirname "$0")/lib.bash"
it_init mount_fids
need_fuse
make_side_wrapper

N=3000
E=$T/exp; M=$T/mnt
mkdir -p "$E/d" "$M"; track_mount "$M"
(cd "$E/d" && seq -f 'f%g' 1 $N | xargs touch)

# --cache-timeout 0: each pass must look every name up again (1 s timeouts)
# to show re-lookups reuse the node's fid; with the change feed nothing would.
timeout 120 "$DUCT" -D --cache-timeout 0 --exec "$T/side.sh exp $E -" - "$M" 2> "$T/mnt.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"
EP=$(side_pid exp)
[ "$EP" != 0 ] || die "no pid of the exporting duct"
fds() { ls "/proc/$EP/fd" | wc -l; }
base=$(fds)
log "exporting duct: $base descriptors before"

for pass in 1 2 3; do
    # the names, not a glob: a listing (readdirplus) would give the kernel
    # every entry again, and no name would be looked up
    n=$(cd "$M/d" && seq -f 'f%g' 1 $N | timeout 60 xargs stat -c %i -- 2>/dev/null | wc -l)
    expect_eq "pass $pass: stat of every file" $N "$n"
    [ $pass = 3 ] || sleep 1.2
done
after=$(fds)
held=$((after - base))
log "exporting duct: $after descriptors after 3 passes ($held more)"
if [ $held -le $((N + 50)) ]; then ok "fids held after 3 passes: $held <= files + 50"
else bad "fids held after 3 passes: $held, want <= $((N + 50)) (one per file)"; fi

# The trace: each pass really walked every name again, and what it walked
# it clunked but one fid per node.
walks=$(grep -Ec -- '-> Twalk(attr)? .* nwname 1 ' "$T/mnt.log" || true)
clunks=$(grep -c -- '-> Tclunk ' "$T/mnt.log" || true)
log "trace: $walks one-name Twalks, $clunks Tclunks"
if [ "$walks" -ge $((3 * N)) ]; then ok "every pass looked each name up ($walks walks)"
else bad "only $walks one-name walks: the passes did not look names up again"; fi
fids=$((walks - clunks))
if [ $fids -le $((N + 50)) ]; then ok "walks - clunks = $fids <= files + 50"
else bad "walks - clunks = $fids, want <= $((N + 50))"; fi

unmount "$M" || bad "unmount"
wait_exit $DP 20
expect_eq "duct exits 0 after the unmount" 0 "$WAIT_RC"
it_finish
