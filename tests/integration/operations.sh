#!/bin/bash
# operations.sh — issue 5 "Operations": --version, the man page the build
# installs (cmake --install into a scratch prefix), --help's common uses,
# --timeout validation, the library's example program as a real peer, and
# -v's lifecycle lines and summary (messages and bytes each way) on exit.
source "$(dirname "$0")/lib.bash"
it_init operations

# --version
rc=0; out=$(timeout 5 "$DUCT" --version 2>&1) || rc=$?
expect_eq "--version exits 0" 0 "$rc"
want=$(sed -n 's/^project(duct VERSION \([0-9.]*\).*/\1/p' "$DUCT_SRC/CMakeLists.txt")
expect_eq "--version prints the project version" "duct $want" "$out"
expect_eq "-V is --version" "$out" "$(timeout 5 "$DUCT" -V 2>&1)"

# --help shows the common uses
timeout 5 "$DUCT" --help > "$T/help" 2>&1 || bad "--help failed"
for s in "--exec 'ssh" "--listen" "--dial" "--fd" "--mount-with" "--timeout" "socat" "SIGUSR1"; do
    check "--help mentions $s" grep -q -- "$s" "$T/help"
done
rc=0; timeout 5 "$DUCT" --timeout soon "$T" - 2> "$T/e" || rc=$?
expect_eq "--timeout soon: exit 2" 2 "$rc"
expect_eq "--timeout soon: one line" 1 "$(wc -l < "$T/e")"

# the man page, installed by the build
if command -v cmake >/dev/null && [ -f "$DUCT_BUILD/cmake_install.cmake" ]; then
    cmake --install "$DUCT_BUILD" --prefix "$T/inst" > "$T/install.log" 2>&1 || bad "cmake --install: $(tail -3 "$T/install.log")"
    check "man page installed as share/man/man1/duct.1" test -s "$T/inst/share/man/man1/duct.1"
    check "duct installed in bin" test -x "$T/inst/bin/duct"
    check "public header installed" test -s "$T/inst/include/duct/uplink.h"
    # roff source spells a dash \- : look for the literal text
    for s in '\-\-timeout' '\-\-listen' '\-\-dial' '\-\-fd' '\-\-mount\-with' 'SIGUSR1'; do
        check "man page documents $s" grep -qF -- "$s" "$T/inst/share/man/man1/duct.1"
    done
    if command -v man >/dev/null; then
        check "man renders it" sh -c "MANWIDTH=80 man -l '$T/inst/share/man/man1/duct.1' 2>/dev/null | grep -q 'SILENT PEER'"
    fi
else
    bad "no cmake_install.cmake in $DUCT_BUILD"
fi

# the library's example program as the exporting peer of a mounting duct,
# with -v on the mounting side
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
    EX=$DUCT_BUILD/duct-example
    if [ -x "$EX" ]; then
        mkdir -p "$T/exp" "$T/mnt"; track_mount "$T/mnt"
        echo "served by the example" > "$T/exp/f"
        timeout 30 "$DUCT" -v --exec "$EX $T/exp -" - "$T/mnt" 2> "$T/v.log" &
        P=$!; track_pid $P
        if wait_mounted "$T/mnt" 10; then
            expect_eq "duct-example (the library) serves a mount" "served by the example" "$(timeout 5 cat "$T/mnt/f" 2>&1)"
            head -c 100000 /dev/urandom > "$T/blob"
            timeout 10 cp "$T/blob" "$T/mnt/blob" || bad "write through the example's export"
            expect_eq "... and takes writes" "$(sha256sum < "$T/blob")" "$(sha256sum < "$T/exp/blob")"
            unmount "$T/mnt" || bad "unmount"
            wait_exit $P 10
            expect_eq "duct exits 0 after its unmount" 0 "$WAIT_RC"
        else
            bad "no mount of the example's export"
        fi
        check "-v: a line on mount" grep -q "mounted the peer's export on $T/mnt" "$T/v.log"
        check "-v: a line on unmount" grep -q "unmounted $T/mnt; told the peer" "$T/v.log"
        check "-v: a summary with messages and bytes each way" \
            grep -Eq 'summary: channel in [1-9][0-9]* msgs/[1-9][0-9]* bytes, out [1-9][0-9]* msgs/[1-9][0-9]* bytes' "$T/v.log"
        check "-v: the summary counts the mount's bytes written" grep -Eq 'mount .* written [1-9][0-9]{4,}' "$T/v.log"
    else
        bad "no duct-example in $DUCT_BUILD (the build makes it)"
    fi
else
    log "no FUSE: the example-program part is not run"
fi
it_finish
