#!/bin/bash
# pair.sh — two ducts mount each other's exports, joined (1) by two pipes
# (`duct --exec 'duct B mntA' A mntB`) and (2) by socketpairs through socat.
# From EACH side, every everyday operation is done through the mount and
# checked both through the mount and on the exporting side's real directory.
source "$(dirname "$0")/lib.bash"
it_init pair
need_fuse
need_cmd sha256sum
make_side_wrapper

BIGMB=${DUCT_TEST_BIGMB:-100}
head -c $((BIGMB * 1048576)) /dev/urandom > "$T/big.src"
BIGSUM=$(sha256sum < "$T/big.src" | cut -d' ' -f1)

# exercise WHO MNT REAL [full]: MNT is the peer's export as mounted here, REAL
# is that export's directory on disk.
exercise() {
    local who=$1 M=$2 R=$3 full=${4:-full} W
    W=work-$who
    log "exercise $who: $M (real $R)"
    check "$who: mkdir" timeout 10 mkdir "$M/$W"
    check "$who: mkdir seen on the exporting side" test -d "$R/$W"
    check "$who: write" timeout 10 sh -c "echo 'hello from $who' > '$M/$W/hello.txt'"
    expect_eq "$who: read back through the mount" "hello from $who" "$(timeout 10 cat "$M/$W/hello.txt" 2>&1)"
    expect_eq "$who: read on the exporting side" "hello from $who" "$(cat "$R/$W/hello.txt" 2>&1)"
    check "$who: append" timeout 10 sh -c "echo more >> '$M/$W/hello.txt'"
    expect_eq "$who: size after append" "$(( ${#who} + 12 + 5 ))" "$(timeout 10 stat -c %s "$M/$W/hello.txt" 2>&1)"
    expect_eq "$who: write from the exporting side, read through the mount" "local" \
        "$(echo local > "$R/$W/local.txt"; timeout 10 cat "$M/$W/local.txt" 2>&1)"

    # a big file, compared by checksum through the mount and on disk
    local t0 t1
    t0=$(date +%s.%N)
    check "$who: copy a ${BIGMB} MiB file in" timeout 120 cp "$T/big.src" "$M/$W/big"
    t1=$(date +%s.%N)
    log "$who: ${BIGMB} MiB written in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s"
    expect_eq "$who: big file sha256 on disk" "$BIGSUM" "$(sha256sum < "$R/$W/big" | cut -d' ' -f1)"
    expect_eq "$who: big file sha256 through the mount" "$BIGSUM" \
        "$(timeout 120 sha256sum < "$M/$W/big" | cut -d' ' -f1)"
    expect_eq "$who: big file size" "$((BIGMB * 1048576))" "$(timeout 10 stat -c %s "$M/$W/big" 2>&1)"
    if [ "$full" != full ]; then
        check "$who: rename" timeout 10 mv "$M/$W/hello.txt" "$M/$W/renamed.txt"
        check "$who: rename seen on disk" test -f "$R/$W/renamed.txt" -a ! -e "$R/$W/hello.txt"
        check "$who: rm -r" timeout 30 rm -rf "$M/$W"
        check "$who: gone on disk" test ! -e "$R/$W"
        return 0
    fi
    timeout 30 rm -f "$M/$W/big" || bad "$who: rm big"

    # 1,000 files in one directory
    check "$who: mkdir many" timeout 10 mkdir "$M/$W/many"
    check "$who: create 1000 files" timeout 120 bash -c "for i in \$(seq 1000); do echo \$i > '$M/$W/many/f'\$i || exit 1; done"
    expect_eq "$who: ls counts 1000 through the mount" 1000 "$(timeout 60 ls "$M/$W/many" | wc -l)"
    expect_eq "$who: 1000 files on disk" 1000 "$(ls "$R/$W/many" | wc -l)"
    expect_eq "$who: one of them reads back" 777 "$(timeout 10 cat "$M/$W/many/f777" 2>&1)"
    check "$who: remove 1000 files" timeout 120 rm -rf "$M/$W/many"
    check "$who: removed on disk" test ! -e "$R/$W/many"

    # mkdir / rmdir
    check "$who: mkdir -p" timeout 10 mkdir -p "$M/$W/d1/sub" "$M/$W/d2"
    if timeout 10 rmdir "$M/$W/d1" 2>/dev/null; then bad "$who: rmdir of a non-empty dir succeeded"
    else ok "$who: rmdir of a non-empty dir refused"; fi
    check "$who: rmdir" timeout 10 rmdir "$M/$W/d1/sub"
    check "$who: rmdir seen on disk" test ! -e "$R/$W/d1/sub"

    # rename across directories
    echo moved > "$R/$W/d1/x"
    check "$who: rename across dirs" timeout 10 mv "$M/$W/d1/x" "$M/$W/d2/y"
    check "$who: renamed on disk" test ! -e "$R/$W/d1/x" -a -f "$R/$W/d2/y"
    expect_eq "$who: renamed file reads" moved "$(timeout 10 cat "$M/$W/d2/y" 2>&1)"
    check "$who: rename a directory" timeout 10 mv "$M/$W/d1" "$M/$W/d2/d1moved"
    check "$who: directory renamed on disk" test -d "$R/$W/d2/d1moved" -a ! -e "$R/$W/d1"

    # symlink / readlink
    check "$who: symlink" timeout 10 ln -s d2/y "$M/$W/link"
    expect_eq "$who: readlink through the mount" d2/y "$(timeout 10 readlink "$M/$W/link" 2>&1)"
    expect_eq "$who: readlink on disk" d2/y "$(readlink "$R/$W/link" 2>&1)"
    expect_eq "$who: read through the symlink" moved "$(timeout 10 cat "$M/$W/link" 2>&1)"

    # hard link
    check "$who: hard link" timeout 10 ln "$M/$W/d2/y" "$M/$W/hard"
    expect_eq "$who: link count through the mount" 2 "$(timeout 10 stat -c %h "$M/$W/d2/y" 2>&1)"
    expect_eq "$who: link count on disk" 2 "$(stat -c %h "$R/$W/d2/y" 2>&1)"
    expect_eq "$who: same inode on disk" "$(stat -c %i "$R/$W/d2/y")" "$(stat -c %i "$R/$W/hard")"

    # chmod
    check "$who: chmod 640" timeout 10 chmod 640 "$M/$W/hard"
    expect_eq "$who: mode through the mount" 640 "$(timeout 10 stat -c %a "$M/$W/hard" 2>&1)"
    expect_eq "$who: mode on disk" 640 "$(stat -c %a "$R/$W/hard" 2>&1)"
    check "$who: chmod 755 dir" timeout 10 chmod 755 "$M/$W/d2"
    expect_eq "$who: dir mode on disk" 755 "$(stat -c %a "$R/$W/d2" 2>&1)"

    # truncate
    echo "0123456789" > "$R/$W/t"
    check "$who: truncate shorter" timeout 10 truncate -s 5 "$M/$W/t"
    expect_eq "$who: truncated content" 01234 "$(timeout 10 cat "$M/$W/t" 2>&1)"
    expect_eq "$who: truncated size on disk" 5 "$(stat -c %s "$R/$W/t")"
    check "$who: truncate longer" timeout 10 truncate -s 4096 "$M/$W/t"
    expect_eq "$who: extended size on disk" 4096 "$(stat -c %s "$R/$W/t")"

    # utimes
    check "$who: touch -d" timeout 10 touch -d '2001-02-03 04:05:06 UTC' "$M/$W/t"
    expect_eq "$who: mtime through the mount" 981173106 "$(timeout 10 stat -c %Y "$M/$W/t" 2>&1)"
    expect_eq "$who: mtime on disk" 981173106 "$(stat -c %Y "$R/$W/t" 2>&1)"
    check "$who: touch -a -d" timeout 10 touch -a -d '2002-01-01 00:00:00 UTC' "$M/$W/t"
    expect_eq "$who: atime on disk" 1009843200 "$(stat -c %X "$R/$W/t" 2>&1)"

    # unlink, and the whole tree
    check "$who: unlink" timeout 10 rm "$M/$W/hard" "$M/$W/link"
    check "$who: unlinked on disk" test ! -e "$R/$W/hard" -a ! -L "$R/$W/link"
    expect_eq "$who: link count back to 1" 1 "$(stat -c %h "$R/$W/d2/y")"
    check "$who: rm -r" timeout 30 rm -rf "$M/$W"
    check "$who: gone on disk" test ! -e "$R/$W"
}

# stop_pair NAME_A RC_A_SOURCE ...: unmount both, both must exit 0.
unmount_both() {
    local MA=$1 MB=$2
    check "unmount mnt-b (side A's mount)" unmount "$MB"
    check "unmount mnt-a (side B's mount)" unmount "$MA"
}

# ---- 1. two pipes: duct --exec 'duct B mntA' A mntB ----
A=$T/a; B=$T/b; MA=$T/mnt-a; MB=$T/mnt-b
mkdir -p "$A" "$B" "$MA" "$MB"
echo "I am A" > "$A/who"; echo "I am B" > "$B/who"
track_mount "$MA"; track_mount "$MB"
log "starting: duct --exec 'duct $B $MA' $A $MB"
timeout 600 "$DUCT" --exec "$T/side.sh b $B $MA" "$A" "$MB" 2>>"$T/a.log" &
APID=$!; track_pid $APID
if wait_mounted "$MA" 15 && wait_mounted "$MB" 15; then ok "pipes: both sides mounted"
else die "pipes: mounts did not appear (a.log: $(tail -3 "$T/a.log" 2>/dev/null); b.log: $(tail -3 "$T/b.log" 2>/dev/null))"; fi
expect_eq "pipes: A sees B's export" "I am B" "$(timeout 10 cat "$MB/who" 2>&1)"
expect_eq "pipes: B sees A's export" "I am A" "$(timeout 10 cat "$MA/who" 2>&1)"

exercise A-to-B "$MB" "$B"
exercise B-to-A "$MA" "$A"

# both directions at once
check "pipes: both directions at once" timeout 120 bash -c "
    cp '$T/big.src' '$MB/both' & p1=\$!
    cp '$T/big.src' '$MA/both' & p2=\$!
    wait \$p1 && wait \$p2"
expect_eq "pipes: concurrent copy to B" "$BIGSUM" "$(sha256sum < "$B/both" | cut -d' ' -f1)"
expect_eq "pipes: concurrent copy to A" "$BIGSUM" "$(sha256sum < "$A/both" | cut -d' ' -f1)"
rm -f "$A/both" "$B/both"

unmount_both "$MA" "$MB"
wait_exit $APID 10
expect_eq "pipes: side A exits 0" 0 "$WAIT_RC"
expect_eq "pipes: side B exits 0" 0 "$(wait_file_rc "$T/b.rc" 10)"
check "pipes: no mounts left" bash -c "! awk '{print \$2}' /proc/mounts | grep -q '^$T/'"

# ---- 2. socketpairs: socat EXEC:'duct A mntB' EXEC:'duct B mntA' ----
if command -v socat >/dev/null; then
    A=$T/a2; B=$T/b2; MA=$T/mnt-a2; MB=$T/mnt-b2
    mkdir -p "$A" "$B" "$MA" "$MB"
    echo "I am A2" > "$A/who"; echo "I am B2" > "$B/who"
    track_mount "$MA"; track_mount "$MB"
    log "starting: socat EXEC:'duct $A $MB' EXEC:'duct $B $MA'"
    timeout 600 socat EXEC:"$T/side.sh a2 $A $MB" EXEC:"$T/side.sh b2 $B $MA" 2>>"$T/socat.log" &
    SPID=$!; track_pid $SPID
    if wait_mounted "$MA" 15 && wait_mounted "$MB" 15; then ok "socketpair: both sides mounted"
    else die "socketpair: mounts did not appear"; fi
    expect_eq "socketpair: A sees B" "I am B2" "$(timeout 10 cat "$MB/who" 2>&1)"
    expect_eq "socketpair: B sees A" "I am A2" "$(timeout 10 cat "$MA/who" 2>&1)"
    BIGMB_SAVE=$BIGMB
    exercise sp-A-to-B "$MB" "$B" quick
    exercise sp-B-to-A "$MA" "$A" quick
    unmount_both "$MA" "$MB"
    expect_eq "socketpair: side A exits 0" 0 "$(wait_file_rc "$T/a2.rc" 10)"
    expect_eq "socketpair: side B exits 0" 0 "$(wait_file_rc "$T/b2.rc" 10)"
    wait_exit $SPID 5 >/dev/null
else
    log "socat missing: socketpair part not run"
    bad "socketpair: socat not installed (scripts/setup.sh installs it)"
fi

it_finish
