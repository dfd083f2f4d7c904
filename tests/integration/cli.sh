#!/bin/bash
# cli.sh — the duct command line: --help, usage errors (exit 2, one line on
# stderr), -D tracing in Plan 9 notation (on a hand-made Tversion, and
# between two real ducts when FUSE is available).
source "$(dirname "$0")/lib.bash"
it_init cli

# --help
rc=0; timeout 5 "$DUCT" --help > "$T/help.out" 2> "$T/help.err" || rc=$?
expect_eq "--help exits 0" 0 "$rc"
check "--help mentions --exec" grep -q -- '--exec' "$T/help.out"
check "--help shows the usage line" grep -q 'EXPORT MOUNTPOINT' "$T/help.out"
rc=0; timeout 5 "$DUCT" -h > /dev/null 2>&1 || rc=$?
expect_eq "-h exits 0" 0 "$rc"

# bad arguments: status 2, exactly one line on stderr, nothing on stdout
usage_case() {
    local what=$1 rc=0; shift
    timeout 5 "$DUCT" "$@" > "$T/u.out" 2> "$T/u.err" < /dev/null || rc=$?
    expect_eq "$what: exit 2" 2 "$rc"
    expect_eq "$what: one line on stderr" 1 "$(wc -l < "$T/u.err")"
    expect_eq "$what: nothing on stdout" 0 "$(wc -c < "$T/u.out")"
    log "$what: $(head -1 "$T/u.err")"
}
usage_case "no arguments"
usage_case "one argument" "$T"
usage_case "three arguments" "$T" "$T" "$T"
usage_case "unknown option" --no-such-option "$T" -
usage_case "unknown short option" -Q "$T" -
usage_case "--exec with an empty command" --exec "" "$T" -
usage_case "nothing to do" - -

# -D on a hand-made Tversion: what the Linux kernel sends first
# (Tversion tag 65535 msize 8192 version 9P2000.L); export only, no FUSE needed.
mkdir -p "$T/exp"
printf '\x15\x00\x00\x00\x64\xff\xff\x00\x20\x00\x00\x08\x009P2000.L' > "$T/tversion"
rc=0
timeout 10 "$DUCT" -D "$T/exp" - < "$T/tversion" > "$T/reply" 2> "$T/trace.err" || rc=$?
expect_eq "export-only duct ends 0 when a never-attached channel ends" 0 "$rc"
check "-D traces the Tversion in Plan 9 notation" grep -q 'Tversion tag 65535 msize 8192 version 9P2000.L' "$T/trace.err"
check "-D traces the Rversion" grep -q 'Rversion tag 65535 msize' "$T/trace.err"
expect_eq "the reply is an Rversion (type 101, tag NOTAG)" "65 ff ff" \
    "$(od -An -tx1 -j4 -N3 "$T/reply" | xargs)"
check "the reply offers 9P2000.L" grep -q '9P2000.L' "$T/reply"
expect_eq "the reply's size field is its length" "$(stat -c %s "$T/reply")" \
    "$(od -An -tu4 -N4 "$T/reply" | xargs)"
expect_eq "no control frame is sent to a plain 9P client" 0 \
    "$(od -An -tx1 -v "$T/reply" | tr -s ' \n' ' ' | grep -c '05 00 00 00 00 *$' || true)"

# -D between two real ducts
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
    make_side_wrapper
    mkdir -p "$T/a" "$T/b" "$T/ma" "$T/mb"
    echo b > "$T/b/f"
    track_mount "$T/ma"; track_mount "$T/mb"
    timeout 60 "$DUCT" -D --exec "$T/side.sh b -D $T/b $T/ma" "$T/a" "$T/mb" 2> "$T/a.log" &
    APID=$!; track_pid $APID
    if wait_mounted "$T/mb" 15 && wait_mounted "$T/ma" 15; then
        ok "two ducts with -D mounted"
        expect_eq "read through a traced mount" b "$(timeout 10 cat "$T/mb/f" 2>&1)"
        # the duct extension's messages are traced like the others
        check "fallocate through a traced mount" timeout 10 fallocate -l 8192 "$T/mb/f"
        check "flock through a traced mount" timeout 10 flock -n "$T/mb/f" true
        unmount "$T/mb" || bad "unmount mb"
        unmount "$T/ma" || bad "unmount ma"
        wait_exit $APID 10
        expect_eq "traced duct A exits 0" 0 "$WAIT_RC"
        expect_eq "traced duct B exits 0" 0 "$(wait_file_rc "$T/b.rc" 10)"
        check "A's trace has the Tversion it sent" grep -q 'Tversion tag 65535 msize' "$T/a.log"
        check "B's trace has the Tversion it received" grep -q 'Tversion tag 65535 msize' "$T/b.log"
        check "A's trace has a Twalk (or the extension's Twalkattr) in Plan 9 notation" grep -Eq 'Twalk(attr)? tag [0-9]+ fid [0-9]+ newfid [0-9]+ nwname 1 0:f' "$T/a.log"
        check "B's trace has an Rattach with a qid" grep -Eq 'Rattach tag [0-9]+ qid \([0-9a-f]{16} [0-9]+ d\)' "$T/b.log"
        check "A offered and B answered the duct extension" grep -q 'Rversion tag 65535 msize [0-9]* version 9P2000.L.duct.1' "$T/a.log"
        check "A's trace has the Tfallocate it sent" grep -Eq 'Tfallocate tag [0-9]+ fid [0-9]+ mode 0+ offset 0 length 8192' "$T/a.log"
        check "B's trace has the Rfallocate it sent" grep -Eq 'Rfallocate tag [0-9]+$' "$T/b.log"
        check "A's trace has the flock as a Tlock" grep -Eq 'Tlock tag [0-9]+ fid [0-9]+ type 1 flags 0400 start 0 length 0 proc_id 0 client_id duct' "$T/a.log"
    else
        bad "two ducts with -D did not mount"
    fi
else
    log "no FUSE: the two-duct -D part is not run"
fi

it_finish
