#!/usr/bin/env python3
# report.py — bench.sh's report: from its raw lines (link peer round phase
# value msgs/op) a table per link setting with each peer's median and
# spread (min-max over the rounds), duct's messages per operation (from its
# own counters: free of timing noise), the ratios duct/sshfs and duct/bindfs
# (>1: duct is faster) and the targets, met or missed.
#
#   report.py META RAW     (a committed run: report.py LATEST.raw LATEST.raw,
#                          its meta lines and figures are in one file)
import statistics
import sys
from collections import defaultdict

PHASES = [  # name, label, (unused flag)
    ("clone", "git clone", False),
    ("status_cold", "git status, fresh mount", False),
    ("status_warm", "git status, warm", False),
    ("create", "create+write+close small", False),
    ("ls_l", "ls -l many, cold", False),
    ("stat", "stat many, after ls, drop", False),
    ("write", "write big file (fsync)", False),
    ("read", "read big file, cold", False),
    ("stat_idle", "stat unseen name, idle", True),
    ("stat_busy", "stat unseen, bulk copy on", True),
]
PEER_ORDER = ["bare", "bindfs", "sshfs", "duct", "diod"]
RSS_LIMIT_MIB = 64

meta = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition(" ")
    meta[k] = v
vals = defaultdict(list)   # (link, peer, phase) -> [value]
mpo = defaultdict(list)    # (link, peer, phase) -> [messages per op]
links = []
failed = []  # phases that failed or were killed by the watchdog
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) != 6 or f[4] == "":
        continue
    link, peer, _round, phase, value, m = f
    if link not in links:
        links.append(link)
    try:
        vals[(link, peer, phase)].append(float(value))
    except ValueError:
        failed.append(f"{peer} {phase} (link {link}, round {_round})")
        continue
    if m != "-":
        mpo[(link, peer, phase)].append(float(m))


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, ms):  # seconds -> ms, 3 significant digits
    if x is None:
        return "-"
    x *= 1000
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def cell(link, peer, phase, ms):
    xs = vals.get((link, peer, phase))
    if not xs:
        return "-"
    return f"{fmt(med(xs), ms)} [{fmt(min(xs), ms)}-{fmt(max(xs), ms)}]"


def ratio(link, other, phase):
    d, o = med(vals.get((link, "duct", phase), [])), med(vals.get((link, other, phase), []))
    if not d or not o:
        return None
    return o / d


def rx(r):  # a ratio: two decimals, three when it is below 0.1
    return "-" if not r else (f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x")


def link_name(link, short=False):
    rtt, rate = link.split(":")
    if float(rtt) == 0 and float(rate) == 0:
        return "pipe" if short else "pipe (no delay, no rate limit; every channel still crosses duct-relay)"
    r = f"{rate} Mbit/s" if float(rate) else "no rate limit"
    return f"rtt {rtt} ms, {r}" if short else f"round trip {rtt} ms, {r}"


print(f"duct benchmark, {meta.get('date', '?')}")
print(f"machine: {meta.get('machine', '?')}")
print(f"versions: {meta.get('versions', meta.get('duct', '?'))}")
print(f"sizes: {meta.get('sizes', '?')}")
print(f"command: {meta.get('command', '?')}")
print("cells: median [min-max] over the rounds, in ms; ratios are")
print("peer time / duct time (>1: duct is faster); msgs/op: duct mount's 9P requests per")
print("operation (per file, per MiB, per stat), from its own counters. Fresh mount and")
print("ls -l: nothing seen yet; 'drop': the kernel's caches dropped (a peer's own cache")
print("stays: sshfs keeps what ls -l read); reads are cold, writes end with fsync.")

met, missed = [], []
for link in links:
    peers = [p for p in PEER_ORDER if any((link, p, ph) in vals for ph, _, _ in PHASES)]
    pipe = link == "0:0"
    print()
    print(f"== link: {link_name(link)}")
    w = 21
    head = f"{'phase':<27}" + "".join(f"{p:>{w}}" for p in peers)
    head += f"{'msgs/op':>9}{'/sshfs':>8}{'/bindfs':>8}  target"
    print(head)
    for ph, label, ms in PHASES:
        row = f"{label:<27}" + "".join(f"{cell(link, p, ph, ms):>{w}}" for p in peers)
        m = med(mpo.get((link, "duct", ph), []))
        row += f"{(f'{m:.2f}' if m is not None else '-'):>9}"
        rs, rb = ratio(link, "sshfs", ph), ratio(link, "bindfs", ph)
        row += f"{rx(rs):>8}{rx(rb):>8}"
        verdict = []
        if pipe:
            if rs is not None:
                verdict.append(("sshfs>=1.5x", rs >= 1.5))
            if rb is not None:
                verdict.append(("bindfs>=1.0x", rb >= 1.0))
        elif rs is not None:
            verdict.append(("sshfs>=2x", rs >= 2.0))
        ok = all(v for _, v in verdict)
        if verdict:
            row += "  " + ("met" if ok else "MISSED " + ",".join(n for n, v in verdict if not v))
            (met if ok else missed).append(f"{link_name(link, True)}: {label}")
        print(row)
    # A lookup while the link is full should cost at most twice its idle time.
    for p in [q for q in ("duct", "sshfs", "diod") if q in peers]:
        idle, busy = med(vals.get((link, p, "stat_idle"), [])), med(vals.get((link, p, "stat_busy"), []))
        if idle and busy:
            r = busy / idle
            s = f"   {p}: stat under bulk copy / idle = {r:.2g}x"
            if p == "duct":
                s += "  (target <= 2x: " + ("met" if r <= 2 else "MISSED") + ")"
                (met if r <= 2 else missed).append(f"{link_name(link, True)}: stat under load <= 2x idle")
            print(s)

print()
print(f"== peak RSS (VmHWM, MiB, max over all rounds and links; target < {RSS_LIMIT_MIB} MiB per duct)")
for p, sides in (("duct", ("export", "mount")), ("diod", ("mount",)), ("sshfs", ("export", "mount"))):
    for s in sides:
        xs = [x for (l, q, ph), v in vals.items() if q == p and ph == f"rss_{s}" for x in v]
        if not xs:
            continue
        who = {("duct", "export"): "duct SRC -", ("duct", "mount"): "duct - MNT",
               ("diod", "mount"): "duct - MNT (of diod)", ("sshfs", "export"): "sftp-server",
               ("sshfs", "mount"): "sshfs"}[(p, s)]
        line = f"   {who:<22} {max(xs):7.1f}"
        if p in ("duct", "diod"):
            ok = max(xs) < RSS_LIMIT_MIB
            line += "  " + ("met" if ok else "MISSED")
            (met if ok else missed).append(f"RSS {who}")
        print(line)

if failed:
    print()
    print("== failed phases (not counted): " + "; ".join(failed))
print()
print(f"== targets: {len(met)} met, {len(missed)} missed")
for m in missed:
    print(f"   missed: {m}")
