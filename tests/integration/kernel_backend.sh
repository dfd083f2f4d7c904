#!/bin/bash
# kernel_backend.sh — `--mount-with kernel` (issue 5): duct inside the VM of
# tests/vm/run.sh (DUCT_VM_RAW=1: the guest gets the raw channel)
# mounts the host's export with the guest kernel's own v9fs client
# (trans=fd over a socketpair duct relays), while a duct on the host mounts
# the guest's export with FUSE. Both directions are exercised, then torn
# down in both orders, one VM run each:
#   guest-first: the guest umounts, then the host unmounts;
#   host-first:  the host unmounts, the guest's mount still works, then the
#                guest's duct gets SIGTERM while a file on its mount is open:
#                it cuts the mount off and exits 1, saying so.
# The host duct must exit 0 (the host side's status goes to a file this script
# checks). The guest half is kernel_backend_guest.sh.in; the two halves
# synchronise through files in the exports, polling with timeouts.
# This script runs the host half in the foreground while tests/vm/run.sh (and
# the host duct it starts as its HOST-COMMAND) runs in the background.
source "$(dirname "$0")/lib.bash"
it_init kernel_backend
need_fuse
need_vm
need_cmd ldd "libc-bin"

# The guest gets duct with every shared library it needs at its own path
# (the loader included), so no static build is needed.
G=$T/guestfiles
mkdir -p "$G/bin"
cp "$DUCT" "$G/bin/duct"
for lib in $(ldd "$DUCT" | grep -o '/[^ ]*'); do
    mkdir -p "$G$(dirname "$lib")"
    cp -L "$lib" "$G$lib"
done
log "guest files: $(cd "$G" && find . -type f | tr '\n' ' ')"

# run_order ORDER: one VM run; sets VM_RC and HOST_RC.
run_order() {
    local order=$1 i
    local HE=$T/hexp-$order HM=$T/hmnt-$order
    mkdir -p "$HE" "$HM"; track_mount "$HM"
    echo "from the host" > "$HE/h.txt"
    head -c 524288 /dev/urandom > "$HE/h.bin"
    sha=$(md5sum < "$HE/h.bin" | cut -d' ' -f1); echo "$sha" > "$HE/h.md5"
    sed "s/@ORDER@/$order/" "$DUCT_SRC/tests/integration/kernel_backend_guest.sh.in" > "$T/guest-$order.sh"
    # the host duct: FUSE mount of the guest's export; its status to a file
    local hostcmd="$DUCT -v $HE $HM 2>>$T/host-$order.log; echo \$? > $T/host-$order.rc"
    DUCT_VM_RAW=1 DUCT_VM_SCRIPT="$T/guest-$order.sh" DUCT_VM_FILES="$G" DUCT_VM_TIMEOUT=${DUCT_VM_TIMEOUT:-80} \
        timeout 100 "$VM_RUN" "$hostcmd" > "$T/vm-$order.log" 2>&1 &
    local VP=$!; track_pid $VP

    # host half: wait for the guest's mount and ours
    if ! wait_mounted "$HM" 60; then
        bad "$order: host never mounted the guest's export"
    else
        ok "$order: host FUSE mount of the guest's export is up"
        for ((i = 0; i < 300; i++)); do [ -f "$HE/guest-ready" ] && break; sleep 0.2; done
        check "$order: guest wrote through its kernel mount" test -f "$HE/guest-ready"
        expect_eq "$order: guest's 512 KiB arrived intact" "$(cat "$HE/from-guest.md5" 2>&1)" \
            "$(md5sum < "$HE/from-guest.bin" | cut -d' ' -f1)"
        check "$order: guest's rename landed" test -f "$HE/gdir/g"
        expect_eq "$order: host reads the guest's file" "from the guest" "$(timeout 10 cat "$HM/g.txt" 2>&1)"
        expect_eq "$order: host reads 512 KiB from the guest intact" "$(timeout 10 cat "$HM/g.md5" 2>&1)" \
            "$(timeout 20 md5sum < "$HM/g.bin" | cut -d' ' -f1)"
        timeout 10 sh -c "echo 'written by the host' > '$HM/from-host.txt'" || bad "$order: host write"
        timeout 10 sh -c "echo done > '$HM/host-done'" || bad "$order: host-done"
        if [ "$order" = guest-first ]; then
            for ((i = 0; i < 150; i++)); do [ -f "$HM/guest-unmounted" ] && break; sleep 0.2; done
            check "$order: guest said it unmounted" test -f "$HM/guest-unmounted"
            # the guest's unmount reached us as the close frame: our export is torn down
            for ((i = 0; i < 50; i++)); do grep -q 'export .* torn down' "$T/host-$order.log" && break; sleep 0.2; done
            check "$order: host tore down its export after the guest's unmount" grep -q 'torn down' "$T/host-$order.log"
            expect_eq "$order: host's mount still works after the guest unmounted" "from the guest" \
                "$(timeout 10 cat "$HM/g.txt" 2>&1)"
            unmount "$HM" || bad "$order: host unmount"
        else
            unmount "$HM" || bad "$order: host unmount"
            echo gone > "$HE/host-unmounted"
        fi
    fi
    wait_exit $VP 90
    VM_RC=$WAIT_RC
    HOST_RC=$(wait_file_rc "$T/host-$order.rc" 5)
    grep -E '^(PASS|FAIL|GUEST|HOST|duct):' "$T/vm-$order.log" | sed "s/^/  [$order] /"
    vm_rc "$VM_RC" "$T/vm-$order.log"
    case $VM_RC in
    0) ok "$order: guest checks all passed ($(grep -c '^PASS:' "$T/vm-$order.log"))" ;;
    124|timeout) bad "$order: the VM timed out" ;;
    9[0-9]) bad "$order: guest setup failed (rc $VM_RC)" ;;
    *) bad "$order: guest reported $VM_RC failure(s): $(grep '^FAIL:' "$T/vm-$order.log" | head -5 | tr '\n' ';')" ;;
    esac
    expect_eq "$order: host duct exits 0" 0 "$HOST_RC"
    if is_mounted "$HM"; then bad "$order: host mount left behind"; else ok "$order: no host mount left"; fi
}

run_order guest-first
run_order host-first
it_finish
