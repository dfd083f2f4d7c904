#!/bin/bash
# static_mounts.sh — build/duct-static mounts both ways libfuse can (issue
# 12: "it mounts through fusermount3 when that is there, as root without
# it"), here on the host (the VM guest of it.kernel_static has no
# /dev/fuse of its own to mount with):
#   1. as root with no fusermount3 on PATH: the mount(2) syscall itself;
#   2. as an unprivileged user (nobody): only through the setuid
#      fusermount3, which a static binary finds on PATH as a dynamic one
#      does. The user needs /dev/fuse read-write: where it is 0600, a
#      private mount namespace gets its own 0666 node (as it.idmap does).
# Each: the mount appears with the right owner, a file reads, a write lands
# on the exporting disk, the unmount ends both ducts with status 0.
# Skips without duct-static (scripts/package.sh or -DDUCT_STATIC=ON builds
# it), without fusermount3 (part 2) or setpriv.
source "$(dirname "$0")/lib.bash"
it_init static_mounts
need_fuse
S=$DUCT_BUILD/duct-static
[ -x "$S" ] || skip "no $S (scripts/package.sh or -DDUCT_STATIC=ON builds it)"
need_cmd setpriv "apt-get install util-linux"
FM=$(command -v fusermount3 || true)
[ -n "$FM" ] || skip "no fusermount3 (apt-get install fuse3)"

chmod 755 "$T"
# Run by nobody, so the binary and the export live where nobody can reach.
cp "$S" "$T/duct-static"; chmod 755 "$T/duct-static"; S=$T/duct-static

# ---- 1. root, no fusermount3 anywhere on PATH ----
mkdir -p "$T/e1" "$T/m1"; echo one > "$T/e1/f"; track_mount "$T/m1"
env PATH=/nonexistent "$S" --exec "$S $T/e1 -" - "$T/m1" 2> "$T/m1.log" &
P1=$!; track_pid $P1
wait_mounted "$T/m1" 10 || die "1: no mount: $(tail -3 "$T/m1.log")"
expect_eq "1: root without fusermount3: a file reads" one "$(timeout 10 cat "$T/m1/f")"
check "1: a write lands on the exporting disk" timeout 10 sh -c "echo w1 > '$T/m1/g'"
expect_eq "1: the write on disk" w1 "$(cat "$T/e1/g" 2>&1)"
expect_eq "1: mounted by root" "user_id=0" \
    "$(awk -v m="$T/m1" '$2 == m' /proc/mounts | grep -o 'user_id=[0-9]*')"
check "1: umount" unmount "$T/m1"
wait_exit $P1 10
expect_eq "1: duct-static exits 0 after the unmount" 0 "$WAIT_RC"

# ---- 2. nobody, through the setuid fusermount3 ----
mkdir -p "$T/e2" "$T/m2"; echo two > "$T/e2/f"; chown -R nobody "$T/e2" "$T/m2"
cat > "$T/user.sh" <<EOF
set -e
if [ "\$(stat -c %a /dev/fuse)" != 666 ]; then
    mknod "$T/fuse" c 10 229; chmod 666 "$T/fuse"; mount --bind "$T/fuse" /dev/fuse
fi
as() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=$T PATH=/usr/bin:/bin "\$@"; }
as "$S" --exec "$S $T/e2 -" - "$T/m2" 2> "$T/m2.log" &
pid=\$!
for i in \$(seq 100); do awk -v m="$T/m2" '\$2 == m {f=1} END {exit !f}' /proc/mounts && break; sleep 0.1; done
echo "owner \$(awk -v m="$T/m2" '\$2 == m' /proc/mounts | grep -o 'user_id=[0-9]*')"
echo "read \$(as timeout 10 cat "$T/m2/f")"
as timeout 10 sh -c 'echo w2 > "$T/m2/g"'
echo "disk \$(cat "$T/e2/g")"
as "$FM" -u "$T/m2"
rc=0; wait \$pid || rc=\$?
echo "exit \$rc"
EOF
out=$(timeout 60 unshare -m --propagation private bash "$T/user.sh" 2>&1 || true)
log "2: $(echo "$out" | tr '\n' ';')"
expect_eq "2: nobody mounted it (through fusermount3)" "owner user_id=65534" "$(echo "$out" | grep '^owner')"
expect_eq "2: nobody reads a file" "read two" "$(echo "$out" | grep '^read')"
expect_eq "2: nobody's write lands on the exporting disk" "disk w2" "$(echo "$out" | grep '^disk')"
expect_eq "2: fusermount3 -u ends duct-static with status 0" "exit 0" "$(echo "$out" | grep '^exit')"
check "2: no mount left (the namespace is gone)" sh -c "! awk -v m='$T/m2' '\$2 == m {f=1} END {exit !f}' /proc/mounts"
it_finish
