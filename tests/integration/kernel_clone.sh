#!/bin/bash
# kernel_clone.sh — the repository stands alone: a `git clone --no-local` of
# DUCT_SRC (what is COMMITTED: uncommitted changes are not in the clone) into
# an empty directory, its remote removed, runs one VM test (kernel9p.sh) from
# the clone with a fresh HOME and TMPDIR and nothing beside the clone. It
# must run and pass, not skip. The already-built duct (DUCT_BUILD) serves,
# and the kernel package cache of the build dir is reused (a download cache,
# not a harness).
source "$(dirname "$0")/lib.bash"
it_init kernel_clone
need_vm
need_cmd git "apt-get install git"
git -C "$DUCT_SRC" rev-parse --git-dir > /dev/null 2>&1 || skip "$DUCT_SRC is not a git repository"
W=$T/empty; mkdir -p "$W" "$T/home" "$T/tmp"
git clone -q --no-local "$DUCT_SRC" "$W/duct" 2> "$T/clone.log" || die "git clone: $(cat "$T/clone.log")"
git -C "$W/duct" remote remove origin
expect_eq "the clone has no remote" "" "$(git -C "$W/duct" remote)"
expect_eq "nothing beside the clone" duct "$(ls -A "$W")"
# (the pattern is split so that this file does not match it)
expect_eq "no file of the clone refers to a 'shared' folder beside it" "" "$(git -C "$W/duct" grep -l -F "..""/shared" || true)"
rc=0
env -i PATH="$PATH" HOME="$T/home" TMPDIR="$T/tmp" DUCT_BUILD="$DUCT_BUILD" DUCT_SRC="$W/duct" \
    DUCT_VM_CACHE="$DUCT_VM_CACHE" bash "$W/duct/tests/integration/kernel9p.sh" > "$T/run.log" 2>&1 || rc=$?
grep -E '^(RESULT|FAIL|SKIP|HOST:)|skip' "$T/run.log" | sed 's/^/  /'
expect_eq "kernel9p.sh from the clone exits 0 (77 would be a skip)" 0 "$rc"
check "it ran its checks" grep -q '^RESULT: kernel9p-9p2000.L: all .* passed' "$T/run.log"
check "it booted the VM" grep -q 'HOST: guest status 0' "$T/run.log"
it_finish
