#!/bin/bash
# readdirplus.sh — issue 10 item 4: between two ducts `ls -l` is a handful of
# Treaddirplus round trips (the entries carry their attributes; the nodes
# they make have no fid on the export until an op needs one), and a create
# is one Tlcreateattr (the open file and its attributes). Counted in the
# mounting duct's -D trace, on a fresh mount:
#   ls -l of 300 files <= 20 requests; stat of an unseen name 1;
#   create+write+close of a small file: the kernel's lookup of the new name
#   (Twalkattr, ENOENT), then Tlcreateattr + Twrite, the two round trips
#   open(2)+write(2) wait for, then the Tclunk of FUSE's release, which
#   close(2) does not wait for (the kernel sends release asynchronously);
#   close's own FLUSH sends nothing (no locks, no write-back cache).
#   The create runs with umask 0: with a umask the mount first asks whether
#   the directory has a default ACL (create_mode.cc), once per directory
#   per attribute timeout — not what is counted here.
# Correctness: listed attributes equal what lstat says on the exporting
# disk, and are used (no request per name after the listing); a file
# renamed, removed or replaced on the exporting disk between an `ls -l` and
# an open never yields another file's data; a directory of 3000 entries
# (many Treaddirplus rounds); names with odd bytes.
# Then the same against an exporting duct that answers ENOSYS to both
# messages, as a duct older than them does: DUCT_TEST_NO_RDP=1 in its
# environment (src/export/server.cc, tests only). The mount must fall back
# (one ENOSYS each, then plain Treaddir and a lookup per name, Tlcreate) and
# everything still works.
source "$(dirname "$0")/lib.bash"
it_init readdirplus
need_fuse
need_cmd python3
make_side_wrapper

N=300
E=$T/exp; M=$T/mnt
mkdir -p "$E/d" "$E/r" "$E/big" "$E/odd" "$M"; track_mount "$M"
(cd "$E/d" && seq -f 'f%g' 1 $N | xargs touch)
# some variety for the attribute check
head -c 12345 /dev/urandom > "$E/d/f7"; chmod 640 "$E/d/f7"; chown 1234:4321 "$E/d/f8"
touch -d '2001-02-03 04:05:06.789 UTC' "$E/d/f9"; ln "$E/d/f10" "$E/d/hardlink"
ln -s f1 "$E/d/sym"; mkdir "$E/d/sub"; mkfifo "$E/d/fifo"
echo x > "$E/unseen"
echo "content of a" > "$E/r/a"; echo "b's" > "$E/r/b"; echo "c, long enough" > "$E/r/c"
echo "d" > "$E/r/d"; echo "e, replaced" > "$E/r/e"
python3 - "$E/big" <<'EOF'
import os, sys
for i in range(3000):
    open(os.path.join(sys.argv[1], "entry-%05d-" % i + "x" * 90), "w").close()
EOF
python3 - "$E/odd" <<'EOF'
import os, sys
d = os.fsencode(sys.argv[1])
names = [b"with space", b"new\nline", "ünïcødé-名前".encode(), b"\x01ctl\x7f", b"y" * 255,
         b"-dash", b"tab\there", b"\xff\xfe not utf-8"]
for n in names:
    with open(os.path.join(d, n), "wb") as f: f.write(b"data of " + n)
EOF

# requests the mount sent since line $1 of its trace, as "count type" lines
# (but Tfeed: the change feed's one held request, renewed after each batch
# of events, is no operation's cost)
requests_since() { tail -n +"$(($1 + 1))" "$T/mnt.log" | grep -o -- '-> T[a-z0-9]*' | grep -v -- '-> Tfeed$' | sort | uniq -c | awk '{print $1, $3}'; }
total() { awk '{s += $1} END {print s + 0}'; }
count_of() { awk -v t="$1" '$2 == t {s += $1} END {print s + 0}'; }
mark() { wc -l < "$T/mnt.log"; }
settle() { sleep 0.3; }  # let the trace catch up (the async release, forgets)

start_pair() {  # NAME [ENV=VAL]: a fresh pair on $M
    local name=$1; shift
    env "$@" timeout 300 "$DUCT" -D --exec "$T/side.sh $name $E -" - "$M" 2> "$T/mnt.log" &
    DP=$!; track_pid $DP
    wait_mounted "$M" 10 || die "no mount: $(tail -5 "$T/mnt.log")"
    grep -q 'version 9P2000.L.duct' "$T/mnt.log" || bad "the pair did not negotiate the extension"
}
stop_pair() {
    unmount "$M" || bad "unmount"
    wait_exit $DP 20
    expect_eq "duct exits 0 after the unmount" 0 "$WAIT_RC"
}

# The attributes the mount shows for every entry of a directory equal lstat
# on the disk (names as bytes; st_ino is the export's qid path, not compared).
same_attrs() {  # MOUNTDIR DISKDIR
    python3 - "$1" "$2" <<'EOF'
import os, sys
m, d = (os.fsencode(a) for a in sys.argv[1:3])
names = sorted(os.listdir(m))
want = sorted(os.listdir(d))
if names != want:
    print("names differ:", set(names) ^ set(want)); sys.exit(1)
bad = 0
for n in names:
    a, b = os.lstat(os.path.join(m, n)), os.lstat(os.path.join(d, n))
    for f in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_mtime_ns", "st_ctime_ns", "st_blocks"):
        if getattr(a, f) != getattr(b, f):
            print(n, f, getattr(a, f), "!=", getattr(b, f)); bad += 1
sys.exit(1 if bad else 0)
EOF
}

# ---- between two current ducts
start_pair exp
m=$(mark)
n=$(timeout 60 ls -l "$M/d" | grep -cE '[0-9] f[0-9]+$')
expect_eq "ls -l lists every file" $N "$n"
settle
r=$(requests_since $m)
log "ls -l of $N files, fresh mount: $(echo "$r" | tr "\n" ",")"
t=$(echo "$r" | total)
if [ "$t" -le 20 ]; then ok "ls -l of $N files on a fresh mount: $t requests <= 20"
else bad "ls -l of $N files on a fresh mount: $t requests, want <= 20"; fi
expect_eq "ls -l: it is read with Treaddirplus" 0 "$(echo "$r" | count_of Treaddir)"
# d's own lookup, and the walk that gives the symlink's node a fid for its
# Treadlink (ls -l reads the target); none per name.
expect_eq "ls -l: no lookup per name" 2 "$(echo "$r" | count_of Twalkattr)"

m=$(mark)
check "listed attributes equal lstat on the exporting disk" same_attrs "$M/d" "$E/d"
settle
r=$(requests_since $m)
log "lstat of every listed name: $(echo "$r" | tr "\n" ",")"
expect_eq "lstat after the listing: no Twalkattr (attributes came with the entries)" 0 "$(echo "$r" | count_of Twalkattr)"
# (the directory's own attributes may have timed out, and those of the
# subdirectory listed in it: the change feed watches a directory only once
# it is walked into, so until then its attributes are cached for 1 s)
t=$(echo "$r" | count_of Tgetattr)
if [ "$t" -le 2 ]; then ok "lstat after the listing: no Tgetattr per name ($t)"
else bad "lstat after the listing: $t Tgetattr, want <= 2"; fi
expect_eq "a listed file reads through its lazy node" "$(cat "$E/d/f7" | md5sum)" "$(timeout 10 cat "$M/d/f7" | md5sum)"
expect_eq "a listed symlink reads" f1 "$(timeout 10 readlink "$M/d/sym")"
check "a listed directory lists" timeout 10 ls "$M/d/sub"

m=$(mark)
expect_eq "stat of an unseen name" 2 "$(timeout 10 stat -c %s "$M/unseen" 2>&1)"
settle
from_walk_of() {  # NAME: the trace line before the first Twalkattr of NAME since $m
    local i
    i=$(tail -n +"$((m + 1))" "$T/mnt.log" | grep -n -m1 -- "-> Twalkattr.* 0:$1\$" | cut -d: -f1)
    [ -n "$i" ] && echo $((m + i - 1)) || echo $m
}
# (from its lookup on: the path walk may first revalidate / after 1 s)
m=$(from_walk_of unseen)
r=$(requests_since $m)
expect_eq "stat of an unseen name: 1 request" 1 "$(echo "$r" | total)"

m=$(mark)
check "create+write+close" timeout 10 bash -c "umask 0; printf small > '$M/d/new1'"
settle
# From the kernel's lookup of the new name on: the path walk before it may
# revalidate / and d (their 1 s timeouts), which is not the create's cost.
m=$(from_walk_of new1)
r=$(requests_since $m)
log "create+write+close: $(echo "$r" | tr "\n" ",")"
expect_eq "create: one Tlcreateattr" 1 "$(echo "$r" | count_of Tlcreateattr)"
expect_eq "create+write+close: the lookup of the new name, create, write, release" \
    "1 Tclunk,1 Tlcreateattr,1 Twalkattr,1 Twrite" "$(echo "$r" | tr "\n" "," | sed 's/,$//')"
expect_eq "created file on disk" small "$(cat "$E/d/new1" 2>&1)"
expect_eq "created file's mode" 666 "$(stat -c %a "$E/d/new1")"
expect_eq "created file: its attributes through the mount" "5 666" "$(timeout 10 stat -c '%s %a' "$M/d/new1")"
check "O_EXCL create of an existing name fails" bash -c "! (set -o noclobber; echo x > '$M/d/new1') 2>/dev/null"
expect_eq "created then renamed through the mount" small \
    "$(timeout 10 mv "$M/d/new1" "$M/d/new2" && timeout 10 cat "$M/d/new2")"

# Changes on the exporting disk between a listing and an open.
timeout 10 ls -l "$M/r" > /dev/null
mv "$E/r/a" "$E/r/tmp"; mv "$E/r/b" "$E/r/a"; mv "$E/r/tmp" "$E/r/b"  # a and b swap names
rm "$E/r/c"                                                           # c goes
mv "$E/r/d" "$E/r/d2"                                                 # d moves
mv "$E/r/e" "$E/r/e.old"; echo "the new e" > "$E/r/e"                 # e replaced
expect_eq "swapped on disk: a has b's data" "b's" "$(timeout 10 cat "$M/r/a" 2>&1)"
expect_eq "swapped on disk: a's size is b's" 4 "$(timeout 10 stat -c %s "$M/r/a" 2>&1)"
# b's dentry may still name the node that a's lookup just gave a fid (the
# file listed as b, now at a): within the entry timeout that file, as a
# cached dentry gives on any FUSE file system; after it the file now at b.
# Either way its data and its size are one file's.
got=$(timeout 10 cat "$M/r/b" 2>&1); sz=$(timeout 10 stat -c %s "$M/r/b" 2>&1)
case "$got/$sz" in
"b's/4"|"content of a/13") ok "swapped on disk: b gives one file's data and size ($got)";;
*) bad "swapped on disk: b gives '$got' of size $sz";;
esac
sleep 1.2  # past the entry timeout
expect_eq "swapped on disk: b, looked up again, has a's data" "content of a" "$(timeout 10 cat "$M/r/b" 2>&1)"
check "removed on disk: open fails" bash -c "! timeout 10 cat '$M/r/c' 2>/dev/null"
check "moved on disk: the old name fails" bash -c "! timeout 10 cat '$M/r/d' 2>/dev/null"
expect_eq "moved on disk: the new name reads" d "$(timeout 10 cat "$M/r/d2" 2>&1)"
expect_eq "replaced on disk: the new file's data" "the new e" "$(timeout 10 cat "$M/r/e" 2>&1)"
expect_eq "replaced on disk: and the new file's size" 10 "$(timeout 10 stat -c %s "$M/r/e" 2>&1)"

EP=$(side_pid exp)
fds() { ls "/proc/$EP/fd" | wc -l; }
fd0=$(fds)
m=$(mark)
n=$(timeout 60 ls -l "$M/big" | grep -c ' entry-')
expect_eq "3000 entries listed" 3000 "$n"
settle
r=$(requests_since $m)
log "ls -l of 3000 entries: $(echo "$r" | tr "\n" ",")"
rounds=$(echo "$r" | count_of Treaddirplus)
if [ "$rounds" -ge 4 ]; then ok "3000 entries came in $rounds Treaddirplus rounds"
else bad "3000 entries: $rounds Treaddirplus rounds, want several (>= 4)"; fi
expect_eq "3000 entries: one lookup (of big itself)" 1 "$(echo "$r" | count_of Twalkattr)"
check "3000 entries: names and attributes as on disk" same_attrs "$M/big" "$E/big"
fd1=$(fds)
# The 3000 nodes the kernel now holds have no fid, so no descriptor, on
# the exporting side (an eager fid per entry would be ~3000 more).
if [ $((fd1 - fd0)) -le 20 ]; then ok "3000 listed entries: exporting duct has $((fd1 - fd0)) more descriptors (<= 20)"
else bad "3000 listed entries: exporting duct has $((fd1 - fd0)) more descriptors, want <= 20"; fi

check "odd names: listed and their attributes as on disk" same_attrs "$M/odd" "$E/odd"
check "odd names: each reads its own data" python3 - "$M/odd" <<'EOF'
import os, sys
m = os.fsencode(sys.argv[1])
for n in os.listdir(m):
    if open(os.path.join(m, n), "rb").read() != b"data of " + n: print(n); sys.exit(1)
EOF
stop_pair

# ---- against a duct that answers ENOSYS to Treaddirplus and Tlcreateattr
start_pair old DUCT_TEST_NO_RDP=1
m=$(mark)
n=$(timeout 60 ls -l "$M/d" | grep -cE '[0-9] f[0-9]+$')
expect_eq "old peer: ls -l lists every file" $N "$n"
settle
r=$(requests_since $m)
log "old peer: ls -l of $N files: $(echo "$r" | tr "\n" ",")"
expect_eq "old peer: one Treaddirplus (ENOSYS), then plain Treaddir" 1 "$(echo "$r" | count_of Treaddirplus)"
w=$(echo "$r" | count_of Twalkattr)
if [ "$w" -ge $N ]; then ok "old peer: a lookup per name, as before ($w)"
else bad "old peer: $w Twalkattr for $N names, want >= $N"; fi
check "old peer: attributes as on disk" same_attrs "$M/d" "$E/d"
check "old peer: odd names" same_attrs "$M/odd" "$E/odd"
m=$(mark)
check "old peer: create+write+close" timeout 10 bash -c "umask 0; printf one > '$M/d/old1'; printf two > '$M/d/old2'"
settle
r=$(requests_since $m)
log "old peer: two creates: $(echo "$r" | tr "\n" ",")"
expect_eq "old peer: one Tlcreateattr (ENOSYS), then Tlcreate" "1 2" \
    "$(echo "$r" | count_of Tlcreateattr) $(echo "$r" | count_of Tlcreate)"
expect_eq "old peer: created files on disk" "one two" "$(cat "$E/d/old1") $(cat "$E/d/old2")"
expect_eq "old peer: created file through the mount" "3 666" "$(timeout 10 stat -c '%s %a' "$M/d/old2")"
stop_pair
it_finish
