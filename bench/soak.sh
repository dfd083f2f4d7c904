#!/bin/bash
# soak.sh [BUILD_DIR] — a bounded soak (issue 11): two ducts, each mounting
# the other's export through build/duct-relay, both directions busy for
# SOAK_SECONDS (default 600) with SOAK_WORKERS (default 3) random-operation
# workers per mount: create/write/read/rename/unlink/mkdir/rmdir/truncate/
# stat/ls on many small files, plus one huge sparse file (SOAK_HUGE_MIB,
# default 256) written at random offsets. Every file's expected content
# hash is kept by its worker and checked on every read. RSS and fds of
# both ducts are sampled every SOAK_SAMPLE seconds (default 10).
# Prints a summary; exit 1 on a data mismatch, an unexpected error, an fd
# leak (fds at the end > the first sample under load + 8) or RSS growth
# (end - first sample under load) over SOAK_RSS_GROWTH_KIB
# (default 65536: the kernel's page cache is not in RSS; duct's own caches
# are bounded, so 64 MiB over a run is a leak). Root, /dev/fuse.
set -euo pipefail
B=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
DUCT=$B/duct RELAY=$B/duct-relay
SECS=${SOAK_SECONDS:-600} WORKERS=${SOAK_WORKERS:-3} HUGE=${SOAK_HUGE_MIB:-256}
SAMPLE=${SOAK_SAMPLE:-10} GROWTH=${SOAK_RSS_GROWTH_KIB:-65536}
T=$(mktemp -d "${TMPDIR:-/tmp}/duct-soak.XXXXXX")
cleanup() {
    set +e
    for m in "$T/ma" "$T/mb"; do awk -v m="$m" '$2==m{f=1}END{exit !f}' /proc/mounts && { fusermount3 -u "$m" || umount -l "$m"; }; done
    [ -n "${RP:-}" ] && { sleep 1; kill "$RP" 2>/dev/null; }
    awk -v m="$T/" 'index($2,m)==1{f=1}END{exit !f}' /proc/mounts || rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/ea" "$T/eb" "$T/ma" "$T/mb"
"$RELAY" -p "$T/pids" "'$DUCT' --timeout 30 '$T/ea' '$T/ma' 2>'$T/a.log'" "'$DUCT' --timeout 30 '$T/eb' '$T/mb' 2>'$T/b.log'" & RP=$!
for i in $(seq 100); do [ -s "$T/pids" ] && awk -v a="$T/ma" -v b="$T/mb" '$2==a{x=1}$2==b{y=1}END{exit !(x&&y)}' /proc/mounts && break; sleep 0.1; done
# the relay's children are sh -c wrappers: the ducts are their children
pa=$(pgrep -P "$(cut -d' ' -f1 "$T/pids")" -x duct || cut -d' ' -f1 "$T/pids")
pb=$(pgrep -P "$(cut -d' ' -f2 "$T/pids")" -x duct || cut -d' ' -f2 "$T/pids")
rss() { awk '/^VmRSS/{print $2}' /proc/$1/status; }
hwm() { awk '/^VmHWM/{print $2}' /proc/$1/status; }
fds() { ls /proc/$1/fd | wc -l; }
sample() { echo "t=$1s rss_kib a=$(rss $pa) b=$(rss $pb) peak a=$(hwm $pa) b=$(hwm $pb) fds a=$(fds $pa) b=$(fds $pb)"; }
r0a=$(rss $pa) r0b=$(rss $pb) f0a=$(fds $pa) f0b=$(fds $pb)
sample 0

cat > "$T/worker.py" <<'PY'
# worker.py DIR SECONDS SEED HUGE_MIB: random operations below DIR, checks content
import hashlib, os, random, sys, time, errno
d, secs, seed, huge = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed); os.makedirs(d, exist_ok=True)
files = {}   # path -> sha256 of expected content
dirs = [d]; ops = errs = 0; end = time.time() + secs
hp = os.path.join(d, "huge"); hsz = huge << 20; hchunks = {}
fd = os.open(hp, os.O_CREAT | os.O_RDWR, 0o644); os.ftruncate(fd, hsz); os.close(fd)
def bad(m): print("MISMATCH", m, flush=True); sys.exit(1)
while time.time() < end:
    op = r.choice("cwwrrnuUmdtslh"); ops += 1
    try:
        if op in "cw":
            p = os.path.join(r.choice(dirs), "f%d" % r.randrange(200))
            data = r.randbytes(r.choice([0, 1, 100, 4096, 65536, 1 << 20]))
            with open(p, "wb") as f: f.write(data); f.flush(); os.fsync(f.fileno())
            files[p] = hashlib.sha256(data).hexdigest()
        elif op == "r" and files:
            p = r.choice(list(files))
            with open(p, "rb") as f: h = hashlib.sha256(f.read()).hexdigest()
            if h != files[p]: bad(p)
        elif op == "n" and files:
            p = r.choice(list(files)); q = os.path.join(r.choice(dirs), "n%d" % r.randrange(200))
            if q in files or q == p: continue
            os.rename(p, q); files[q] = files.pop(p)
        elif op in "uU" and files:
            p = r.choice(list(files)); os.unlink(p); del files[p]
        elif op == "m":
            p = os.path.join(r.choice(dirs), "d%d" % r.randrange(20))
            if p not in dirs: os.mkdir(p); dirs.append(p)
        elif op == "d" and len(dirs) > 1:
            p = r.choice(dirs[1:])
            if any(k.startswith(p + "/") for k in files) or any(x.startswith(p + "/") for x in dirs): continue
            os.rmdir(p); dirs.remove(p)
        elif op == "t" and files:
            p = r.choice(list(files)); n = r.randrange(5000)
            with open(p, "rb") as f: data = f.read()
            data = (data + b"\0" * n)[:n]
            os.truncate(p, n); files[p] = hashlib.sha256(data).hexdigest()
        elif op == "s" and files:
            p = r.choice(list(files)); os.stat(p)
        elif op == "l":
            for root, ds, fs in os.walk(r.choice(dirs)): [os.lstat(os.path.join(root, x)) for x in fs]
        elif op == "h":
            i = r.randrange(hsz >> 20); data = r.randbytes(1 << 20)
            fd = os.open(hp, os.O_RDWR)
            try:
                if i in hchunks and r.random() < 0.5:
                    if hashlib.sha256(os.pread(fd, 1 << 20, i << 20)).hexdigest() != hchunks[i]: bad("huge chunk %d" % i)
                else:
                    os.pwrite(fd, data, i << 20); os.fsync(fd); hchunks[i] = hashlib.sha256(data).hexdigest()
            finally: os.close(fd)
    except OSError as e:
        errs += 1; print("ERROR", op, e, flush=True)
for p, h in files.items():
    with open(p, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != h: bad("final " + p)
print("ops %d errors %d files %d dirs %d huge_chunks %d" % (ops, errs, len(files), len(dirs), len(hchunks)), flush=True)
sys.exit(1 if errs else 0)
PY
wp=()
for w in $(seq 1 "$WORKERS"); do
    nice python3 "$T/worker.py" "$T/ma/w$w" "$SECS" "$w" "$HUGE" > "$T/wa$w.out" 2>&1 & wp+=($!)
    nice python3 "$T/worker.py" "$T/mb/w$w" "$SECS" "$((w + 100))" "$HUGE" > "$T/wb$w.out" 2>&1 & wp+=($!)
done
t0=$(date +%s)
# The leak checks compare the end with the first sample under load (warm:
# open files, the mount's caches and the worker threads are there by then).
w0a= w0b= g0a= g0b=
while [ $(( $(date +%s) - t0 )) -lt "$SECS" ]; do
    sleep "$SAMPLE"; sample $(( $(date +%s) - t0 ))
    [ -n "$w0a" ] || { w0a=$(rss $pa) w0b=$(rss $pb) g0a=$(fds $pa) g0b=$(fds $pb); }
done
fail=0
for p in "${wp[@]}"; do wait "$p" || fail=1; done
sleep 2
r1a=$(rss $pa) r1b=$(rss $pb) f1a=$(fds $pa) f1b=$(fds $pb)
sample end
echo "---- workers"; for f in "$T"/w[ab]*.out; do echo "$(basename "$f" .out): $(grep -c ERROR "$f" || true) errors, $(grep -c MISMATCH "$f" || true) mismatches; $(tail -1 "$f")"; done
ops=$(cat "$T"/w[ab]*.out | awk '/^ops/{s+=$2}END{print s+0}')
errs=$(cat "$T"/w[ab]*.out | grep -c -E "ERROR|MISMATCH" || true)
echo "SUMMARY: ${SECS}s, $((WORKERS * 2)) workers, $ops operations, $errs errors/mismatches"
echo "SUMMARY: rss_kib a start $r0a warm $w0a end $r1a peak $(hwm $pa); b start $r0b warm $w0b end $r1b peak $(hwm $pb)"
echo "SUMMARY: fds a start $f0a warm $g0a end $f1a; b start $f0b warm $g0b end $f1b"
[ "$errs" -eq 0 ] || { echo "FAIL: errors or mismatches"; fail=1; }
[ "$f1a" -le $((g0a + 8)) ] && [ "$f1b" -le $((g0b + 8)) ] || { echo "FAIL: fd leak"; fail=1; }
[ $((r1a - w0a)) -le "$GROWTH" ] && [ $((r1b - w0b)) -le "$GROWTH" ] || { echo "FAIL: RSS grew more than $GROWTH KiB"; fail=1; }
fusermount3 -u "$T/ma"; fusermount3 -u "$T/mb"
rc=0; wait $RP || rc=$?; RP=
echo "SUMMARY: relay (both ducts) exit $rc"
[ $rc -eq 0 ] || fail=1
[ $fail -eq 0 ] && echo "RESULT: soak passed" || echo "RESULT: soak FAILED"
exit $fail
