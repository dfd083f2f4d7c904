#!/bin/bash
# coherence.sh — issue 10 items 2 and 3: the change feed. Two ducts joined
# by a pipe, each mounting the other's export; with the mount having cached
# things (stat, ls, cat first), changes made directly on the exporting disk
# are seen through the mount within 100 ms (polled every 10 ms), in both
# directions: a new file in a listed directory, content rewritten at the
# same size, truncate, chmod, rename, unlink, mkdir. Then two peers of one
# `--listen unix:PATH EXPORT -`: B writes through its mount, A sees it.
# Then message counts (the mounting duct's -D trace): a second `ls -l` of
# 300 files 3 s after the first costs (almost) nothing with the feed, and
# what it costs today with --cache-timeout 0.
source "$(dirname "$0")/lib.bash"
it_init coherence
need_fuse

A=$T/a; B=$T/b; MA=$T/ma; MB=$T/mb
mkdir -p "$A/d" "$B/d" "$MA" "$MB"; track_mount "$MA"; track_mount "$MB"
# Side 1 exports A and mounts B's export on MB; side 2 exports B, mounts on MA.
timeout 120 "$DUCT" -D --cache-timeout 3600 --exec "$DUCT -D --cache-timeout 3600 $B $MA 2> $T/side2.log" "$A" "$MB" 2> "$T/side1.log" &
track_pid $!
wait_mounted "$MA" 10 || die "no mount at $MA"
wait_mounted "$MB" 10 || die "no mount at $MB"

# seen DESC CMD...: CMD succeeds within 100 ms (polled every 10 ms)
seen() {
    local desc=$1; shift
    for _ in $(seq 0 10); do
        if "$@" > /dev/null 2>&1; then ok "$desc"; return; fi
        sleep 0.01
    done
    bad "$desc (not seen within 100 ms)"
}

for dir in "$A:$MA" "$B:$MB"; do
    E=${dir%%:*}; M=${dir##*:}; n=$(basename "$M")
    echo one > "$E/d/f"; echo keep > "$E/d/g"
    ls -l "$M/d" > /dev/null; cat "$M/d/f" > /dev/null; stat "$M/d/g" > /dev/null
    stat "$M/d/new" > /dev/null 2>&1 || true   # a negative entry to undo
    sleep 1.5   # past the 1 s timeouts of old: only the feed can tell now
    ls "$M/d" > /dev/null; cat "$M/d/f" > /dev/null; stat "$M/d/g" > /dev/null
    echo hi > "$E/d/new"
    seen "$n: new file listed" sh -c "ls '$M/d' | grep -qx new"
    seen "$n: new file stat" stat "$M/d/new"
    echo two > "$E/d/f"   # same size, perhaps the same mtime second
    seen "$n: rewrite at the same size" sh -c "[ \"\$(cat '$M/d/f')\" = two ]"
    truncate -s 1 "$E/d/f"
    seen "$n: truncate" sh -c "[ \"\$(stat -c %s '$M/d/f')\" = 1 ]"
    chmod 600 "$E/d/g"
    seen "$n: chmod" sh -c "[ \"\$(stat -c %a '$M/d/g')\" = 600 ]"
    mv "$E/d/g" "$E/d/h"
    seen "$n: rename (old name gone)" sh -c "! stat '$M/d/g'"
    seen "$n: rename (new name there)" stat "$M/d/h"
    rm "$E/d/h"
    seen "$n: unlink" sh -c "! stat '$M/d/h' && ! ls '$M/d' | grep -qx h"
    mkdir "$E/d/sub"
    seen "$n: mkdir" test -d "$M/d/sub"
    cat "$M/d/new" > /dev/null; echo HI > "$E/d/new"
    seen "$n: changed between two opens" sh -c "[ \"\$(cat '$M/d/new')\" = HI ]"
done

# Messages: the mount of side 2 (on MA) traces in side2.log.
N=300
(cd "$A/d" && mkdir many && cd many && seq -f 'f%g' 1 $N | xargs touch)
# requests since line $1 of side 2's trace, but the feed's own Tfeed
count() { tail -n +"$(($1 + 1))" "$T/side2.log" | grep -- '-> T[a-z]' | grep -vc -- '-> Tfeed ' || true; }
ls -l "$MA/d/many" > /dev/null
sleep 3
m=$(wc -l < "$T/side2.log")
ls -l "$MA/d/many" | grep -c ' f' > /dev/null
sleep 0.2
c=$(count $m); c_ls=$c
log "second ls -l of $N files 3 s later, feed on: $c requests:" \
    $(tail -n +"$((m + 1))" "$T/side2.log" | grep -o -- '-> T[a-z]*' | sort | uniq -c | tr -d '>-')
check "second ls -l of $N files costs at most 5 requests with the feed ($c)" test "$c" -le 5
stat "$MA/d/absent" > /dev/null 2>&1 || true; sleep 0.2
m=$(wc -l < "$T/side2.log")
stat "$MA/d/absent" > /dev/null 2>&1 || true; sleep 0.2
c=$(count $m)
log "stat of a name seen ENOENT before: $c requests"
check "a name seen absent is remembered (negative entry): 0 requests ($c)" test "$c" -eq 0

# keep_cache: a file read, closed and read again costs no second Tread;
# cache_readdir: a second listing no Treaddir.
head -c 100000 /dev/urandom > "$A/d/big"
# Read twice before counting: the events of the write above may reach the
# mount after the first read (and rightly drop what it cached).
cmp "$A/d/big" "$MA/d/big"; ls "$MA/d" > /dev/null; sleep 0.5
cmp "$A/d/big" "$MA/d/big"; ls "$MA/d" > /dev/null; sleep 1.5
m=$(wc -l < "$T/side2.log")
cmp "$A/d/big" "$MA/d/big"; ls "$MA/d" > /dev/null; sleep 0.2
r=$(tail -n +"$((m + 1))" "$T/side2.log" | grep -c -- '-> Tread ' || true)
d=$(tail -n +"$((m + 1))" "$T/side2.log" | grep -c -- '-> Treaddir ' || true)
check "a file read again after close: pages kept, no Tread ($r)" test "$r" -eq 0
check "a directory listed again: listing kept, no Treaddir ($d)" test "$d" -eq 0
head -c 100000 /dev/urandom > "$A/d/big"
seen "rewritten on the exporting disk: read afresh" cmp "$A/d/big" "$MA/d/big"

unmount "$MA"; unmount "$MB"

# The same with --cache-timeout 0: today's behaviour (a request per file).
mkdir -p "$T/m0"; track_mount "$T/m0"
timeout 60 "$DUCT" -D --cache-timeout 0 --exec "$DUCT $A -" - "$T/m0" 2> "$T/m0.log" &
track_pid $!
wait_mounted "$T/m0" 10 || die "no mount at $T/m0"
ls -l "$T/m0/d/many" > /dev/null; sleep 3
m=$(wc -l < "$T/m0.log")
ls -l "$T/m0/d/many" > /dev/null; sleep 0.2
c0=$(tail -n +"$((m + 1))" "$T/m0.log" | grep -c -- '-> T[a-z]' || true)
rd0=$(tail -n +"$((m + 1))" "$T/m0.log" | grep -c -- '-> Treaddir' || true)
log "second ls -l of $N files 3 s later, --cache-timeout 0: $c0 requests"
check "--cache-timeout 0: no Tfeed sent" sh -c "! grep -q -- '-> Tfeed' '$T/m0.log'"
# (readdirplus brings the attributes with the listing: not one request per
# file any more, but the directory is read again and the names revalidated)
check "--cache-timeout 0: the second ls -l reads the directory again ($rd0 Treaddir*)" test "$rd0" -ge 1
check "--cache-timeout 0: the second ls -l costs more than with the feed ($c0 > $c_ls)" test "$c0" -gt "$c_ls"
unmount "$T/m0"

# Two peers of one listener: B writes through its mount, A's mount sees it.
S=$T/sock; mkdir -p "$T/p1" "$T/p2"; track_mount "$T/p1"; track_mount "$T/p2"
timeout 60 "$DUCT" --listen "unix:$S" "$A" - 2> "$T/listen.log" &
track_pid $!
for _ in $(seq 50); do [ -S "$S" ] && break; sleep 0.1; done
timeout 60 "$DUCT" --cache-timeout 3600 --dial "unix:$S" - "$T/p1" 2> "$T/p1.log" & track_pid $!
timeout 60 "$DUCT" --cache-timeout 3600 --dial "unix:$S" - "$T/p2" 2> "$T/p2.log" & track_pid $!
wait_mounted "$T/p1" 10 || die "no mount p1"; wait_mounted "$T/p2" 10 || die "no mount p2"
ls "$T/p1/d" > /dev/null; cat "$T/p1/d/f" > /dev/null; sleep 1.5
echo "from B" > "$T/p2/d/byb"; echo "B!" > "$T/p2/d/f"
seen "listener: peer A sees peer B's new file" stat "$T/p1/d/byb"
seen "listener: peer A sees peer B's write" sh -c "[ \"\$(cat '$T/p1/d/f')\" = 'B!' ]"

# "lost": a tiny inotify queue overflows; nothing stale is served after.
Q=/proc/sys/fs/inotify/max_queued_events
if [ -w $Q ]; then
    old=$(cat $Q); echo 16 > $Q
    # the queue size is fixed when an inotify instance starts: a new peer
    mkdir -p "$T/p3"; track_mount "$T/p3"
    timeout 60 "$DUCT" -D --cache-timeout 3600 --dial "unix:$S" - "$T/p3" 2> "$T/p3.log" & track_pid $!
    wait_mounted "$T/p3" 10 || die "no mount p3"
    # the export's inotify starts with the first Tfeed: restore after it
    for _ in $(seq 100); do grep -q -- '<- Rfeed' "$T/p3.log" && break; sleep 0.05; done
    echo $old > $Q
    ls -l "$T/p3/d/many" > /dev/null; cat "$T/p3/d/f" > /dev/null; sleep 1.5
    # one process, 300 events at once: more than the queue of 16 holds
    (cd "$A/d/many" && touch $(seq -f 'f%g' 1 $N))
    echo lost > "$A/d/f"
    seen "lost: the rewritten file is read afresh" sh -c "[ \"\$(cat '$T/p3/d/f')\" = lost ]"
    check "lost: the mount was told" grep -q 'feed: lost' "$T/p3.log"
    unmount "$T/p3"
else
    log "cannot lower $Q: lost case not run"
fi
unmount "$T/p1"; unmount "$T/p2"
it_finish
