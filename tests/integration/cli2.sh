#!/bin/bash
# cli2.sh — what duct says and how it exits when its setup or its channel
# is wrong (issue 9 item 18):
#  a. a mount point that is a regular file: "Not a directory", exit 1;
#  b. a bad mount point with a dead channel: the mount point's error, not
#     "channel closed";
#  c. bytes that are not 9P on the channel (a huge frame size, /dev/urandom)
#     with neither direction in use: a message and exit 1;
#  d. the --exec command's own children do not outlive duct: after the
#     channel ends and the command does not exit, duct stops its whole
#     process group (and what it left behind when it does exit).
source "$(dirname "$0")/lib.bash"
it_init cli2

E=$T/exp; mkdir -p "$E"; echo x > "$E/f"
touch "$T/regular"

# ---- a. a regular file as the mount point (with a live peer) ----
if [ -c /dev/fuse ] && command -v fusermount3 > /dev/null; then
    make_side_wrapper
    rc=0
    timeout 20 "$DUCT" --exec "$T/side.sh ina $E -" - "$T/regular" 2> "$T/a.err" || rc=$?
    expect_eq "a: a regular file as the mount point: exit 1" 1 "$rc"
    check "a: ... says Not a directory" grep -q "regular: Not a directory" "$T/a.err"
    if grep -q "Invalid argument" "$T/a.err"; then bad "a: says Invalid argument"; else ok "a: no Invalid argument"; fi
    log "a: $(head -1 "$T/a.err")"
else
    log "a: no FUSE here; checked with a dead channel only"
fi
rc=0
timeout 10 "$DUCT" - "$T/regular" < /dev/null 2> "$T/a2.err" || rc=$?
expect_eq "a: ... and with a dead channel: exit 1" 1 "$rc"
check "a: ... says Not a directory" grep -q "regular: Not a directory" "$T/a2.err"

# ---- b. a bad mount point with a dead channel ----
rc=0
timeout 10 "$DUCT" - "$T/no/such/dir" < /dev/null 2> "$T/b.err" || rc=$?
expect_eq "b: missing mount point, dead channel: exit 1" 1 "$rc"
check "b: ... names the mount point's error" grep -q "no/such/dir: No such file or directory" "$T/b.err"
if grep -q "channel closed" "$T/b.err"; then bad "b: says channel closed"; else ok "b: not hidden behind 'channel closed'"; fi
log "b: $(head -1 "$T/b.err")"

# ---- c. not 9P on the channel, nothing in use ----
printf '\xff\xff\xff\xff\x64\x00\x00' > "$T/junk"
rc=0
timeout 10 "$DUCT" "$E" - < "$T/junk" > /dev/null 2> "$T/c.err" || rc=$?
expect_eq "c: a 4 GiB frame size on the channel: exit 1" 1 "$rc"
check "c: ... with a message naming the frame" grep -q "frame of 4294967295 bytes" "$T/c.err"
log "c: $(head -1 "$T/c.err")"
rc=0
timeout 10 "$DUCT" "$E" - < /dev/urandom > /dev/null 2> "$T/c2.err" || rc=$?
expect_eq "c: /dev/urandom as the channel: exit 1 (not 0, not a hang)" 1 "$rc"
check "c: ... with a message" grep -q "not 9P" "$T/c2.err"
log "c: urandom: $(head -1 "$T/c2.err")"

# ---- d. the --exec command's children ----
# alive PID: running (a zombie waiting for its reaper is not running)
alive() { [ -r "/proc/$1/stat" ] && ! awk '{sub(/.*\) /, ""); exit !($1 == "Z")}' "/proc/$1/stat" 2>/dev/null; }
# The command closes the channel (duct sees EOF, nothing was in use) but
# keeps running, and so does a child it started in the background.
cmd="sleep 300 </dev/null >/dev/null 2>&1 & echo \$! > $T/d.bg; echo \$\$ > $T/d.sh; exec </dev/null >/dev/null; sleep 300"
rc=0
# timeout(1) runs duct in a process group of its own, as from a script.
timeout 30 "$DUCT" --exec "$cmd" "$E" - 2> "$T/d.err" || rc=$?
BG=$(cat "$T/d.bg" 2>/dev/null || echo 0); SH=$(cat "$T/d.sh" 2>/dev/null || echo 0)
[ "$BG" != 0 ] && track_pid "$BG"
[ "$SH" != 0 ] && track_pid "$SH"
expect_eq "d: the channel ended with nothing in use: exit 0" 0 "$rc"
if [ "$BG" != 0 ] && ! alive "$BG"; then ok "d: the command's background child is gone after duct exits"
else bad "d: the command's background child $BG still runs"; fi
if [ "$SH" != 0 ] && ! alive "$SH"; then ok "d: the command itself is gone"
else bad "d: the command $SH still runs"; fi

# the command exits by itself but leaves a child behind
cmd="sleep 300 </dev/null >/dev/null 2>&1 & echo \$! > $T/d2.bg; exec </dev/null >/dev/null; exit 0"
rc=0
timeout 30 "$DUCT" --exec "$cmd" "$E" - 2> "$T/d2.err" || rc=$?
BG=$(cat "$T/d2.bg" 2>/dev/null || echo 0)
[ "$BG" != 0 ] && track_pid "$BG"
expect_eq "d: a command that exits: duct exits 0" 0 "$rc"
if [ "$BG" != 0 ] && ! alive "$BG"; then ok "d: what it left running is stopped too"
else bad "d: its background child $BG still runs"; fi

it_finish
