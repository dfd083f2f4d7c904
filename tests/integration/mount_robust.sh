#!/bin/bash
# mount_robust.sh — issue 9 item 9: O_DIRECT through a duct mount. The
# flag must not reach the exporting side's open (its buffers are not
# aligned for it: EINVAL); the mount keeps the meaning itself (direct_io
# for that open, so the page cache is bypassed here).
source "$(dirname "$0")/lib.bash"
it_init mount_robust
need_fuse
need_cmd dd

E=$T/exp; M=$T/mnt
mkdir -p "$E" "$M"; track_mount "$M"
timeout 120 "$DUCT" --exec "$DUCT $E -" - "$M" 2> "$T/mnt.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"

check "dd oflag=direct writes 8 MiB" timeout 30 dd if=/dev/zero of="$M/f" bs=1M count=8 oflag=direct status=none
expect_eq "... all of it" 8388608 "$(stat -c %s "$E/f")"
expect_eq "... zeros on the exporting side" "$(head -c 8388608 /dev/zero | sha256sum)" "$(sha256sum < "$E/f")"
head -c 3145728 /dev/urandom > "$E/g"
check "dd iflag=direct reads" timeout 30 dd if="$M/g" of="$T/g.back" bs=1M iflag=direct status=none
expect_eq "... the right bytes" "$(sha256sum < "$E/g")" "$(sha256sum < "$T/g.back")"
check "dd iflag=direct of the file written with oflag=direct" \
    sh -c "timeout 30 dd if='$M/f' bs=1M iflag=direct status=none | cmp -s - '$E/f'"
# O_DIRECT on an existing file opened for writing, not created (Tlopen)
check "dd oflag=direct conv=notrunc over an existing file" \
    timeout 30 dd if="$E/g" of="$M/g" bs=1M count=1 oflag=direct conv=notrunc status=none

unmount "$M" || bad "unmount"
wait_exit $DP 10
expect_eq "duct exits 0 after the unmount" 0 "$WAIT_RC"
it_finish
