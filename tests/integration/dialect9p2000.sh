#!/bin/bash
# dialect9p2000.sh — two ducts that both force plain 9P2000 (`--dialect
# 9P2000`), joined by two pipes (`duct --exec 'duct B mntA' A mntB`). From
# EACH side, the everyday operations 9P2000 can express are done through the
# mount (9pfuse-style mapping, src/mount/p2000.cc) and checked on the
# exporting side's real directory. Side B runs with the original's msize
# (8216), so both directions negotiate it: many Treads per file and
# directory listings that span several 9P2000 directory reads. What 9P2000 cannot express (symlinks,
# hard links, xattrs, locks, rename across directories) must fail at once
# with a clear errno, never hang. Both sides must exit 0 after unmounting.
source "$(dirname "$0")/lib.bash"
it_init dialect9p2000
need_fuse
need_cmd sha256sum
need_cmd python3
make_side_wrapper

BIGMB=${DUCT_TEST_BIGMB_9P2000:-4}
head -c $((BIGMB * 1048576 + 12345)) /dev/urandom > "$T/big.src"
BIGSUM=$(sha256sum < "$T/big.src" | cut -d' ' -f1)

# errno_of WHAT PY: runs a line of Python against the mount and prints the
# errno name it raised ("ok" if none).
errno_of() {
    timeout 10 python3 -c "
import errno, os, fcntl, sys
try:
    $1
    print('ok')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
" 2>&1 || echo "timeout-or-crash"
}

exercise() {
    local who=$1 M=$2 R=$3 W
    W=work-$who
    log "exercise $who: $M (real $R)"
    check "$who: mkdir" timeout 10 mkdir "$M/$W"
    check "$who: mkdir seen on disk" test -d "$R/$W"
    check "$who: write" timeout 10 sh -c "echo 'hello from $who' > '$M/$W/hello.txt'"
    expect_eq "$who: read back through the mount" "hello from $who" "$(timeout 10 cat "$M/$W/hello.txt" 2>&1)"
    expect_eq "$who: read on disk" "hello from $who" "$(cat "$R/$W/hello.txt" 2>&1)"
    check "$who: append" timeout 10 sh -c "echo more >> '$M/$W/hello.txt'"
    expect_eq "$who: contents after append" "hello from $who
more" "$(timeout 10 cat "$M/$W/hello.txt" 2>&1)"
    check "$who: overwrite (O_TRUNC)" timeout 10 sh -c "echo short > '$M/$W/hello.txt'"
    expect_eq "$who: overwritten on disk" short "$(cat "$R/$W/hello.txt" 2>&1)"
    expect_eq "$who: written on disk, read through the mount" local \
        "$(echo local > "$R/$W/local.txt"; timeout 10 cat "$M/$W/local.txt" 2>&1)"

    # a few MiB (many Treads/Twrites at a small msize), by checksum
    check "$who: copy ${BIGMB} MiB in" timeout 120 cp "$T/big.src" "$M/$W/big"
    expect_eq "$who: big sha256 on disk" "$BIGSUM" "$(sha256sum < "$R/$W/big" | cut -d' ' -f1)"
    expect_eq "$who: big sha256 through the mount" "$BIGSUM" \
        "$(timeout 120 sha256sum < "$M/$W/big" | cut -d' ' -f1)"
    expect_eq "$who: big size" "$((BIGMB * 1048576 + 12345))" "$(timeout 10 stat -c %s "$M/$W/big" 2>&1)"

    # setattr through Twstat: chmod, truncate, times (whole seconds)
    check "$who: chmod" timeout 10 chmod 640 "$M/$W/big"
    expect_eq "$who: chmod on disk" 640 "$(stat -c %a "$R/$W/big")"
    expect_eq "$who: chmod through the mount" 640 "$(timeout 10 stat -c %a "$M/$W/big" 2>&1)"
    check "$who: truncate" timeout 10 truncate -s 1000 "$M/$W/big"
    expect_eq "$who: truncated on disk" 1000 "$(stat -c %s "$R/$W/big")"
    expect_eq "$who: truncated through the mount" 1000 "$(timeout 10 stat -c %s "$M/$W/big" 2>&1)"
    check "$who: touch -d" timeout 10 touch -d "2009-08-06 12:34:56 UTC" "$M/$W/big"
    expect_eq "$who: mtime on disk" 1249562096 "$(stat -c %Y "$R/$W/big")"
    expect_eq "$who: mtime through the mount" 1249562096 "$(timeout 10 stat -c %Y "$M/$W/big" 2>&1)"
    check "$who: rm big" timeout 10 rm "$M/$W/big"
    check "$who: removed on disk" test ! -e "$R/$W/big"

    # 200 files in one directory (several 9P2000 directory reads)
    check "$who: mkdir many" timeout 10 mkdir "$M/$W/many"
    check "$who: create 200 files" timeout 60 bash -c "for i in \$(seq 200); do echo \$i > '$M/$W/many/file-with-a-longish-name-'\$i || exit 1; done"
    expect_eq "$who: ls counts 200 through the mount" 200 "$(timeout 30 ls "$M/$W/many" | wc -l)"
    expect_eq "$who: 200 on disk" 200 "$(ls "$R/$W/many" | wc -l)"
    expect_eq "$who: one reads back" 177 "$(timeout 10 cat "$M/$W/many/file-with-a-longish-name-177" 2>&1)"
    check "$who: rm -r 200 files" timeout 60 rm -rf "$M/$W/many"
    check "$who: removed on disk" test ! -e "$R/$W/many"

    # mkdir / rmdir
    check "$who: mkdir -p" timeout 10 mkdir -p "$M/$W/d1/sub" "$M/$W/d2"
    if timeout 10 rmdir "$M/$W/d1" 2>/dev/null; then bad "$who: rmdir of a non-empty dir succeeded"
    else ok "$who: rmdir of a non-empty dir refused"; fi
    expect_eq "$who: rmdir of a file" ENOTDIR "$(errno_of "os.rmdir('$M/$W/local.txt')")"
    expect_eq "$who: unlink of a dir" EISDIR "$(errno_of "os.unlink('$M/$W/d2')")"
    check "$who: rmdir" timeout 10 rmdir "$M/$W/d1/sub"
    check "$who: rmdir seen on disk" test ! -e "$R/$W/d1/sub"

    # rename: within a directory by Twstat; over an existing name; across
    # directories EXDEV, and mv copies instead
    check "$who: rename within a dir" timeout 10 mv "$M/$W/local.txt" "$M/$W/renamed.txt"
    check "$who: renamed on disk" test -f "$R/$W/renamed.txt" -a ! -e "$R/$W/local.txt"
    echo old > "$R/$W/target.txt"
    check "$who: rename over an existing file" timeout 10 mv -f "$M/$W/renamed.txt" "$M/$W/target.txt"
    expect_eq "$who: replaced on disk" local "$(cat "$R/$W/target.txt" 2>&1)"
    check "$who: rename a directory" timeout 10 mv "$M/$W/d1" "$M/$W/d1moved"
    check "$who: directory renamed on disk" test -d "$R/$W/d1moved" -a ! -e "$R/$W/d1"
    expect_eq "$who: rename across dirs" EXDEV \
        "$(errno_of "os.rename('$M/$W/target.txt', '$M/$W/d2/x')")"
    check "$who: mv across dirs (copies)" timeout 10 mv "$M/$W/target.txt" "$M/$W/d2/y"
    check "$who: moved on disk" test ! -e "$R/$W/target.txt" -a -f "$R/$W/d2/y"
    expect_eq "$who: moved file reads" local "$(timeout 10 cat "$M/$W/d2/y" 2>&1)"

    # what 9P2000 cannot express: clear errors, at once
    expect_eq "$who: symlink" EPERM "$(errno_of "os.symlink('y', '$M/$W/d2/link')")"
    expect_eq "$who: hard link" EPERM "$(errno_of "os.link('$M/$W/d2/y', '$M/$W/d2/hard')")"
    expect_eq "$who: mkfifo" EPERM "$(errno_of "os.mkfifo('$M/$W/d2/fifo')")"
    # (Linux's EOPNOTSUPP and ENOTSUP are one number; Python names it ENOTSUP.)
    expect_eq "$who: setxattr" ENOTSUP "$(errno_of "os.setxattr('$M/$W/d2/y', 'user.k', b'v')")"
    expect_eq "$who: getxattr" ENOTSUP "$(errno_of "os.getxattr('$M/$W/d2/y', 'user.k')")"
    expect_eq "$who: fcntl lock" ENOTSUP \
        "$(errno_of "fcntl.lockf(open('$M/$W/d2/y', 'r+'), fcntl.LOCK_EX | fcntl.LOCK_NB)")"
    check "$who: statfs (df) works" timeout 10 df "$M"
    check "$who: fsync works" timeout 10 python3 -c "
import os
fd = os.open('$M/$W/d2/y', os.O_RDWR); os.write(fd, b'sync'); os.fsync(fd); os.close(fd)"
    check "$who: rm -r" timeout 30 rm -rf "$M/$W"
    check "$who: gone on disk" test ! -e "$R/$W"
}

A=$T/a; B=$T/b; MA=$T/mnt-a; MB=$T/mnt-b
mkdir -p "$A" "$B" "$MA" "$MB"
echo "I am A" > "$A/who"; echo "I am B" > "$B/who"
track_mount "$MA"; track_mount "$MB"
log "starting: duct --dialect 9P2000 --exec 'duct --dialect 9P2000 $B $MA' $A $MB"
timeout 300 "$DUCT" -v --dialect 9P2000 --exec "$T/side.sh b -v --dialect 9P2000 --msize 8216 $B $MA" "$A" "$MB" 2>>"$T/a.log" &
APID=$!; track_pid $APID
if wait_mounted "$MA" 15 && wait_mounted "$MB" 15; then ok "both sides mounted"
else die "mounts did not appear (a.log: $(tail -3 "$T/a.log" 2>/dev/null); b.log: $(tail -3 "$T/b.log" 2>/dev/null))"; fi
expect_eq "A sees B's export" "I am B" "$(timeout 10 cat "$MB/who" 2>&1)"
expect_eq "B sees A's export" "I am A" "$(timeout 10 cat "$MA/who" 2>&1)"
check "A's mount speaks 9P2000" grep -q "mounted (9P2000," "$T/a.log"
check "B's mount speaks 9P2000" grep -q "mounted (9P2000," "$T/b.log"
check "B's mount uses msize 8216" grep -q "mounted (9P2000, msize 8216)" "$T/b.log"
check "A's mount uses msize 8216" grep -q "mounted (9P2000, msize 8216)" "$T/a.log"

exercise A-to-B "$MB" "$B"
exercise B-to-A "$MA" "$A"

check "unmount mnt-b (A's mount)" unmount "$MB"
check "unmount mnt-a (B's mount)" unmount "$MA"
wait_exit $APID 10
expect_eq "side A exits 0" 0 "$WAIT_RC"
expect_eq "side B exits 0" 0 "$(wait_file_rc "$T/b.rc" 10)"
check "no mounts left" bash -c "! awk '{print \$2}' /proc/mounts | grep -q '^$T/'"
it_finish
