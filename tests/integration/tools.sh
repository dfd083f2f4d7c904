#!/bin/bash
# tools.sh — everyday tools on a duct mount (issue 3): each must not be able
# to tell the mount from a local disk. A real mount: `duct --exec 'duct EXP -'
# - MNT` (FUSE -> 9P over a pipe -> duct export of EXP). Checks: git clone +
# status clean + fsck + commit, a C project built with make (and rebuilt only
# after a header changes: mtimes), tar c/x round trip with identical
# `tar tvf` listings, rsync -a in and back with no differences (diff -r and an
# empty rsync -n itemization), an editor-style atomic save (temp + fsync +
# rename), and SQLite: 1000 rows in transactions, two concurrent writers with
# busy_timeout, integrity_check ok, and the database read on the exporting side.
source "$(dirname "$0")/lib.bash"
it_init tools
need_fuse
for c in git make cc tar rsync sqlite3 diff; do need_cmd $c; done

mkdir -p "$T/exp" "$T/mnt" "$T/local"
"$DUCT" --exec "$DUCT $T/exp -" - "$T/mnt" 2>"$T/duct.log" &
track_pid $!
track_mount "$T/mnt"
wait_mounted "$T/mnt" || die "duct mount did not appear"
M=$T/mnt
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
export GIT_CONFIG_NOSYSTEM=1 HOME=$T

# ---- git
log "git"
R=$T/local/repo
git init -q "$R"
for i in $(seq 20); do
    mkdir -p "$R/d$((i % 4))"; echo "line $i" > "$R/d$((i % 4))/f$i.txt"
    git -C "$R" add -A && git -C "$R" commit -qm "commit $i"
done
ln -s d1/f1.txt "$R/link"; chmod +x "$R/d2/f2.txt"; git -C "$R" add -A && git -C "$R" commit -qm "link, mode"
check "git clone into the mount" timeout 60 git clone -q "$R" "$M/clone"
expect_eq "git status clean after clone" "" "$(timeout 30 git -C "$M/clone" status --porcelain 2>&1)"
check "git fsck" timeout 60 git -C "$M/clone" fsck --strict
expect_eq "git log complete" 21 "$(timeout 30 git -C "$M/clone" rev-list --count HEAD 2>&1)"
echo change >> "$M/clone/d1/f1.txt"
expect_eq "git status sees a change" " M d1/f1.txt" "$(timeout 30 git -C "$M/clone" status --porcelain 2>&1)"
check "git commit in the mount" timeout 30 git -C "$M/clone" commit -qam "from the mount"
expect_eq "git status clean after commit" "" "$(timeout 30 git -C "$M/clone" status --porcelain 2>&1)"
check "git gc in the mount" timeout 60 git -C "$M/clone" gc -q
expect_eq "git status clean after gc" "" "$(timeout 30 git -C "$M/clone" status --porcelain 2>&1)"
check "git fsck on the exporting side" git -C "$T/exp/clone" fsck --strict

# ---- make
log "make"
P=$M/proj
mkdir "$P"
cat > "$P/util.h" <<'C'
int twice(int);
#define GREETING "hello"
C
cat > "$P/util.c" <<'C'
#include "util.h"
int twice(int x) { return 2 * x; }
C
cat > "$P/main.c" <<'C'
#include <stdio.h>
#include "util.h"
int main(void) { printf("%s %d\n", GREETING, twice(21)); return 0; }
C
printf 'prog: main.o util.o\n\t$(CC) -o $@ $^\n%%.o: %%.c util.h\n\t$(CC) -c -o $@ $<\nclean:\n\trm -f prog *.o\n' > "$P/Makefile"
check "make builds" timeout 60 make -s -C "$P"
expect_eq "the program runs" "hello 42" "$(timeout 10 "$P/prog" 2>&1)"
check "make -q: up to date" timeout 30 make -q -C "$P"
sleep 0.05; echo '#define GREETING "bye"' >> "$P/util.h"; sed -i '2d' "$P/util.h"
if timeout 30 make -q -C "$P"; then bad "make -q: header change not noticed"; else ok "make -q: header change noticed"; fi
check "make rebuilds" timeout 60 make -s -C "$P"
expect_eq "rebuilt program runs" "bye 42" "$(timeout 10 "$P/prog" 2>&1)"
check "make clean" timeout 30 make -s -C "$P" clean

# ---- tar
log "tar"
S=$T/local/tree
mkdir -p "$S/a/b/c" "$S/empty"
for i in $(seq 50); do head -c $((i * 997)) /dev/urandom > "$S/a/f$i"; done
echo hi > "$S/a/b/c/deep"; ln "$S/a/b/c/deep" "$S/a/hard"; ln -s b/c/deep "$S/a/sym"
mkfifo "$S/fifo"; chmod 0751 "$S/a/b"; chmod 4755 "$S/a/f1"; chmod 1777 "$S/empty"
truncate -s 100M "$S/sparse"; echo end >> "$S/sparse"
touch -h -d '1999-12-31 23:59:59.123456789' "$S/a/sym" "$S/a/f2"; touch -d '2040-01-01' "$S/a/f3"
chown 1234:5678 "$S/a/f4"
tar -C "$S" --sort=name --numeric-owner -cf "$T/local/src.tar" .
mkdir "$M/untar"
check "tar x into the mount" timeout 120 tar -C "$M/untar" --numeric-owner -xpf "$T/local/src.tar"
check "tar c from the mount" timeout 120 tar -C "$M/untar" --sort=name --numeric-owner -cf "$T/local/back.tar" .
tar --full-time -tvf "$T/local/src.tar" > "$T/local/src.lst"
tar --full-time -tvf "$T/local/back.tar" > "$T/local/back.lst"
check "tar tvf listings identical" diff "$T/local/src.lst" "$T/local/back.lst"
check "tar archives identical byte for byte" cmp "$T/local/src.tar" "$T/local/back.tar"
check "tar --compare (diff) against the mount" timeout 120 tar -C "$M/untar" --numeric-owner -df "$T/local/src.tar"

# ---- rsync
log "rsync"
check "rsync -aH into the mount" timeout 120 rsync -aH "$S/" "$M/rs/"
check "rsync -aH back" timeout 120 rsync -aH "$M/rs/" "$T/local/rsback/"
# (diff -r reports every FIFO as a difference, even of itself: -x fifo; rsync -n covers it)
check "diff -r original vs round trip" diff -r --no-dereference -x fifo "$S" "$T/local/rsback"
expect_eq "rsync -n (checksums): nothing to do into the mount" "" \
    "$(timeout 120 rsync -aHnci "$S/" "$M/rs/" 2>&1)"
expect_eq "rsync -n (times and sizes): nothing to do back" "" \
    "$(timeout 120 rsync -aHni "$M/rs/" "$T/local/rsback/" 2>&1)"

# ---- editor-style atomic save
log "atomic save"
printf 'version 1\n' > "$M/doc.txt"; chmod 640 "$M/doc.txt"
exec 7<"$M/doc.txt"
ino1=$(stat -c %i "$M/doc.txt")
printf 'version 2, longer\n' > "$M/.doc.txt.tmp"
chmod --reference="$M/doc.txt" "$M/.doc.txt.tmp"
check "fsync the temp file" timeout 10 python3 -c "import os,sys; f=os.open(sys.argv[1], os.O_RDWR); os.fsync(f)" "$M/.doc.txt.tmp"
check "rename temp over the file" timeout 10 mv -f "$M/.doc.txt.tmp" "$M/doc.txt"
expect_eq "new content through the mount" "version 2, longer" "$(cat "$M/doc.txt")"
expect_eq "new content on the exporting side" "version 2, longer" "$(cat "$T/exp/doc.txt")"
expect_eq "an open reader still sees the old file" "version 1" "$(cat <&7)"
exec 7<&-
expect_eq "mode kept" 640 "$(stat -c %a "$M/doc.txt")"
[ "$(stat -c %i "$M/doc.txt")" != "$ino1" ] && ok "new inode after the save" || bad "inode unchanged after rename over"
expect_eq "no temp file left" "doc.txt" "$(ls -A "$M" | grep doc)"

# ---- SQLite
log "sqlite"
DB=$M/db.sqlite
{
    echo "PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, v TEXT);"
    for tx in $(seq 10); do
        echo "BEGIN;"
        for i in $(seq 100); do echo "INSERT INTO t(who, v) VALUES('init', 'row $tx.$i');"; done
        echo "COMMIT;"
    done
} > "$T/local/init.sql"
check "sqlite: create + 1000 rows in 10 transactions" timeout 60 sqlite3 "$DB" < "$T/local/init.sql"
writer() {
    local who=$1 i
    { echo ".timeout 20000"
      for i in $(seq 50); do
          echo "BEGIN IMMEDIATE; INSERT INTO t(who, v) VALUES('$who', '$i'); INSERT INTO t(who, v) VALUES('$who', '$i b'); COMMIT;"
      done; } | timeout 120 sqlite3 "$DB" > "$T/local/$who.out" 2>&1
}
writer w1 & p1=$!
writer w2 & p2=$!
rc1=0; rc2=0; wait $p1 || rc1=$?; wait $p2 || rc2=$?
expect_eq "sqlite: writer 1 exit status" 0 "$rc1"
expect_eq "sqlite: writer 2 exit status" 0 "$rc2"
expect_eq "sqlite: row count after concurrent writers" "1000 100 100" \
    "$(timeout 30 sqlite3 "$DB" "SELECT (SELECT count(*) FROM t WHERE who='init'), (SELECT count(*) FROM t WHERE who='w1'), (SELECT count(*) FROM t WHERE who='w2');" | tr '|' ' ')"
expect_eq "sqlite: integrity_check" ok "$(timeout 30 sqlite3 "$DB" 'PRAGMA integrity_check;' 2>&1)"
expect_eq "sqlite: WAL mode on the mount" wal "$(timeout 30 sqlite3 "$DB" 'PRAGMA journal_mode=WAL;' 2>&1)"
check "sqlite: writes in WAL mode" timeout 30 sqlite3 "$DB" "INSERT INTO t(who, v) VALUES('wal', 'x');"
expect_eq "sqlite: back to DELETE mode" delete "$(timeout 30 sqlite3 "$DB" 'PRAGMA journal_mode=DELETE;' 2>&1)"
expect_eq "sqlite: integrity_check on the exporting side" ok "$(sqlite3 "$T/exp/db.sqlite" 'PRAGMA integrity_check;' 2>&1)"
expect_eq "sqlite: count on the exporting side" 1201 "$(sqlite3 "$T/exp/db.sqlite" 'SELECT count(*) FROM t;' 2>&1)"

# ---- everything is on the exporting side after unmount
check "unmount" unmount "$M"
check "the exporting side holds the rsync'd tree after unmount" diff -r --no-dereference -x fifo "$S" "$T/exp/rs"
it_finish
