# faults_lib.bash — the harness of it.faults and it.faults_more (sourced
# after lib.bash and it_init; a .bash file, so the tests/integration/*.sh
# glob does not make it a test of its own). See faults.sh for what each
# case asserts. faults_setup makes the trees; run NAME FAULT... is one case.
RELAY=$DUCT_BUILD/duct-relay
[ -x "$RELAY" ] || die "no $RELAY (build first)"

faults_setup() {
    for s in a b; do
        mkdir -p "$T/e$s/w" "$T/e$s/tree" "$T/m$s"
        head -c $((16 << 20)) /dev/urandom > "$T/e$s/big"
        for d in $(seq 1 20); do mkdir "$T/e$s/tree/$d"; for f in $(seq 1 50); do : > "$T/e$s/tree/$d/$f"; done; done
    done
    head -c $((2 << 20)) /dev/urandom > "$T/chunk"
}

# traffic MNT TAG: the three loads on one mount, in the background; each
# records its exit status; the writer logs a file once fsync+close succeeded.
traffic() {
    local m=$1 tag=$2
    ( for i in $(seq 1 12); do
          dd if="$T/chunk" of="$m/w/f$i" bs=256k conv=fsync status=none 2>/dev/null || exit 1
          echo "f$i" >> "$T/$tag.synced"
      done ) & echo $! > "$T/$tag.wpid"
    ( for i in 1 2; do cat "$m/big" > /dev/null 2>&1 || exit 1; done ) & echo $! > "$T/$tag.rpid"
    ( for i in 1 2 3; do ls -lR "$m/tree" > /dev/null 2>&1 || exit 1; done ) & echo $! > "$T/$tag.lpid"
}

# run NAME FAULT... : one case; sets nothing, asserts.
run() {
    local name=$1; shift
    local args=() f s p
    for f in "$@"; do args+=(-x "$f"); done
    rm -rf "$T"/e?/w/* "$T"/*.synced "$T"/*.rc
    : > "$T/a.synced"; : > "$T/b.synced"
    timeout 60 "$RELAY" "${args[@]}" \
        "'$DUCT' --timeout 3 '$T/ea' '$T/ma' 2>'$T/$name.a.log'; echo \$? > '$T/a.rc'" \
        "'$DUCT' --timeout 3 '$T/eb' '$T/mb' 2>'$T/$name.b.log'; echo \$? > '$T/b.rc'" \
        2>"$T/$name.relay.log" & local rp=$!
    track_pid $rp
    if ! wait_mounted "$T/ma" 10 || ! wait_mounted "$T/mb" 10; then bad "$name: mounts did not come up"; fi
    track_mount "$T/ma"; track_mount "$T/mb"
    traffic "$T/ma" a; traffic "$T/mb" b
    # every traffic process ends (a result or an error, never a hang)
    for p in "$T"/?.[wrl]pid; do
        local pid; pid=$(cat "$p")
        wait_exit "$pid" 45
        [ "$WAIT_RC" != timeout ] || { bad "$name: $(basename "$p") still runs (hung on the mount)"; kill -9 "$pid" 2>/dev/null; }
    done
    # A fault that ends the channel has ended both ducts by now (cut: at
    # once; stall: within --timeout). One that the peers answer with an
    # error and survive (a flipped type or tag, below) leaves them serving:
    # then unmounting both ends them.
    local by_itself=yes
    kill -0 $rp 2>/dev/null && sleep 8
    if kill -0 $rp 2>/dev/null; then
        by_itself=no
        unmount "$T/ma"; unmount "$T/mb"
    fi
    ENDED=$by_itself
    wait_exit $rp 20
    expect_eq "$name: the relay and both ducts ended" 0 "$([ "$WAIT_RC" = timeout ] && echo hang || echo 0)"
    for s in a b; do
        local rc; rc=$(cat "$T/$s.rc" 2>/dev/null || echo none)
        if [ $by_itself = yes ]; then expect_eq "$name: duct $s exited 1 (not a signal)" 1 "$rc"
        else case $rc in 0|1) ok "$name: duct $s exited $rc after the unmount (not a signal)";; *) bad "$name: duct $s: exit $rc";; esac; fi
    done
    is_mounted "$T/ma" && bad "$name: $T/ma still mounted" || ok "$name: mount a gone"
    is_mounted "$T/mb" && bad "$name: $T/mb still mounted" || ok "$name: mount b gone"
    # fsync'd = on the exporting disk: a's writer wrote through ma into eb
    local n=0 lost=0
    while read -r f; do n=$((n + 1)); cmp -s "$T/chunk" "$T/eb/w/$f" || { lost=$((lost + 1)); log "$name: eb/w/$f differs"; }; done < "$T/a.synced"
    while read -r f; do n=$((n + 1)); cmp -s "$T/chunk" "$T/ea/w/$f" || { lost=$((lost + 1)); log "$name: ea/w/$f differs"; }; done < "$T/b.synced"
    if payload_case "$name"; then
        # the one file whose Twrite carried the flipped byte may differ: 9P
        # cannot tell (no checksum); every other one is intact
        [ "$lost" -le 1 ] && ok "$name: $((n - lost)) of $n fsync'd files identical ($lost carried the undetectable flip)" ||
            bad "$name: $lost fsync'd files differ, more than the one flipped"
    else
        expect_eq "$name: all $n fsync'd files are on the exporting disks, byte-identical" 0 "$lost"
    fi
    check "$name: the relay applied the fault" grep -q "duct-relay: .* at offset" "$T/$name.relay.log"
    is_mounted "$T/ma" && umount -l "$T/ma"; is_mounted "$T/mb" && umount -l "$T/mb"
    log "$name: channel ended by itself: $ENDED; $n files fsync'd before the fault; a: $(tail -1 "$T/$name.a.log" 2>/dev/null); b: $(tail -1 "$T/$name.b.log" 2>/dev/null)"
}

# a payload case: one fsync'd file may carry the undetectable flip
payload_case() { [ "${1#payload}" != "$1" ]; }
ENDED=
ends_by_itself() { expect_eq "$1: the channel ended by itself" yes "$ENDED"; }
