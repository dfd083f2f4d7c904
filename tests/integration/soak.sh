#!/bin/bash
# soak.sh — the short version of bench/soak.sh (issue 11 "Soak"): two ducts
# mounting each other through duct-relay, 3 random-operation workers per
# mount for 40 s (small files, a 64 MiB sparse file written at random
# offsets), every read checked against the content hash its worker expects.
# Fails on a data mismatch, an unexpected error, an fd leak or RSS growth
# beyond 64 MiB between the first sample under load and the end (the
# criteria and why: bench/soak.sh's header). The long run: bench/soak.sh.
source "$(dirname "$0")/lib.bash"
it_init soak
need_fuse
need_cmd python3
[ -x "$DUCT_BUILD/duct-relay" ] || die "no $DUCT_BUILD/duct-relay (build first)"
rc=0
SOAK_SECONDS=40 SOAK_SAMPLE=10 SOAK_HUGE_MIB=64 TMPDIR=$T \
    timeout 100 bash "$DUCT_SRC/bench/soak.sh" "$DUCT_BUILD" > "$T/soak.out" 2>&1 || rc=$?
cat "$T/soak.out"
expect_eq "bench/soak.sh (40 s) exits 0" 0 $rc
check "no data mismatch" bash -c "! grep -q MISMATCH '$T/soak.out'"
check "operations were done" grep -qE "SUMMARY: 40s, 6 workers, [1-9][0-9]* operations, 0 errors" "$T/soak.out"
check "both ducts exited 0 after the unmounts" grep -q "relay (both ducts) exit 0" "$T/soak.out"
it_finish
