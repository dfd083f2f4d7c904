# stuck_lib.bash — a file system that can be made to hang, for tests of a
# stuck exporting side (it.stuck_export, it.request_cap): inner_mount SRC
# MNT mounts SRC on MNT through two ducts (`--timeout 0`: the mount waits
# forever) and sets IP (the mounting duct) and INNER_EXP (its exporting
# duct: SIGSTOP it and every call into MNT hangs, as on a hung NFS server).
inner_mount() {
    local src=$1 mnt=$2
    track_mount "$mnt"
    timeout 120 "$DUCT" --timeout 0 --exec "exec $DUCT $src -" - "$mnt" 2> "$T/inner.log" &
    IP=$!; track_pid $IP
    wait_mounted "$mnt" 10 || die "no inner mount"
    INNER_EXP=
    for _ in $(seq 50); do
        INNER_EXP=$(pgrep -P "$IP" -x duct || true)
        [ -n "$INNER_EXP" ] && break
        sleep 0.1
    done
    [ -n "$INNER_EXP" ] || die "no inner exporting duct"
    track_pid "$INNER_EXP"
}
