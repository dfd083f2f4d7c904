#!/bin/bash
# kernel_conform.sh — the differential conformance suite (tests/conformance/
# conform.cc) run by the Linux kernel's own 9P client against `duct EXPORT -`,
# so the export server is held to the bar the FUSE mount is (conformance.sh).
#
# Inside the qemu guest of tests/vm/run.sh, a static conform
# compares an ext4 file system of the guest (the reference: same kernel, a
# real disk file system with user xattrs, ACLs, fallocate and holes like the
# host's ext4 the export serves) with the guest's v9fs mount (9P2000.L,
# run.sh's defaults: cache=none, access=user) of duct on the host.
# Why not the guest's tmpfs: on that kernel (6.1) tmpfs has no user.*
# xattrs, which alone made 21 fake differences. Why not the host's own
# directory: the two kernels differ (6.1 in the guest, the host's newer), so
# VFS changes would show up as differences that are neither ours nor 9P's.
# The ext4 modules come from the same Debian kernel package the VM boots.
#
# Fails on any DIFF not in KNOWN (each entry says which kernel or protocol
# limit makes it impossible to fix in the server), and on a KNOWN time
# precision case whose transcript differs in anything but that precision.
# Prints `KERNEL v9fs: RESULT ...`. Skips (saying why) without qemu,
# busybox, mkfs.ext4 or a way to fetch the guest's kernel package.
# DUCT_CONFORM_ONLY=SUBSTR runs a subset (for debugging a case).
source "$(dirname "$0")/lib.bash"
it_init kernel_conform
need_vm
need_cmd mkfs.ext4 "apt-get install e2fsprogs"
ONLY=()
[ -n "${DUCT_CONFORM_ONLY:-}" ] && ONLY=(--only "$DUCT_CONFORM_ONLY")

# The kernel's v9fs keeps whole seconds, not before 1970: v9fs_fill_super()
# (fs/9p/vfs_super.c) never sets s_time_gran, so the super block keeps
# alloc_super()'s default of 1 s, and sets s_time_min = 0; notify_change()
# (fs/attr.c) passes every time set by utimensat through timestamp_truncate()
# (fs/inode.c) before v9fs_vfs_setattr_dotl() sends it, so the Tsetattr that
# reaches duct already has atime_nsec 0 (seen in the -D trace). conform
# checks such a case completely (--time-gran/--time-min): it must equal the
# reference once the reference's times are so truncated.
TIME_REASON="v9fs keeps timestamps at 1 s granularity, never before 1970: v9fs_fill_super() leaves s_time_gran at 1 s and sets s_time_min 0, and notify_change() truncates with timestamp_truncate() before Tsetattr is sent (nanoseconds are 0 on the wire); the rest of the case matches"
time_case() { [[ "$1" == utimensat/* || "$1" == "symlink/utimensat NOFOLLOW" ]]; }

# Known differences: case name -> why it cannot be made equal in the server.
# Kernel function names are those of the guest's kernel (Debian 6.1).
declare -A KNOWN=(
  ["open/O_TMPFILE"]="v9fs has no tmpfile inode operation (vfs_tmpfile() returns EOPNOTSUPP) and 9P2000.L no unnamed create"
  ["rw/lseek SEEK_END SEEK_DATA SEEK_HOLE"]="v9fs files use generic_file_llseek(), which reports the whole file as data (no holes); 9P2000.L has no lseek to ask the server"
  ["rmdir/cwd inside"]="stat(\".\") after rmdir of the cwd: v9fs_remove() releases the dentry's fids once Tunlinkat succeeds, so v9fs_vfs_getattr_dotl() walks the removed name again (Twalk -> ENOENT in the trace); a removed directory cannot be walked to"
  ["rename/RENAME_NOREPLACE"]="v9fs_vfs_rename() returns EINVAL for any renameat2 flag, before anything is sent (9P2000.L Trenameat has no flags)"
  ["rename/RENAME_EXCHANGE"]="v9fs_vfs_rename() returns EINVAL for any renameat2 flag, before anything is sent (9P2000.L Trenameat has no flags)"
  ["lock/flock"]="v9fs_file_flock_dotl() turns flock() into a POSIX record lock (Tlock): a write lock on a read-only fid is EBADF (as fcntl would be) and two fds of one process never conflict; 9P2000.L has no flock"
  ["lock/flock (seen on exporting side)"]="as lock/flock: v9fs_file_flock_dotl() sends flock() as a POSIX record lock"
  ["mmap/shared write and msync"]="the guest mounts with cache=none (tests/vm/run.sh's default), where v9fs maps files with generic_file_readonly_mmap(): a writable MAP_SHARED mapping is EINVAL (cache=mmap or loose allow it)"
  ["mmap/shared write kept after munmap and close"]="as mmap/shared write and msync: cache=none maps read-only (generic_file_readonly_mmap)"
  ["mmap/write(2) seen through a mapping"]="as mmap/shared write and msync: on an O_RDWR descriptor even a PROT_READ MAP_SHARED mapping may become writable, which generic_file_readonly_mmap() refuses (EINVAL)"
  ["mmap/extend with ftruncate then map"]="as mmap/shared write and msync: cache=none maps read-only (generic_file_readonly_mmap)"
  ["fallocate/extend"]="v9fs has no fallocate file operation (vfs_fallocate() returns EOPNOTSUPP) and 9P2000.L no Tfallocate"
  ["fallocate/inside"]="v9fs has no fallocate file operation (EOPNOTSUPP)"
  ["fallocate/keep size"]="v9fs has no fallocate file operation (EOPNOTSUPP)"
  ["fallocate/punch hole"]="v9fs has no fallocate file operation (EOPNOTSUPP)"
  ["fallocate/zero range"]="v9fs has no fallocate file operation (EOPNOTSUPP)"
  ["fallocate/past 4GiB"]="v9fs has no fallocate file operation (EOPNOTSUPP)"
)

# conform for the guest: static (the initramfs has no C++ runtime). The
# build makes it (tests/conformance/CMakeLists.txt); compile it here only
# where the build could not.
G=$T/files
mkdir -p "$G" "$T/export"
chmod 755 "$T"; chmod 1777 "$T/export"   # as the reference: conform runs as root and 65534
if [ -x "$DUCT_BUILD/tests/conform-static" ]; then
    cp "$DUCT_BUILD/tests/conform-static" "$G/conform"
else
    log "no $DUCT_BUILD/tests/conform-static: compiling it"
    c++ -std=c++20 -O2 -static -s -o "$G/conform" "$DUCT_SRC/tests/conformance/conform.cc" 2>"$T/cc.log" ||
        skip "cannot link conform statically: $(tail -2 "$T/cc.log")"
fi

# The reference's modules come from the kernel package the VM boots:
# tests/vm/run.sh unpacks and loads them (DUCT_VM_MODULES, dependencies
# first). crc32c_generic is only a soft dependency of ext4 (its checksums
# go through the crypto API), so it is named.
REFMODS="ext4 loop crc32c_generic"
# 4 KiB blocks and 256-byte inodes as on the host (1 KiB blocks, mkfs's
# choice for a small image, would change st_blocks and the longest symlink);
# inodes enough for the readdir cases' thousands of files.
truncate -s 64M "$G/ref.img"
mkfs.ext4 -q -F -b 4096 -I 256 -N 16384 "$G/ref.img" > "$T/mkfs.log" 2>&1 || die "mkfs.ext4: $(cat "$T/mkfs.log")"

# The guest: load the modules, mount the reference, run the suite. Every
# conform line goes to the console with a prefix; the host judges.
# The suite runs in the mount's root (one path component less to walk for
# every call: with cache=none v9fs walks each component of every path).
# --alarm-scale: each case's hang guard (30 s) is for a real machine; the
# emulated guest is 10-50x slower. --small: readdir/changing while listed
# makes 500 files, not 2500 (each create is ~10 ms here; with msize 256 KiB
# v9fs gets either count in one or two Treaddir replies, so the smaller
# directory tests the same). --skip readdir/100000: its fixture would take
# the guest longer than all the rest (the FUSE run, conformance.sh, has it).
ONLYARG=
[ -n "${DUCT_CONFORM_ONLY:-}" ] && ONLYARG="--only $(printf '%q' "$DUCT_CONFORM_ONLY")"
cat > "$T/guest.sh" <<G
#!/bin/sh
mkdir -p /tmp/ref
mount -t ext4 -o loop /ref.img /tmp/ref || { echo "GUEST-REF: cannot mount the ext4 reference"; exit 1; }
echo "GUEST-REF: \$(grep ' /tmp/ref ' /proc/mounts)"
chmod 1777 /tmp/ref
t0=\$(cut -d' ' -f1 /proc/uptime)
/conform --skip readdir/100000 --alarm-scale 10 --small --time-gran 1000000000 --time-min 0 $ONLYARG \\
    /tmp/ref /mnt > /tmp/out.txt 2>&1
echo "GUEST-REF: conform took \$(awk "BEGIN{print \$(cut -d' ' -f1 /proc/uptime) - \$t0}") s"
sed 's/^/GUEST-OUT: /' /tmp/out.txt
umount /tmp/ref
exit 0
G
chmod +x "$T/guest.sh"

log "tests/vm/run.sh '$DUCT $T/export -' with conform (ext4 reference)"
rc=0
# DUCT_VM_OPTS=posixacl: v9fs then reads system.posix_acl_* from the export and
# checks them, as a local file system does (without it, 6.1's v9fs checks
# mode bits only, and the acl/ cases differ for that reason alone).
# The channel is the virtio port relayed through two pipes in the guest
# (an hvc console port was a third faster, but once stalled for good in the
# middle of a 3 MiB Twrite, both ends idle, no bytes moving).
DUCT_VM_OPTS="posixacl${DUCT_VM_OPTS:+,$DUCT_VM_OPTS}" DUCT_VM_SCRIPT="$T/guest.sh" DUCT_VM_FILES="$G" \
    DUCT_VM_MODULES="$REFMODS" DUCT_VM_TIMEOUT=${DUCT_VM_TIMEOUT:-840} \
    timeout 870 "$VM_RUN" "$DUCT $T/export -" > "$T/guest.log" 2>&1 || rc=$?
vm_rc $rc "$T/guest.log"
grep -E '^(GUEST|HOST|GUEST-REF):' "$T/guest.log" | grep -v '^GUEST-OUT' | sed 's/^/  /'
expect_eq "guest exit status (0: reference mounted, suite ran, umount clean)" 0 "$rc"
sed -n 's/^GUEST-OUT: //p' "$T/guest.log" > "$T/kernel.out"

# judge: one check per DIFF; counts from the RESULT line.
out=$T/kernel.out
if ! grep -q '^RESULT' "$out"; then
    bad "conform did not finish in the guest"; tail -20 "$out"
else
    n=$(awk '/^RESULT/ {print $2}' "$out")
    if [ -z "${ONLY[*]}" ] && [ "$n" -lt 500 ]; then bad "only $n cases ran"; fi
    ntime=0
    while IFS= read -r name; do
        detail=$(awk -v n="DIFF $name" '$0 == n {p=1; next} /^(PASS|DIFF|RESULT|TIME)/ {p=0} p' "$out")
        if time_case "$name" && grep -qF '    only time precision (1000000000 ns, from 0)' <<<"$detail"; then
            ntime=$((ntime + 1))
            ok "known difference: $name (time precision only)"
        elif [ -n "${KNOWN[$name]+x}" ]; then
            ok "known difference: $name (${KNOWN[$name]})"
        else
            bad "$name differs from the local file system (ext4 in the guest)"
            echo "DIFF $name"; echo "$detail"
        fi
    done < <(sed -n 's/^DIFF //p' "$out")
    [ "$ntime" = 0 ] || log "$ntime cases differ only in time precision: $TIME_REASON"
    for name in "${!KNOWN[@]}"; do
        grep -qxF "PASS $name" "$out" && log "known difference now passes, drop it from KNOWN: $name"
    done
    echo "KERNEL v9fs: $(grep '^RESULT' "$out"); $ntime of the DIFFs only in time precision"
fi
it_finish
