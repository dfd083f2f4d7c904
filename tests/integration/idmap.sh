#!/bin/bash
# idmap.sh — an exporting side that is not root, and --idmap: what the mount
# shows and does with user and group ids (none, user, file:PATH), including
# a mount made by a non-root user (through fusermount3), whose own files
# must be writable by it. The exporting duct runs as uid 4242/gid 4343
# (setpriv), so it can neither chown nor act for anyone else.
source "$(dirname "$0")/lib.bash"
it_init idmap
need_fuse
need_cmd setpriv "apt-get install util-linux"
chmod 755 "$T"
EXP=$T/exp
mkdir -p "$EXP" "$T/mnt"
echo mine > "$EXP/mine"
echo roots > "$EXP/roots"
echo theirs > "$EXP/theirs"
chown 4242:4343 "$EXP" "$EXP/mine"
chown 5555:5555 "$EXP/theirs"
AS_EXPORTER=(setpriv --reuid 4242 --regid 4343 --clear-groups)

# start_pair NAME DUCT-OPTIONS...: root mounts $T/mnt from a 4242 exporter.
start_pair() {
    local name=$1; shift
    "$DUCT" "$@" --exec "${AS_EXPORTER[*]} $DUCT $EXP -" - "$T/mnt" 2>"$T/$name.log" &
    PAIR=$!
    track_pid $PAIR
    track_mount "$T/mnt"
    wait_mounted "$T/mnt" || die "$name: the mount did not appear"
}
stop_pair() {
    unmount "$T/mnt"
    wait_exit $PAIR 10
    expect_eq "$1: the mounting duct exits 0 after unmount" 0 "$WAIT_RC"
}
ids() { stat -c '%u:%g' "$1"; }

# --- none (the default): numbers as the export's file system has them
start_pair none
expect_eq "none: the export root shows the exporter's ids" 4242:4343 "$(ids "$T/mnt")"
expect_eq "none: a root-owned file shows root" 0:0 "$(ids "$T/mnt/roots")"
echo new > "$T/mnt/by-root"
expect_eq "none: a file root makes is the exporter's on disk (it cannot chown)" 4242:4343 "$(ids "$EXP/by-root")"
expect_eq "none: and the mount says so, not root" 4242:4343 "$(ids "$T/mnt/by-root")"
rc=0; chown 0 "$T/mnt/mine" 2>/dev/null || rc=$?
check "none: chown to root is refused by the non-root export" test "$rc" -ne 0
stop_pair none

# --- user: the exporter's uid/gid are shown as ours (root here)
start_pair user -v --idmap user
check "user: -v names the pairs it learned" grep -q 'idmap user uid 0<->4242 gid 0<->4343' "$T/user.log"
expect_eq "user: the export root shows as ours" 0:0 "$(ids "$T/mnt")"
expect_eq "user: the exporter's file shows as ours" 0:0 "$(ids "$T/mnt/mine")"
expect_eq "user: a remote root file cannot show as ours: nobody" 65534:65534 "$(ids "$T/mnt/roots")"
mkdir "$T/mnt/dir" && echo x > "$T/mnt/dir/f"
expect_eq "user: a new file is ours on the mount" 0:0 "$(ids "$T/mnt/dir/f")"
expect_eq "user: and the exporter's on disk" 4242:4343 "$(ids "$EXP/dir/f")"
check "user: chown to our own uid (the exporter on disk) works" chown 0:0 "$T/mnt/dir/f"
rc=0; chown 1234 "$T/mnt/dir/f" 2>"$T/chown.err" || rc=$?
check "user: chown to another user fails (the export is not root)" test "$rc" -ne 0
rc=0; chown 4242 "$T/mnt/dir/f" 2>"$T/chown.err" || rc=$?
check "user: chown to the exporter's raw uid has no mapping: EOVERFLOW" grep -q 'Value too large' "$T/chown.err"
check "user: the refused chowns changed nothing on disk" test "$(ids "$EXP/dir/f")" = 4242:4343
stop_pair user

# --- file:PATH: explicit pairs, names or numbers on the local side
cat > "$T/map" <<'M'
# local  remote
uid 1000 4242
gid 1000 4343
uid nobody 5555   # a third user
M
start_pair file --idmap "file:$T/map"
expect_eq "file: the exporter's file shows as 1000:1000" 1000:1000 "$(ids "$T/mnt/mine")"
expect_eq "file: a name on the local side (nobody), gid 5555 unmapped" 65534:5555 "$(ids "$T/mnt/theirs")"
expect_eq "file: unmapped root stays root" 0:0 "$(ids "$T/mnt/roots")"
check "file: chown to 1000 (the exporter) works" chown 1000:1000 "$T/mnt/mine"
expect_eq "file: on disk it is still the exporter's" 4242:4343 "$(ids "$EXP/mine")"
stop_pair file
# A map that gives remote root to someone else leaves our own root no id.
printf 'uid 1 0\n' > "$T/map2"
rc=0; timeout 20 "$DUCT" --idmap "file:$T/map2" --exec "${AS_EXPORTER[*]} $DUCT $EXP -" - "$T/mnt" \
    > /dev/null 2> "$T/map2.err" < /dev/null || rc=$?
expect_eq "file: our uid unmappable: exit 1" 1 "$rc"
check "file: our uid unmappable: says so" grep -q 'our own uid 0 or gid 0 has no id on the peer' "$T/map2.err"
check "file: our uid unmappable: no mount left" bash -c "! grep -q ' $T/mnt ' /proc/mounts"

# --- bad maps and impossible combinations: usage errors, one line, exit 2
bad_map() {
    local what=$1 want=$2 rc=0
    printf '%b' "$3" > "$T/bad"
    timeout 5 "$DUCT" --idmap "file:$T/bad" "$EXP" "$T/mnt" > /dev/null 2> "$T/bad.err" < /dev/null || rc=$?
    expect_eq "bad map ($what): exit 2" 2 "$rc"
    check "bad map ($what): says '$want'" grep -q "$want" "$T/bad.err"
}
bad_map "syntax" "bad:1: expected" 'uid 1000\n'
bad_map "kind" "bad:2: expected" '# ok\nuser 1 2\n'
bad_map "unknown local user" "no local user no-such-user-here" 'uid no-such-user-here 5\n'
bad_map "remote not a number" "remote id bob is not a number" 'uid 1 bob\n'
bad_map "one-to-one" "mapped twice" 'uid 1 5\nuid 2 5\n'
rc=0; timeout 5 "$DUCT" --idmap nonsense "$EXP" "$T/mnt" > /dev/null 2> "$T/u.err" < /dev/null || rc=$?
expect_eq "--idmap nonsense: exit 2" 2 "$rc"
check "--idmap nonsense: lists the choices" grep -q 'none, user or file:PATH' "$T/u.err"
rc=0; timeout 5 "$DUCT" --idmap user "$EXP" - > /dev/null 2> "$T/u.err" < /dev/null || rc=$?
expect_eq "--idmap without a mount: exit 2" 2 "$rc"
rc=0; timeout 5 "$DUCT" --idmap user --mount-with kernel - "$T/mnt" > /dev/null 2> "$T/u.err" < /dev/null || rc=$?
expect_eq "--idmap with the kernel backend: exit 2" 2 "$rc"
check "--idmap with the kernel backend: says why" grep -q "kernel's v9fs maps no ids" "$T/u.err"

# --- a non-root user mounts (fusermount3) from the non-root exporter. The
# user needs /dev/fuse read-write (Debian's udev makes it 0666); where it is
# 0600, a private mount namespace gets its own 0666 node for the device.
if ! command -v unshare > /dev/null; then
    skip "no unshare for the non-root mount part (util-linux)"
fi
mknod -m 666 "$T/fuse" c 10 229
mkdir -p "$T/umnt" "$T/sock" && chown 65534:65534 "$T/umnt" && chown 4242:4343 "$T/sock"
cat > "$T/user.sh" <<U
set -u
mount --bind "$T/fuse" /dev/fuse
AS_USER="setpriv --reuid 65534 --regid 65534 --clear-groups"
run() { # run NAME DUCT-OPTIONS...: mount as nobody, write to the exporter's file
    local name=\$1; shift
    rm -f "$T/sock/s"
    # Two users: a unix socket would refuse the other uid (SO_PEERCRED), so
    # plain 9P on loopback TCP.
    local port=\$(( 20000 + RANDOM % 30000 ))
    ${AS_EXPORTER[*]} "$DUCT" -v --no-auth --listen "tcp!127.0.0.1!\$port" "$EXP" - 2>"$T/\$name-exp.log" &
    local epid=\$!
    for i in \$(seq 50); do grep -q "serving" "$T/\$name-exp.log" && break; sleep 0.1; done
    \$AS_USER "$DUCT" "\$@" --no-auth --dial "tcp!127.0.0.1!\$port" - "$T/umnt" 2>"$T/\$name.log" &
    local pid=\$!
    for i in \$(seq 50); do grep -q " $T/umnt " /proc/mounts && break; sleep 0.1; done
    echo "\$name mounted: \$(grep -c " $T/umnt " /proc/mounts)"
    echo "\$name ids: \$(\$AS_USER stat -c %u:%g "$T/umnt/mine")"
    \$AS_USER sh -c 'echo appended >> "$T/umnt/mine"' 2>/dev/null && echo "\$name append: ok" || echo "\$name append: denied"
    echo "\$name root sees: \$(stat -c %u "$T/umnt/mine" 2>&1 | sed 's/.*: //')"
    \$AS_USER fusermount3 -u "$T/umnt"
    wait \$pid; echo "\$name exit: \$?"
    kill \$epid; wait \$epid
}
run unone
run uuser --idmap user
U
timeout 60 unshare -m --propagation private bash "$T/user.sh" > "$T/user.out" 2>&1
log "non-root mounts: $(tr '\n' ';' < "$T/user.out")"
check "non-root, none: mounted" grep -qx 'unone mounted: 1' "$T/user.out"
check "non-root, none: the exporter's file shows its ids" grep -qx 'unone ids: 4242:4343' "$T/user.out"
check "non-root, none: so the kernel denies our user a write to it (why --idmap user exists)" grep -qx 'unone append: denied' "$T/user.out"
check "non-root, user: the exporter's file shows as ours" grep -qx 'uuser ids: 65534:65534' "$T/user.out"
check "non-root, user: and we may write it" grep -qx 'uuser append: ok' "$T/user.out"
check "non-root mount without user_allow_other: root may not look in" grep -qx 'uuser root sees: Permission denied' "$T/user.out"
check "non-root, user: the duct exits 0 after fusermount3 -u" grep -qx 'uuser exit: 0' "$T/user.out"
expect_eq "non-root, user: the write reached the export" "mine
appended" "$(cat "$EXP/mine")"
it_finish
