#!/bin/bash
# run.sh — the project's test VM: boots Debian's own kernel under qemu with a
# busybox initramfs, joins ONE byte channel (a virtio-serial port in the
# guest, two FIFOs on the host) to HOST-COMMAND's stdin/stdout, and in the
# guest mounts that channel with the kernel's v9fs client (trans=fd) and runs
# a guest script on it. Needs only this directory and Debian packages
# (qemu-system-x86, busybox-static, kmod, xz-utils or zstd; the kernel
# package comes from `apt-get download`, see kernel.sh and README.md here).
#
# Usage: run.sh HOST-COMMAND   (one string, run with sh -c; speaks 9P on
#        stdin/stdout, e.g. "build/duct /srv -")
# Environment (default in brackets):
#   DUCT_VM_SCRIPT   busybox sh script run as /test.sh in the guest
#                    [exercise.sh here: a POSIX exercise of the mount]; its
#                    exit status is the number of failed checks
#   DUCT_VM_FILES    a directory copied into the guest's root (binaries, images)
#   DUCT_VM_RAW=1    no mount: /test.sh gets the raw channel on fds $RFD/$WFD
#   DUCT_VM_MODULES  extra kernel modules loaded before the script (e.g. fuse)
#   DUCT_VM_VERSION  9p2000.L | 9p2000.u | 9p2000 [9p2000.L]
#   DUCT_VM_MSIZE [262144]  DUCT_VM_ANAME []  DUCT_VM_OPTS (extra -o) []
#   DUCT_VM_TIMEOUT  seconds before qemu is killed [300]
#   DUCT_VM_ACCEL    auto | kvm | tcg [auto: kvm with kvm_intel/kvm_amd loaded]
#   DUCT_VM_CACHE    the kernel package cache [${TMPDIR:-/tmp}/duct-vm-cache]
#   DUCT_VM_BIGMB    for exercise.sh: size of its streaming test, MiB [32]
# Output: the guest console on stdout; "HOST:" lines on stderr. Exit status:
# the guest script's (0 = all passed), 9x = guest setup failed, 3 = no kernel
# to be had (callers skip), 2 = missing tool or bad usage, 124 = timeout,
# 125 = the guest never reported (crashed or hung).
set -u
VMDIR=$(cd "$(dirname "$0")" && pwd)
host() { echo "HOST: $*" >&2; }
[ $# = 1 ] || { host "usage: run.sh HOST-COMMAND"; exit 2; }
for t in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static modinfo:kmod; do
    command -v "${t%%:*}" >/dev/null || { host "needs ${t%%:*} (apt-get install ${t#*:})"; exit 2; }
done
command -v xz >/dev/null || command -v zstd >/dev/null || { host "needs xz-utils or zstd"; exit 2; }
BUSYBOX=$(command -v busybox)

RUN=$(mktemp -d "${TMPDIR:-/tmp}/duct-vm.XXXXXX")
HOSTPID=
finish() {
    if [ -n "$HOSTPID" ]; then kill "$HOSTPID" 2>/dev/null; wait "$HOSTPID" 2>/dev/null; fi
    rm -rf "$RUN"
}
trap finish EXIT
trap 'exit 130' INT TERM

# 1. kernel and modules: the 9P client, its fd transport, the virtio port
# shellcheck source=kernel.sh
source "$VMDIR/kernel.sh"
# shellcheck disable=SC2086
vm_kernel "$RUN/modules" 9p 9pnet_fd virtio_console virtio_pci ${DUCT_VM_MODULES:-} || exit $?

# 2. the initramfs: busybox, the modules, init, the script, the caller's files
R=$RUN/root
mkdir -p "$R"/{bin,etc/vm,lib/modules,proc,sys,dev,tmp,run,mnt}
cp "$BUSYBOX" "$R/bin/busybox"
while read -r m; do cp "$VM_KDIR/modules/$m.ko" "$R/lib/modules/"; done < "$RUN/modules"
cp "$RUN/modules" "$R/etc/vm/modules"
install -m 755 "$VMDIR/init.sh" "$R/init"
install -m 755 "${DUCT_VM_SCRIPT:-$VMDIR/exercise.sh}" "$R/test.sh"
[ -n "${DUCT_VM_FILES:-}" ] && cp -a "$DUCT_VM_FILES"/. "$R"/
{
    printf 'VERSION=%q\n' "${DUCT_VM_VERSION:-9p2000.L}"
    printf 'MSIZE=%q\n' "${DUCT_VM_MSIZE:-262144}"
    printf 'ANAME=%q\n' "${DUCT_VM_ANAME:-}"
    printf 'OPTS=%q\n' "${DUCT_VM_OPTS:-}"
    printf 'RAW=%q\n' "${DUCT_VM_RAW:-0}"
    printf 'BIGMB=%q\n' "${DUCT_VM_BIGMB:-32}"
} > "$R/etc/vm/conf"
(cd "$R" && find . | "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) > "$RUN/initrd"

# 3. the host end: qemu's "pipe" chardev opens PATH.in (to the guest) and
# PATH.out (from it); the host command sits between them
mkfifo "$RUN/ch.in" "$RUN/ch.out"
sh -c "$1" < "$RUN/ch.out" > "$RUN/ch.in" 2> "$RUN/host.log" &
HOSTPID=$!

ACCEL=${DUCT_VM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
    # a /dev/kvm without kvm_intel/kvm_amd (e.g. kvm_pvm) cannot run a stock kernel
    ACCEL=tcg
    [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } && ACCEL=kvm
fi
case $ACCEL in kvm) ACC=(-accel kvm -cpu host) ;; tcg) ACC=(-accel tcg) ;;
     *) host "DUCT_VM_ACCEL must be auto, kvm or tcg"; exit 2 ;; esac

# 4. boot; the console (ttyS0) is our stdout, also kept to find the result
host "kernel $(cat "$VM_KDIR/package"), accel $ACCEL, host command: $1"
TMO=${DUCT_VM_TIMEOUT:-300}
T0=$(date +%s)
timeout --kill-after=5 "$TMO" qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
    "${ACC[@]}" -m 512 -smp 1 -kernel "$VM_KDIR/vmlinuz" -initrd "$RUN/initrd" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1" -serial stdio \
    -chardev "pipe,id=ch,path=$RUN/ch" -device virtio-serial-pci,id=vs \
    -device virtserialport,bus=vs.0,chardev=ch,name=duct.9p \
    < /dev/null 2> "$RUN/qemu.err" | tr -d '\r' | tee "$RUN/console"
QRC=${PIPESTATUS[0]}
host "qemu exited $QRC after $(( $(date +%s) - T0 )) s"
grep -v "host doesn't support requested feature" "$RUN/qemu.err" >&2
[ -s "$RUN/host.log" ] && { host "host command's stderr (last 20 lines):"; tail -20 "$RUN/host.log" >&2; }
RC=$(sed -n 's/^DUCT-VM-EXIT \([0-9][0-9]*\).*/\1/p' "$RUN/console" | tail -1)
if [ -z "$RC" ]; then
    case $QRC in 124|137) host "timeout after ${TMO}s"; exit 124 ;; esac
    host "the guest never reported a result"; exit 125
fi
host "guest status $RC"
exit "$RC"
