#!/bin/bash
# identity.sh — file identity when the export spans file systems (issue 9,
# item 1). Two tmpfs are mounted inside the export, so their files have the
# same inode numbers (a/f and b/g are both the first file of a fresh tmpfs).
# Through a duct mount (two ducts joined by pipes: the mounting duct --execs
# the exporting one) both are read and written, and the contents are compared
# on the exporting disk: a write to one must never land in the other. Their
# st_ino through the mount must differ, and stay the same across a rename
# (through the mount and on the exporting side) and for a hard link; a file
# of the export root's own file system keeps its inode number.
source "$(dirname "$0")/lib.bash"
it_init identity
need_fuse
[ "$(id -u)" = 0 ] || skip "needs root to mount tmpfs"

E=$T/exp; M=$T/mnt
mkdir -p "$E/a" "$E/b" "$M"
mount -t tmpfs -o size=4m duct-it-a "$E/a" || skip "cannot mount tmpfs"
track_mount "$E/a"
mount -t tmpfs -o size=4m duct-it-b "$E/b" || skip "cannot mount tmpfs"
track_mount "$E/b"
echo "I am a/f" > "$E/a/f"
echo "I am b/g" > "$E/b/g"
echo "I am top" > "$E/top"
expect_eq "precondition: a/f and b/g have one inode number on disk" \
    "$(stat -c %i "$E/a/f")" "$(stat -c %i "$E/b/g")"

track_mount "$M"
timeout 120 "$DUCT" --exec "$DUCT $E -" - "$M" 2>>"$T/duct.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 15 || die "no mount (duct.log: $(tail -3 "$T/duct.log" 2>/dev/null))"

# stat both first, so the mount's inode table knows both nodes
ia=$(timeout 10 stat -c %i "$M/a/f"); ib=$(timeout 10 stat -c %i "$M/b/g")
log "st_ino through the mount: a/f $ia, b/g $ib (on disk both $(stat -c %i "$E/a/f"))"
if [ -n "$ia" ] && [ "$ia" != "$ib" ]; then ok "a/f and b/g have different st_ino through the mount"
else bad "a/f and b/g share st_ino '$ia' through the mount"; fi
expect_eq "read a/f through the mount" "I am a/f" "$(timeout 10 cat "$M/a/f" 2>&1)"
expect_eq "read b/g through the mount" "I am b/g" "$(timeout 10 cat "$M/b/g" 2>&1)"

check "write a/f through the mount" timeout 10 sh -c "echo 'new a' > '$M/a/f'"
expect_eq "a/f on disk has the write" "new a" "$(cat "$E/a/f")"
expect_eq "b/g on disk is untouched" "I am b/g" "$(cat "$E/b/g")"
check "write b/g through the mount" timeout 10 sh -c "echo 'new b' > '$M/b/g'"
expect_eq "b/g on disk has the write" "new b" "$(cat "$E/b/g")"
expect_eq "a/f on disk is untouched" "new a" "$(cat "$E/a/f")"
expect_eq "read a/f through the mount after both writes" "new a" "$(timeout 10 cat "$M/a/f" 2>&1)"
expect_eq "read b/g through the mount after both writes" "new b" "$(timeout 10 cat "$M/b/g" 2>&1)"

# directory listings carry the same identity (readdir's d_ino)
expect_eq "ls -i of a/ shows a/f's st_ino" "$ia" "$(timeout 10 ls -i "$M/a" | awk '$2 == "f" {print $1}')"
expect_eq "ls -i of b/ shows b/g's st_ino" "$ib" "$(timeout 10 ls -i "$M/b" | awk '$2 == "g" {print $1}')"

# stable across renames and for hard links
check "rename a/f to a/f2 through the mount" timeout 10 mv "$M/a/f" "$M/a/f2"
expect_eq "st_ino unchanged by the rename" "$ia" "$(timeout 10 stat -c %i "$M/a/f2" 2>&1)"
check "hard link a/f2 as a/h through the mount" timeout 10 ln "$M/a/f2" "$M/a/h"
expect_eq "the hard link has the same st_ino" "$ia" "$(timeout 10 stat -c %i "$M/a/h" 2>&1)"
expect_eq "the hard link reads a/f's data" "new a" "$(timeout 10 cat "$M/a/h" 2>&1)"
mv "$E/b/g" "$E/b/g2"
expect_eq "st_ino unchanged by a rename on the exporting side" "$ib" "$(timeout 10 stat -c %i "$M/b/g2" 2>&1)"
check "write through the renamed b/g2" timeout 10 sh -c "echo 'newer b' > '$M/b/g2'"
expect_eq "b/g2 on disk has it" "newer b" "$(cat "$E/b/g2")"
expect_eq "a/f2 on disk is untouched" "new a" "$(cat "$E/a/f2")"

# the export root's own file system keeps its inode numbers
expect_eq "a file on the root's file system keeps its st_ino" \
    "$(stat -c %i "$E/top")" "$(timeout 10 stat -c %i "$M/top" 2>&1)"
# the two tmpfs roots are different directories too
ra=$(timeout 10 stat -c %i "$M/a"); rb=$(timeout 10 stat -c %i "$M/b")
if [ -n "$ra" ] && [ "$ra" != "$rb" ]; then ok "the two tmpfs roots differ in st_ino"
else bad "the two tmpfs roots share st_ino '$ra'"; fi

check "unmount" unmount "$M"
wait_unmounted "$M" 10 || bad "mount still there"
wait_exit $DP 30
expect_eq "the mounting duct exits 0 after the unmount" 0 "$WAIT_RC"
# the exporting duct has exited with its peer: the tmpfs can go
for d in "$E/a" "$E/b"; do
    for i in 1 2 3 4 5 6 7 8 9 10; do umount "$d" 2>/dev/null && break; sleep 0.3; done
done
it_finish
