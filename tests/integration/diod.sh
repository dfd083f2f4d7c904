#!/bin/bash
# diod.sh — our FUSE mount of a real third-party 9P2000.L server: diod from
# Debian, started by duct itself on pipes (--rfdno 0 --wfdno 1), mounted with
# `duct --aname DIR --exec 'diod ...' - MNT`.
source "$(dirname "$0")/lib.bash"
it_init diod
need_fuse
DIOD=$(command -v diod || true)
[ -n "$DIOD" ] || { [ -x /usr/sbin/diod ] && DIOD=/usr/sbin/diod; } || true
[ -n "$DIOD" ] || skip "no diod (apt-get install diod)"

E=$T/export; M=$T/mnt
mkdir -p "$E" "$M"
echo "served by diod" > "$E/hello.txt"
head -c $((20 * 1048576)) /dev/urandom > "$T/big.src"
track_mount "$M"
CMD="$DIOD --foreground --no-auth --config-file /dev/null --logdest stderr --rfdno 0 --wfdno 1 --export $E"
log "duct --aname $E --exec '$CMD' - $M"
timeout 300 "$DUCT" --aname "$E" --exec "$CMD" - "$M" 2> "$T/duct.log" &
DPID=$!; track_pid $DPID
wait_mounted "$M" 15 && ok "mounted diod" || die "diod mount did not appear: $(tail -5 "$T/duct.log")"

expect_eq "read a file diod serves" "served by diod" "$(timeout 10 cat "$M/hello.txt" 2>&1)"
check "create+write" timeout 10 sh -c "echo written > '$M/new.txt'"
expect_eq "written file on disk" written "$(cat "$E/new.txt" 2>&1)"
check "mkdir" timeout 10 mkdir -p "$M/d1/sub" "$M/d2"
check "mkdir on disk" test -d "$E/d1/sub"
check "rename across dirs" timeout 10 mv "$M/new.txt" "$M/d2/moved.txt"
check "renamed on disk" test -f "$E/d2/moved.txt" -a ! -e "$E/new.txt"
check "symlink" timeout 10 ln -s d2/moved.txt "$M/link"
expect_eq "readlink" d2/moved.txt "$(timeout 10 readlink "$M/link" 2>&1)"
expect_eq "read through symlink" written "$(timeout 10 cat "$M/link" 2>&1)"
check "hard link" timeout 10 ln "$M/d2/moved.txt" "$M/hard"
expect_eq "link count" 2 "$(timeout 10 stat -c %h "$M/hard" 2>&1)"
check "chmod" timeout 10 chmod 600 "$M/hard"
expect_eq "mode on disk" 600 "$(stat -c %a "$E/hard" 2>&1)"
check "truncate" timeout 10 truncate -s 3 "$M/hard"
expect_eq "truncated content" wri "$(timeout 10 cat "$M/hard" 2>&1)"
check "touch -d" timeout 10 touch -d '2001-02-03 04:05:06 UTC' "$M/hard"
expect_eq "mtime on disk" 981173106 "$(stat -c %Y "$E/hard" 2>&1)"
check "copy 20 MiB" timeout 60 cp "$T/big.src" "$M/big"
expect_eq "20 MiB sha256 through the mount" "$(sha256sum < "$T/big.src" | cut -d' ' -f1)" \
    "$(timeout 60 sha256sum < "$M/big" | cut -d' ' -f1)"
cmp -s "$T/big.src" "$E/big" && ok "20 MiB identical on disk" || bad "20 MiB differs on disk"
check "200 files" timeout 60 bash -c "mkdir '$M/many' && for i in \$(seq 200); do : > '$M/many/f'\$i || exit 1; done"
expect_eq "ls counts 200" 200 "$(timeout 30 ls "$M/many" | wc -l)"
check "rm -r" timeout 60 rm -rf "$M/many" "$M/d1" "$M/d2" "$M/link" "$M/hard" "$M/big"
expect_eq "only hello.txt left on disk" hello.txt "$(ls "$E")"
timeout 10 rmdir "$M/d1" 2>/dev/null && bad "rmdir of a missing dir succeeded" || ok "rmdir of a missing dir fails"

check "unmount" unmount "$M"
wait_exit $DPID 10
expect_eq "duct exits 0 after the unmount" 0 "$WAIT_RC"
it_finish
