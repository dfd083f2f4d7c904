#!/bin/bash
# kernel_static.sh — build/duct-static where nothing is installed: inside the
# test VM of tests/vm/run.sh (a busybox initramfs: no libc, no libfuse, no
# C++ runtime, no fusermount3) it prints its version, then exports a guest
# directory over the raw channel (DUCT_VM_RAW=1) to a duct on the host that
# mounts it with FUSE. The host reads a guest file and 1 MiB of random bytes,
# writes a file and 1 MiB back, unmounts; the guest's duct sees the peer's
# unmount (the close frame), exits 0, and the guest checks what the host wrote.
# Skips without duct-static in the build dir (configure with -DDUCT_STATIC=ON;
# scripts/package.sh builds it before the suite runs).
# One VM boot (about 25 s under TCG on a loaded machine).
source "$(dirname "$0")/lib.bash"
it_init kernel_static
need_fuse
need_vm
need_cmd readelf "apt-get install binutils"
S=$DUCT_BUILD/duct-static
[ -x "$S" ] || skip "no $S (configure with -DDUCT_STATIC=ON, or run scripts/package.sh)"
# the executable itself: no program interpreter, no shared library
check "duct-static has no ELF interpreter (statically linked)" \
    sh -c "! LC_ALL=C readelf -l '$S' | grep -q 'Requesting program interpreter'"
check "duct-static needs no shared library" sh -c "! LC_ALL=C readelf -d '$S' 2>/dev/null | grep -q NEEDED"

G=$T/files; mkdir -p "$G/bin"; cp "$S" "$G/bin/duct"
cat > "$T/guest.sh" <<'GUEST'
#!/bin/sh
# the guest half (busybox sh, /test.sh in the VM): exit status = failures
F=0
say() { echo "GUEST-STATIC: $*"; }
no() { say "FAIL: $*"; F=$((F + 1)); }
v=$(/bin/duct --version 2>&1); say "--version: $v"
case $v in "duct "*) ;; *) no "duct --version printed '$v'" ;; esac
for f in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libfuse3.so.3 \
         /bin/fusermount3 /usr/bin/fusermount3; do
    [ -e "$f" ] && no "$f is in the guest: the test would not show that nothing is needed"
done
mkdir -p /gx; echo "from the static duct" > /gx/g.txt
dd if=/dev/urandom of=/gx/g.bin bs=64k count=16 2>/dev/null
md5sum < /gx/g.bin | cut -d' ' -f1 > /gx/g.md5
/bin/duct -v --fd "$RFD,$WFD" /gx - 2> /tmp/duct.log; rc=$?
say "duct exited $rc"; sed 's/^/GUEST-STATIC: log: /' /tmp/duct.log
[ $rc = 0 ] || no "the guest's duct exited $rc"
[ "$(cat /gx/h.txt 2>&1)" = "from the host" ] || no "h.txt: $(cat /gx/h.txt 2>&1)"
[ "$(md5sum < /gx/h.bin | cut -d' ' -f1)" = "$(cat /gx/h.md5 2>&1)" ] || no "h.bin is not what the host wrote"
[ $F = 0 ] && say "all guest checks passed"
exit $F
GUEST
M=$T/mnt; mkdir -p "$M"; track_mount "$M"
head -c 1048576 /dev/urandom > "$T/h.bin"
DUCT_VM_RAW=1 DUCT_VM_SCRIPT="$T/guest.sh" DUCT_VM_FILES="$G" DUCT_VM_TIMEOUT=${DUCT_VM_TIMEOUT:-150} \
    timeout 180 "$VM_RUN" "$DUCT -v - $M 2>>$T/host.log; echo \$? > $T/host.rc" > "$T/vm.log" 2>&1 &
VP=$!; track_pid $VP
# the boot takes most of the time; the VM's own timeout bounds the wait,
# and a VM that has ended (the guest's duct failed) ends it
up=0
for ((i = 0; i < 1500; i++)); do
    is_mounted "$M" && { up=1; break; }
    kill -0 $VP 2>/dev/null || break
    sleep 0.1
done
if [ $up = 1 ]; then
    ok "the host mounted the static duct's export"
    expect_eq "host reads the guest's file" "from the static duct" "$(timeout 20 cat "$M/g.txt" 2>&1)"
    expect_eq "host reads 1 MiB from the guest intact" "$(timeout 20 cat "$M/g.md5" 2>&1)" \
        "$(timeout 60 md5sum < "$M/g.bin" | cut -d' ' -f1)"
    timeout 20 sh -c "echo 'from the host' > '$M/h.txt'" || bad "host write of h.txt"
    timeout 60 cp "$T/h.bin" "$M/h.bin" || bad "host write of 1 MiB"
    timeout 20 sh -c "md5sum < '$T/h.bin' | cut -d' ' -f1 > '$M/h.md5'" || bad "host write of h.md5"
    unmount "$M" || bad "host unmount"
else
    bad "the host never mounted the guest's export"
fi
wait_exit $VP 170
vm_rc "$WAIT_RC" "$T/vm.log"
grep -E '^(GUEST|HOST|GUEST-STATIC):' "$T/vm.log" | sed 's/^/  /'
check "the static duct printed its version in the guest" grep -q '^GUEST-STATIC: --version: duct ' "$T/vm.log"
check "the guest's duct saw the host's unmount and exited 0" grep -q '^GUEST-STATIC: duct exited 0' "$T/vm.log"
expect_eq "guest checks (version, nothing installed, export served, host's writes landed): VM status" 0 "$WAIT_RC"
expect_eq "host duct exits 0" 0 "$(wait_file_rc "$T/host.rc" 5)"
it_finish
