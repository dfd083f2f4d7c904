#!/bin/bash
# space.sh — the exporting duct holds no descriptor for files the peer's
# kernel merely remembers (issue 9, item 17).
#  (a) A 16 MiB file written and stat'ed through the mount (so the mount's
#      kernel caches its node) and then deleted on the exporting side frees
#      its space on a 20 MiB tmpfs at once, and a new 16 MiB write succeeds.
#  (b) Every file of a 20,000-file directory stat'ed three times through
#      the mount (one pass after the 1 s entry timeout) while the exporting
#      duct runs with `ulimit -n 1024`: no "Too many open files", every stat
#      succeeds, the exporting duct's descriptor count stays low, and a file
#      can still be created afterwards. (A python loop of lstat, not ls -l,
#      whose xattr reads triple the round trips and the test's time.)
# Both need a process with CAP_DAC_READ_SEARCH (root) on a file system with
# file handles (tmpfs, ext4, xfs, btrfs); otherwise the export holds a
# descriptor per fid by design and this test skips.
source "$(dirname "$0")/lib.bash"
it_init space
need_fuse
[ "$(id -u)" = 0 ] || skip "needs root (tmpfs mount, CAP_DAC_READ_SEARCH for file handles)"
need_cmd python3

E=$T/exp; M=$T/mnt
mkdir -p "$E/t" "$M"
mount -t tmpfs -o size=20m duct-it-space "$E/t" || skip "cannot mount tmpfs"
track_mount "$E/t"
python3 - "$E" <<'EOF' || skip "the export's file system makes no file handles"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(8 + 128)
ctypes.c_uint.from_buffer(buf).value = 128
mid = ctypes.c_int()
sys.exit(0 if libc.name_to_handle_at(-100, sys.argv[1].encode(), buf, ctypes.byref(mid), 0) == 0 else 1)
EOF
# 20,000 empty files, made directly on the exporting disk
python3 -c "
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(20000): os.close(os.open('%s/f%05d' % (d, i), os.O_CREAT | os.O_WRONLY, 0o644))
" "$E/many"

# The exporting duct runs under its own descriptor limit; its pid is the
# wrapper's (exec keeps it).
cat > "$T/exporter.sh" <<EOS
#!/bin/bash
echo \$\$ > "$T/exporter.pid"
ulimit -n 1024
exec "$DUCT" "$E" - 2>>"$T/exporter.log"
EOS
chmod +x "$T/exporter.sh"
track_mount "$M"
timeout 300 "$DUCT" --exec "$T/exporter.sh" - "$M" 2>>"$T/duct.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 15 || die "no mount (exporter.log: $(tail -3 "$T/exporter.log" 2>/dev/null))"
XP=$(cat "$T/exporter.pid")
expect_eq "the exporting duct runs with 1024 descriptors at most" 1024 \
    "$(awk '/Max open files/ {print $4}' "/proc/$XP/limits")"

# ---- (a) space of a file deleted on the exporting side ----
used_kb() { df -k --output=used "$E/t" | tail -1 | tr -d ' '; }
check "write 16 MiB through the mount" timeout 60 dd if=/dev/zero of="$M/t/big" bs=1M count=16 status=none
expect_eq "its size through the mount" 16777216 "$(timeout 10 stat -c %s "$M/t/big" 2>&1)"
before=$(used_kb)
rm "$E/t/big"
after=$(used_kb)
log "tmpfs used: ${before} KiB with the file, ${after} KiB after rm on the exporting side"
if [ "$after" -lt 1024 ]; then ok "space freed at once (${after} KiB used)"
else bad "space still used after the delete: ${after} KiB (exporting duct holds: $(ls -l /proc/$XP/fd 2>/dev/null | grep -c "$E/t"))"; fi
check "a new 16 MiB write succeeds" timeout 60 dd if=/dev/zero of="$M/t/big2" bs=1M count=16 status=none
expect_eq "... and is all on disk" 16777216 "$(stat -c %s "$E/t/big2" 2>&1)"
rm -f "$E/t/big2"

# ---- (b) a directory of 20,000 files, stat'ed three times ----
fds() { ls "/proc/$XP/fd" | wc -l; }
# one pass: readdir, then lstat of every entry; prints "entries errors first-error"
stat_pass() {
    python3 -c "
import os, sys
d = sys.argv[1]; n = errs = 0; first = ''
for e in os.listdir(d):
    try:
        os.lstat(d + '/' + e); n += 1
    except OSError as x:
        errs += 1; first = first or str(x)
print(n, errs, first)" "$1"
}
for pass in 1 2 3; do
    [ $pass = 2 ] && sleep 1.2  # past the mount's 1 s entry timeout: every name looked up again
    out=$(timeout 50 bash -c "$(declare -f stat_pass); stat_pass '$M/many'" 2>&1) || true
    log "pass $pass: $out"
    expect_eq "pass $pass: every one of the 20,000 files stat'ed, no error" "20000 0" "$(echo "$out" | cut -d' ' -f1-2)"
    n=$(fds)
    log "pass $pass: exporting duct holds $n descriptors"
    if [ "$n" -lt 200 ]; then ok "pass $pass: the exporting duct holds few descriptors ($n)"
    else bad "pass $pass: the exporting duct holds $n descriptors"; fi
done
check "no 'Too many open files' in the exporting duct's log" bash -c "! grep -qi 'too many open files\|out of file descriptors' '$T/exporter.log'"
check "a file can be created afterwards" timeout 10 sh -c "echo after > '$M/many/after'"
expect_eq "... and is on disk" after "$(cat "$E/many/after" 2>&1)"

check "unmount" unmount "$M"
wait_unmounted "$M" 10 || bad "mount still there"
wait_exit $DP 30
expect_eq "the mounting duct exits 0 after the unmount" 0 "$WAIT_RC"
for i in 1 2 3 4 5 6 7 8 9 10; do umount "$E/t" 2>/dev/null && break; sleep 0.3; done
it_finish
