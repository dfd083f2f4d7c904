#!/bin/busybox sh
# posix.sh — the guest-side exercise for kernel9p*.sh (runs under busybox in
# the VM of tests/vm/run.sh, DUCT_VM_SCRIPT). $1 is the v9fs
# mount. Plain 9P2000 (no .u/.L) has no symlinks, hard links or special
# files: with VERSION=9p2000 those checks instead expect a clean refusal.
# Exit status = number of failed checks.
M=${1:-/mnt}
. /etc/vm/conf
FAILS=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS+1)); }
W=$M/guest-work.$$
L=1; [ "$VERSION" = 9p2000 ] && L=0
rm -rf $W 2>/dev/null
ls -la $M >/dev/null && pass "ls" || fail "ls"
[ -f $M/hello.txt ] && { [ "$(cat $M/hello.txt)" = "hello from the host" ] && pass "cat host file" || fail "cat host file"; }
mkdir $W && pass "mkdir" || fail "mkdir"
echo "hello from guest" > $W/a.txt && pass "create+write" || fail "create+write"
echo "second line" >> $W/a.txt && pass "append" || fail "append"
[ "$(cat $W/a.txt)" = "hello from guest
second line" ] && pass "read back" || fail "read back"
[ "$(stat -c %s $W/a.txt)" = 29 ] && pass "stat size" || fail "stat size $(stat -c %s $W/a.txt)"
mv $W/a.txt $W/b.txt && [ ! -e $W/a.txt ] && [ -f $W/b.txt ] && pass "rename" || fail "rename"
mkdir $W/sub && pass "mkdir sub" || fail "mkdir sub"
mv $W/b.txt $W/sub/c.txt && [ -f $W/sub/c.txt ] && pass "rename across dirs" || fail "rename across dirs"
if [ $L = 1 ]; then
    ln -s sub/c.txt $W/link && [ "$(readlink $W/link)" = sub/c.txt ] && pass "symlink+readlink" || fail "symlink"
    ln $W/sub/c.txt $W/hard && [ "$(stat -c %h $W/hard)" = 2 ] && pass "hardlink" || fail "hardlink"
    rm -f $W/link $W/hard
else
    ln -s sub/c.txt $W/link 2>/dev/null && fail "symlink on plain 9P2000 should be refused" || pass "symlink refused on 9P2000"
    ln $W/sub/c.txt $W/hard 2>/dev/null && fail "hard link on plain 9P2000 should be refused" || pass "hard link refused on 9P2000"
    [ -e $W/link ] || [ -e $W/hard ] && fail "refused link left something behind" || pass "nothing left by refused links"
    rm -f $W/link $W/hard
fi
chmod 640 $W/sub/c.txt && [ "$(stat -c %a $W/sub/c.txt)" = 640 ] && pass "chmod" || fail "chmod -> $(stat -c %a $W/sub/c.txt)"
truncate -s 5 $W/sub/c.txt && [ "$(cat $W/sub/c.txt)" = hello ] && pass "truncate" || fail "truncate"
touch -d '2001-02-03 04:05:06' $W/sub/c.txt && [ "$(stat -c %Y $W/sub/c.txt)" = 981173106 ] && pass "utimes" || fail "utimes $(stat -c %Y $W/sub/c.txt)"
rmdir $W/sub 2>/dev/null && fail "rmdir non-empty should fail" || pass "rmdir non-empty refused"
i=0; while [ $i -lt 200 ]; do : > $W/sub/f$i || break; i=$((i+1)); done
[ "$(ls $W/sub | wc -l)" = 201 ] && pass "200 files listed" || fail "200 files: $(ls $W/sub | wc -l)"
dd if=/dev/urandom of=/tmp/r bs=64k count=64 2>/dev/null
cp /tmp/r $W/r && [ "$(md5sum < $W/r)" = "$(md5sum < /tmp/r)" ] && pass "4 MiB random round-trip md5" || fail "md5 round-trip"
rm -rf $W && [ ! -e $W ] && pass "rm -r" || fail "rm -r"
echo "RESULT: posix.sh ($VERSION) failures=$FAILS"
exit $FAILS
