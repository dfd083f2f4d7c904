#!/bin/busybox sh
# init.sh — PID 1 of the test VM (busybox sh in an initramfs that run.sh
# builds). Loads the modules run.sh listed (/etc/vm/modules, in dependency
# order), finds the virtio-serial port named duct.9p that carries the one byte
# channel to the host command, and either mounts it with the kernel's v9fs
# client (trans=fd) at /mnt and runs /test.sh /mnt, or (raw mode) runs
# /test.sh with the channel open on fds $RFD/$WFD. The result goes to the
# console as "DUCT-VM-EXIT N" (N = /test.sh's status, the number of failed
# checks; 9x = setup failed here), then the machine powers off.
# Single-threaded apart from the two relay cats below. /tmp (a tmpfs) is
# /test.sh's; nothing of ours is left there.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
. /etc/vm/conf    # VERSION MSIZE ANAME OPTS RAW

say() { echo "GUEST: $*"; }
done_with() {
    echo "DUCT-VM-EXIT $1"
    sync
    echo o > /proc/sysrq-trigger   # qemu runs with -no-reboot: power-off ends it
    sleep 10; poweroff -f
}
say "kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime)s"

while read -r m; do
    insmod "/lib/modules/$m.ko" || { say "insmod $m failed"; done_with 90; }
done < /etc/vm/modules

PORT=
n=0
while [ -z "$PORT" ] && [ $n -lt 100 ]; do
    for p in /sys/class/virtio-ports/*; do
        [ "$(cat "$p/name" 2>/dev/null)" = duct.9p ] && PORT=/dev/${p##*/}
    done
    [ -n "$PORT" ] || { sleep 0.1; n=$((n + 1)); }
done
[ -n "$PORT" ] && [ -e "$PORT" ] || { say "no virtio port duct.9p"; done_with 91; }

# v9fs's fd transport writes with kernel_write(), which a virtio port does
# not support (it has no write_iter), so the port is relayed through two
# pipes, which do. The port opens only once, so both cats share that open.
# The two FIFOs live in a directory of their own and are unlinked as soon as
# both ends are open: /test.sh owns /tmp, and a FIFO left under a name it
# may use is a hole into the channel. That was the "frame of 653310493
# bytes" of it.kernel_backend: the FIFOs were /tmp/down and /tmp/up, and its
# guest script's `dd of=/tmp/up` (its scratch file) wrote 512 KiB of random
# bytes straight into the guest->host stream, in the middle of duct's frames.
mkdir -m 700 /run/relay
mkfifo /run/relay/down /run/relay/up
exec 5<>"$PORT"
cat <&5 > /run/relay/down 5>&- &
cat < /run/relay/up >&5 5>&- &
# each open returns once the cat at the other end has opened its side
exec 3< /run/relay/down 4> /run/relay/up 5>&-
rm -r /run/relay
export RFD=3 WFD=4

if [ "$RAW" = 1 ]; then
    say "raw channel on fds 3 (read) and 4 (write)"
    /test.sh; done_with $?
fi
O="trans=fd,rfdno=3,wfdno=4,version=$VERSION,msize=$MSIZE"
[ -n "$ANAME" ] && O="$O,aname=$ANAME"
[ -n "$OPTS" ] && O="$O,$OPTS"
say "mount -t 9p -o $O duct /mnt"
mount -t 9p -o "$O" duct /mnt || { say "mount failed"; dmesg | tail -15; done_with 93; }
exec 3<&- 4>&-    # the mount holds its own references
grep ' /mnt ' /proc/mounts
/test.sh /mnt; rc=$?
umount /mnt || { say "umount /mnt failed"; rc=$((rc + 1)); }
done_with $rc
