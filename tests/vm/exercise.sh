#!/bin/sh
# exercise.sh — run.sh's default guest script: a POSIX exercise of the v9fs
# mount at $1 (busybox sh, in the guest). Everything it makes it removes;
# prints PASS:/FAIL: lines, exit status = the number of failures.
. /etc/vm/conf
M=$1
F=0
t() {   # t NAME COMMAND...: one check
    name=$1; shift
    if "$@"; then echo "PASS: $name"; else echo "FAIL: $name"; F=$((F + 1)); fi
}
same() { [ "$1" = "$2" ] || { echo "  got '$1', want '$2'"; return 1; }; }

W=$M/vm-exercise
t "mkdir" mkdir "$W"
t "create and write" sh -c "echo one > $W/f"
t "append" sh -c "echo two >> $W/f"
t "read back" same "$(cat "$W/f")" "one
two"
t "size" same "$(stat -c %s "$W/f")" 8
t "rename" sh -c "mv $W/f $W/g && [ ! -e $W/f ] && [ -f $W/g ]"
t "mkdir nested" mkdir -p "$W/d/e"
t "rename into a subdirectory" mv "$W/g" "$W/d/e/g"
t "symlink" ln -s d/e/g "$W/l"
t "readlink" same "$(readlink "$W/l")" d/e/g
t "read through the symlink" same "$(head -1 "$W/l")" one
t "hard link" sh -c "ln $W/d/e/g $W/h && [ \$(stat -c %h $W/h) = 2 ]"
t "chmod" sh -c "chmod 604 $W/h && [ \$(stat -c %a $W/d/e/g) = 604 ]"
t "truncate" sh -c "truncate -s 3 $W/h && [ \"\$(cat $W/h)\" = one ]"
t "utimes" sh -c "touch -d '2010-06-07 08:09:10' $W/h && [ \$(stat -c %Y $W/h) = 1275898150 ]"
t "rmdir of a non-empty directory fails" sh -c "! rmdir $W/d/e 2>/dev/null"
t "readdir" same "$(ls "$W" | tr '\n' ' ')" "d h l "
dd if=/dev/urandom of=/tmp/rnd bs=4096 count=300 2>/dev/null
t "1.2 MB round trip" sh -c "cp /tmp/rnd $W/rnd && [ \"\$(md5sum < $W/rnd)\" = \"\$(md5sum < /tmp/rnd)\" ]"
t "${BIGMB} MiB streamed write" sh -c "dd if=/dev/zero of=$W/big bs=1M count=$BIGMB conv=fsync 2>/dev/null"
echo 3 > /proc/sys/vm/drop_caches
t "${BIGMB} MiB streamed read" same "$(wc -c < "$W/big")" $((BIGMB * 1048576))
t "unlink" sh -c "rm $W/h $W/l $W/rnd $W/big && [ ! -e $W/h ]"
t "remove the tree" rm -r "$W"
t "gone" sh -c "[ ! -e $W ]"
exit $F
