# lib.bash — shared helpers for tests/integration/*.sh (sourced, not run; not
# named *.sh so the CMake glob does not make it a test of its own).
#
# A test sources this, calls it_init NAME, registers what it starts (track_pid,
# track_mount) and checks with ok/bad/check; the EXIT trap unmounts every
# tracked mount, kills every tracked process and removes the scratch dir.
# Exit status: 0 all checks passed, 1 some failed, 77 skipped (skip says why).
# Environment: DUCT_BUILD (build dir, has ./duct), DUCT_SRC (source dir),
# both set by ctest; defaults for a manual run from the repo root.

set -euo pipefail

DUCT_SRC=${DUCT_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DUCT_BUILD=${DUCT_BUILD:-$DUCT_SRC/build}
DUCT=$DUCT_BUILD/duct
FAILS=0
PASSES=0
IT_NAME=
T=
_PIDS=()
_MOUNTS=()

log()  { echo "[$IT_NAME $(date +%T)] $*" >&2; }
ok()   { PASSES=$((PASSES + 1)); echo "PASS: $*"; }
bad()  { FAILS=$((FAILS + 1)); echo "FAIL: $*"; }
skip() { echo "SKIP: $IT_NAME: $*" >&2; echo "SKIP: $*"; exit 77; }
die()  { bad "$*"; exit 1; }

# check DESCRIPTION COMMAND...: one assertion; the command's output is shown on failure.
check() {
    local what=$1 out rc=0; shift
    out=$("$@" 2>&1) || rc=$?
    if [ $rc -eq 0 ]; then ok "$what"; else bad "$what (rc=$rc) ${out:0:400}"; fi
}
# expect_eq DESCRIPTION WANT GOT
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: want '$2', got '$3'"; fi
}

it_init() {
    IT_NAME=$1
    [ -x "$DUCT" ] || die "no duct executable at $DUCT (build first: scripts/build.sh)"
    T=$(mktemp -d "${TMPDIR:-/tmp}/duct-it-$IT_NAME.XXXXXX")
    trap _it_cleanup EXIT
    trap 'exit 130' INT TERM
    log "scratch dir $T"
}

need_fuse() {
    [ -c /dev/fuse ] || skip "no /dev/fuse"
    command -v fusermount3 >/dev/null || skip "no fusermount3 (apt-get install fuse3)"
    [ "$(id -u)" = 0 ] || [ -r /dev/fuse ] || skip "cannot open /dev/fuse"
}
need_cmd() { command -v "$1" >/dev/null || skip "no $1 (${2:-install it with scripts/setup.sh})"; }

track_pid()   { _PIDS+=("$1"); }
track_mount() { _MOUNTS+=("$1"); }

# is_mounted DIR: looks in /proc/mounts only (never stats DIR, which could hang).
is_mounted() { awk -v m="$1" '$2 == m {f=1} END {exit !f}' /proc/mounts; }
any_mount_under() { awk -v m="$1/" 'index($2, m) == 1 {f=1} END {exit !f}' /proc/mounts; }

# wait_mounted DIR [SECONDS]
wait_mounted() {
    local i n=$(( ${2:-10} * 10 ))
    for ((i = 0; i < n; i++)); do is_mounted "$1" && return 0; sleep 0.1; done
    return 1
}
wait_unmounted() {
    local i n=$(( ${2:-10} * 10 ))
    for ((i = 0; i < n; i++)); do is_mounted "$1" || return 0; sleep 0.1; done
    return 1
}
unmount() { timeout 10 fusermount3 -u "$1" 2>/dev/null || timeout 10 umount "$1" 2>/dev/null; }

# wait_exit PID SECONDS: waits for a child of this shell and sets WAIT_RC to
# its exit status, or to "timeout" if it still runs after SECONDS. (Not for
# $(...): a subshell cannot wait for its parent's children.)
WAIT_RC=
wait_exit() {
    local pid=$1 i n=$(( $2 * 10 ))
    WAIT_RC=0
    for ((i = 0; i < n; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then WAIT_RC=timeout; return 0; fi
    wait "$pid" 2>/dev/null || WAIT_RC=$?
}
# wait_file_rc FILE SECONDS: for processes that are not our children: waits
# for FILE (an exit status written by side.sh) and prints it, or "timeout".
wait_file_rc() {
    local i n=$(( $2 * 10 ))
    for ((i = 0; i < n; i++)); do
        [ -s "$1" ] && { cat "$1"; return 0; }
        sleep 0.1
    done
    echo timeout
}

# make_side_wrapper: $T/side.sh NAME ARGS... runs duct ARGS on its own
# stdin/stdout, records its pid in $T/NAME.pid, its stderr in $T/NAME.log
# and its exit status in $T/NAME.rc. Used as the --exec command (or a socat
# EXEC) so a test can watch and kill the inner duct too.
make_side_wrapper() {
    cat > "$T/side.sh" <<EOS
#!/bin/bash
name=\$1; shift
exec 3<&0
# setsid: the inner duct stands for a peer on another machine, outside the
# process group that duct --exec stops at its end (only this wrapper is in it).
setsid "$DUCT" "\$@" <&3 3<&- 2>>"$T/\$name.log" &
echo \$! > "$T/\$name.pid.tmp"; mv "$T/\$name.pid.tmp" "$T/\$name.pid"
# socat (and duct --exec's reaper) SIGTERM this wrapper when the channel
# ends, possibly before duct has exited: outlive that to record its status
# (duct itself was started with the default disposition; tests signal it
# through NAME.pid).
trap '' TERM HUP
rc=0; wait \$! || rc=\$?
echo \$rc > "$T/\$name.rc"
EOS
    chmod +x "$T/side.sh"
}
side_pid() {
    local i
    for ((i = 0; i < 100; i++)); do [ -s "$T/$1.pid" ] && { cat "$T/$1.pid"; return 0; }; sleep 0.1; done
    echo 0
}

_it_cleanup() {
    local rc=$? m p
    set +e
    for m in "${_MOUNTS[@]}"; do
        if is_mounted "$m"; then
            timeout 5 fusermount3 -u "$m" 2>/dev/null || timeout 5 fusermount3 -uz "$m" 2>/dev/null ||
                umount -l "$m" 2>/dev/null
        fi
    done
    for p in "${_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for f in "$T"/*.pid; do [ -s "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
    sleep 0.2
    for p in "${_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for f in "$T"/*.pid; do [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
    for m in "${_MOUNTS[@]}"; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if any_mount_under "$T"; then
            echo "[$IT_NAME] WARNING: mounts left under $T, not removing it" >&2
            rc=1
        else
            if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
                for f in "$T"/*.log; do [ -s "$f" ] && { echo "---- $f (last 30 lines)"; tail -30 "$f"; }; done >&2
            fi
            rm -rf "$T"
        fi
    fi
    exit $rc
}

# it_finish: summary line and exit status.
it_finish() {
    if [ "$FAILS" -gt 0 ]; then
        echo "RESULT: $IT_NAME: $FAILS failed, $PASSES passed"
        exit 1
    fi
    [ "$PASSES" -gt 0 ] || die "no checks ran"
    echo "RESULT: $IT_NAME: all $PASSES passed"
    exit 0
}

# The test VM, tests/vm/run.sh (the kernel's 9P client in qemu; see
# tests/vm/README.md). need_vm skips without its tools and keeps the Debian
# kernel package it downloads in the build dir ($DUCT_BUILD/vm-cache) unless
# DUCT_VM_CACHE names another place. vm_rc RC LOG: skips when run.sh said it
# could get no kernel (exit 3), else sets nothing and returns.
VM_RUN=$DUCT_SRC/tests/vm/run.sh
need_vm() {
    need_cmd qemu-system-x86_64 "apt-get install qemu-system-x86"
    need_cmd busybox "apt-get install busybox-static"
    need_cmd modinfo "apt-get install kmod"
    command -v xz >/dev/null || command -v zstd >/dev/null || skip "no xz/zstd to unpack kernel modules"
    export DUCT_VM_CACHE=${DUCT_VM_CACHE:-$DUCT_BUILD/vm-cache}
}
vm_rc() {
    [ "$1" = 3 ] && skip "no Debian kernel for the VM: $(grep 'duct-vm:' "$2" | tail -1)"
    return 0
}
