#!/bin/bash
# kernel_conform.sh — the conformance suite (tests/conformance/conform.cc)
# run by the Linux kernel's own 9P client: inside the qemu guest of
# ../shared/interop/run-guest.sh, a static conform compares a guest tmpfs
# (reference) with the guest's v9fs mount of `duct EXPORT -` on the host.
# Reports the counts and every differing case; fails only if the suite did
# not run to the end (the reference is tmpfs of the guest's older kernel, not
# the host's ext4, so differences are not all ours: this is a report).
# Opt-in (about 4 minutes under TCG emulation): DUCT_KERNEL_CONFORM=1.
source "$(dirname "$0")/lib.bash"
it_init kernel_conform
[ -n "${DUCT_KERNEL_CONFORM:-}" ] || skip "opt-in (about 4 min in an emulated VM): set DUCT_KERNEL_CONFORM=1"
RUNGUEST=$(find_run_guest)
[ -x "$RUNGUEST" ] || skip "no $RUNGUEST (the interop harness lives in ../shared beside the repo)"
need_cmd qemu-system-x86_64 "apt-get install qemu-system-x86"
need_cmd busybox "apt-get install busybox-static"
mkdir -p "$T/files" "$T/export"
c++ -std=c++20 -O1 -static -o "$T/files/conform" "$DUCT_SRC/tests/conformance/conform.cc" 2>"$T/cc.log" ||
    skip "cannot link conform statically: $(tail -2 "$T/cc.log")"
cat > "$T/guest.sh" <<'G'
#!/bin/sh
mkdir -p /tmp/ref && mount -t tmpfs tmpfs /tmp/ref
mkdir -p /mnt/kconf && chmod 1777 /tmp/ref /mnt/kconf
/conform --skip readdir/100000 /tmp/ref /mnt/kconf > /tmp/out.txt 2>&1
grep -E '^(DIFF|RESULT|    )' /tmp/out.txt | sed 's/^/GUEST: /'
grep -q '^RESULT' /tmp/out.txt && echo "PASS: conform ran to the end" || { echo "FAIL: conform did not finish"; exit 1; }
exit 0
G
chmod +x "$T/guest.sh"
rc=0
V9FS_GUEST_SCRIPT="$T/guest.sh" V9FS_GUEST_FILES="$T/files" V9FS_TIMEOUT=${V9FS_TIMEOUT:-600} \
    timeout 650 "$RUNGUEST" "$DUCT $T/export -" > "$T/guest.log" 2>&1 || rc=$?
grep -E '^GUEST: (DIFF|RESULT)' "$T/guest.log"
expect_eq "guest exit status" 0 "$rc"
check "conform finished in the guest" grep -q '^GUEST: RESULT' "$T/guest.log"
echo "KERNEL v9fs: $(sed -n 's/^GUEST: RESULT/RESULT/p' "$T/guest.log")"
it_finish
