#!/bin/bash
# roundtrips.sh — issue 10 item 4: a lookup costs one round trip between two
# ducts (Twalkattr: the walk and the attributes together), and an `ls -l`
# asks no xattr of files the exporting side knows have none (Rwalkattr's
# xnone bits; with FUSE_CAP_POSIX_ACL the kernel asks system.posix_acl_access
# of each file, and ls asks security.selinux). Before: Twalk + Tgetattr per
# name, and a Txattrwalk per file for each question (~4 per file).
# Counted in the mounting duct's -D trace. And what a file HAS still shows:
# a security.capability and an ACL set on the exporting disk, and xattrs set
# through the mount.
source "$(dirname "$0")/lib.bash"
it_init roundtrips
need_fuse
need_cmd getfattr
need_cmd setfattr
make_side_wrapper

N=300
E=$T/exp; M=$T/mnt
mkdir -p "$E/d" "$M"; track_mount "$M"
(cd "$E/d" && seq -f 'f%g' 1 $N | xargs touch)
echo x > "$E/unseen"
echo c > "$E/capfile"; echo a > "$E/aclfile"; echo s > "$E/setfile"
# security.capability v2: cap_net_raw (bit 13) permitted+effective.
CAP=0x0100000200200000000000000000000000000000
setfattr -n security.capability -v $CAP "$E/capfile" 2>/dev/null || log "no security.capability on this disk"
# system.posix_acl_access: user::rw- user:1234:r-- group::r-- mask::r-- other::r--
ACL=0x0200000001000600ffffffff02000400d204000004000400ffffffff10000400ffffffff20000400ffffffff
has_acl=1
setfattr -n system.posix_acl_access -v $ACL "$E/aclfile" 2>/dev/null || { has_acl=0; log "no ACLs on this disk"; }

timeout 120 "$DUCT" -D --exec "$T/side.sh exp $E -" - "$M" 2> "$T/mnt.log" &
DP=$!; track_pid $DP
wait_mounted "$M" 10 || die "no mount"
grep -q 'version 9P2000.L.duct' "$T/mnt.log" || bad "the pair did not negotiate the extension"

# requests the mount sent since line $1 of its trace, as "count type" lines
requests_since() { tail -n +"$(($1 + 1))" "$T/mnt.log" | grep -o -- '-> T[a-z0-9]*' | sort | uniq -c | awk '{print $1, $3}'; }
total() { awk '{s += $1} END {print s + 0}'; }
count_of() { awk -v t="$1" '$2 == t {s += $1} END {print s + 0}'; }
mark() { wc -l < "$T/mnt.log"; }

# the root's own questions, not counted below (not an ls: a listing gives
# its entries' attributes, and "unseen" would be seen)
timeout 10 stat "$M" > /dev/null
sleep 0.2
m=$(mark)
expect_eq "stat of an unseen name" 2 "$(timeout 10 stat -c %s "$M/unseen" 2>&1)"
sleep 0.2
r=$(requests_since $m)
log "stat of an unseen name: $(echo $r | tr "\n" " ")"
expect_eq "stat of an unseen name: 1 request" 1 "$(echo "$r" | total)"
expect_eq "stat of an unseen name: it is a Twalkattr" 1 "$(echo "$r" | count_of Twalkattr)"

m=$(mark)
n=$(timeout 60 ls -l "$M/d" | grep -c ' f[0-9]')
expect_eq "ls -l lists every file" $N "$n"
sleep 0.2
r=$(requests_since $m)
log "ls -l of $N files: $(echo "$r" | tr "\n" ",")"
expect_eq "ls -l: no Txattrwalk" 0 "$(echo "$r" | count_of Txattrwalk)"
t=$(echo "$r" | total)
if [ "$t" -le $((N + 10)) ]; then ok "ls -l of $N files: $t requests <= $N + 10"
else bad "ls -l of $N files: $t requests, want <= $((N + 10))"; fi

# What is there still shows, from the disk and from the mount.
if getfattr -n security.capability "$E/capfile" >/dev/null 2>&1; then
    expect_eq "capability set on disk seen through the mount" "security.capability=$CAP" \
        "$(timeout 10 getfattr -e hex -n security.capability "$M/capfile" 2>&1 | grep '^security')"
fi
if [ $has_acl = 1 ]; then
    expect_eq "ACL set on disk seen through the mount" "system.posix_acl_access=$ACL" \
        "$(timeout 10 getfattr -e hex -n system.posix_acl_access "$M/aclfile" 2>&1 | grep '^system')"
fi
# setfile was looked up (none of the four) and its answer remembered: a set
# through the mount must be seen at once, not after the timeout.
expect_eq "setfile has no capability yet" "" "$(timeout 10 getfattr -n security.capability "$M/setfile" 2>/dev/null)"
check "set a capability through the mount" timeout 10 setfattr -n security.capability -v $CAP "$M/setfile"
expect_eq "the capability set through the mount is seen at once" "security.capability=$CAP" \
    "$(timeout 10 getfattr -e hex -n security.capability "$M/setfile" 2>&1 | grep '^security')"
expect_eq "and on disk" "security.capability=$CAP" \
    "$(getfattr -e hex -n security.capability "$E/setfile" 2>&1 | grep '^security')"
if [ $has_acl = 1 ]; then
    check "set an ACL through the mount" timeout 10 setfattr -n system.posix_acl_access -v $ACL "$M/setfile"
    expect_eq "the ACL set through the mount is seen at once" "system.posix_acl_access=$ACL" \
        "$(timeout 10 getfattr -e hex -n system.posix_acl_access "$M/setfile" 2>&1 | grep '^system')"
fi

unmount "$M" || bad "unmount"
wait_exit $DP 20
expect_eq "duct exits 0 after the unmount" 0 "$WAIT_RC"
it_finish
