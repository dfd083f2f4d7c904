#!/bin/bash
# demo.sh — the local demo: two ducts joined by a pipe, each exporting a
# directory and mounting the other's:
#   build/duct --exec 'build/duct /tmp/duct-demo/b /tmp/duct-demo/mnt-a' \
#              /tmp/duct-demo/a /tmp/duct-demo/mnt-b
# Side A exports a/ and mounts B's b/ on mnt-b; side B exports b/ and mounts
# A's a/ on mnt-a. Shows both mounts from each side, unmounts both, and shows
# that both ducts exit 0. Needs root (or fuse access) and a built build/duct.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DUCT_BUILD:-build}; case $B in /*) ;; *) B=$PWD/$B ;; esac
DUCT=$B/duct
D=${DUCT_DEMO_DIR:-${TMPDIR:-/tmp}/duct-demo}
[ -x "$DUCT" ] || { echo "demo: no $DUCT; run scripts/build.sh first" >&2; exit 1; }

mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }
for m in "$D/mnt-a" "$D/mnt-b"; do mounted "$m" && { fusermount3 -u "$m" || umount -l "$m"; }; done
rm -rf "$D"
mkdir -p "$D/a" "$D/b" "$D/mnt-a" "$D/mnt-b"
echo "a file on side A" > "$D/a/from-a.txt"
echo "a file on side B" > "$D/b/from-b.txt"

APID=
cleanup() {
    for m in "$D/mnt-a" "$D/mnt-b"; do mounted "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }; done
    [ -n "$APID" ] && kill "$APID" 2>/dev/null || true
}
trap cleanup EXIT

echo "\$ duct --exec 'duct $D/b $D/mnt-a' $D/a $D/mnt-b &"
"$DUCT" --exec "$DUCT $D/b $D/mnt-a; echo \$? > $D/b.status" "$D/a" "$D/mnt-b" &
APID=$!
for _ in $(seq 100); do mounted "$D/mnt-a" && mounted "$D/mnt-b" && break; sleep 0.1; done
mounted "$D/mnt-a" && mounted "$D/mnt-b" || { echo "demo: the mounts did not appear" >&2; exit 1; }
echo
echo "== side A sees B's export at mnt-b:"; echo "\$ ls -l $D/mnt-b"; timeout 10 ls -l "$D/mnt-b"
echo "== side B sees A's export at mnt-a:"; echo "\$ ls -l $D/mnt-a"; timeout 10 ls -l "$D/mnt-a"
echo "== each side writes into the other's directory:"
echo "\$ echo hi from A > $D/mnt-b/written-by-a.txt; echo hi from B > $D/mnt-a/written-by-b.txt"
timeout 10 sh -c "echo hi from A > '$D/mnt-b/written-by-a.txt'"
timeout 10 sh -c "echo hi from B > '$D/mnt-a/written-by-b.txt'"
echo "\$ cat $D/b/written-by-a.txt $D/a/written-by-b.txt"
cat "$D/b/written-by-a.txt" "$D/a/written-by-b.txt"
echo "\$ ls $D/mnt-a $D/mnt-b"; timeout 10 ls "$D/mnt-a" "$D/mnt-b"
echo
echo "== unmount both:"
echo "\$ fusermount3 -u $D/mnt-b; fusermount3 -u $D/mnt-a"
fusermount3 -u "$D/mnt-b"
sleep 0.3
fusermount3 -u "$D/mnt-a"
rc=0
for _ in $(seq 100); do kill -0 $APID 2>/dev/null || break; sleep 0.1; done
wait $APID || rc=$?
APID=
echo "demo: side A (duct --exec ... $D/a $D/mnt-b) exited with status $rc"
for _ in $(seq 50); do [ -s "$D/b.status" ] && break; sleep 0.1; done
rcb=$(cat "$D/b.status" 2>/dev/null || echo unknown)
echo "demo: side B (duct $D/b $D/mnt-a) exited with status $rcb"
[ "$rc" = 0 ] && [ "$rcb" = 0 ]
