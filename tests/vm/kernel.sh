#!/bin/bash
# kernel.sh — the guest's kernel for the test VM: Debian's own amd64 kernel
# package (the "cloud" flavour has no 9p), fetched once with `apt-get
# download` and kept, whole, in a cache directory; the kernel image and any
# module asked for are unpacked from it on demand.
#
# Usage: kernel.sh ORDERFILE MODULE...   (sourced: vm_kernel ORDERFILE MODULE...)
#   Ensures $VM_KDIR/vmlinuz and $VM_KDIR/modules/NAME.ko for every MODULE
#   and every module it depends on (modinfo's "depends"), and writes the load
#   order to ORDERFILE (one NAME a line, dependencies first). Sets VM_KDIR.
#   Modules built into the kernel (modules.builtin) are left out.
# Environment: DUCT_VM_CACHE (default ${TMPDIR:-/tmp}/duct-vm-cache) holds
#   one directory per kernel package: PKG.deb, vmlinuz, modules/, builtin.
#   DUCT_VM_KERNEL names the package (default: what linux-image-amd64
#   depends on in this machine's apt lists).
# Exit status: 0; 3 = no kernel can be had (no apt-get, unresolvable, download
#   failed: callers skip on 3); 4 = a module is neither in the package nor
#   built in.
# Concurrent callers are serialised by a lock file in the cache.
set -u

vm_kernel_fail() { echo "duct-vm: $2" >&2; return "$1"; }

# one module: its compressed file inside the unpacked tree, decompressed into
# modules/, then its dependencies (recursively, before it in load-order)
vm_kernel_module() {
    local m=$1 f d
    grep -qx "$m" "$VM_ORDER" 2>/dev/null && return 0
    if grep -q "/$m\.ko\$" "$VM_KDIR/builtin" 2>/dev/null; then return 0; fi
    f=$(find "$VM_KDIR/x/lib/modules" \( -name "$m.ko" -o -name "$m.ko.*" \) | head -1)
    if [ -z "$f" ]; then
        # kernel module names treat - and _ alike
        f=$(find "$VM_KDIR/x/lib/modules" \( -name "${m//_/-}.ko*" -o -name "${m//-/_}.ko*" \) | head -1)
    fi
    [ -n "$f" ] || { vm_kernel_fail 4 "module $m is neither in $(cat "$VM_KDIR/package") nor built in"; return; }
    case "$f" in
        *.xz)  xz -dc "$f" > "$VM_KDIR/modules/$m.ko" ;;
        *.zst) zstd -qdc "$f" > "$VM_KDIR/modules/$m.ko" ;;
        *.gz)  gzip -dc "$f" > "$VM_KDIR/modules/$m.ko" ;;
        *)     cp "$f" "$VM_KDIR/modules/$m.ko" ;;
    esac || { vm_kernel_fail 4 "cannot unpack $f"; return; }
    for d in $(modinfo -F depends "$VM_KDIR/modules/$m.ko" | tr ',' ' '); do
        vm_kernel_module "$d" || return
    done
    echo "$m" >> "$VM_ORDER"
}

vm_kernel() {
    local cache=${DUCT_VM_CACHE:-${TMPDIR:-/tmp}/duct-vm-cache} pkg m rc=0
    VM_ORDER=$1; shift
    command -v apt-get >/dev/null || { vm_kernel_fail 3 "no apt-get to fetch a Debian kernel"; return; }
    command -v modinfo >/dev/null || { vm_kernel_fail 3 "no modinfo (apt-get install kmod)"; return; }
    pkg=${DUCT_VM_KERNEL:-$(apt-cache depends linux-image-amd64 2>/dev/null |
                            awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
    [ -n "$pkg" ] || { vm_kernel_fail 3 "cannot resolve linux-image-amd64 (apt-get update?)"; return; }
    VM_KDIR=$cache/$pkg
    mkdir -p "$VM_KDIR/modules" || { vm_kernel_fail 3 "cannot create $VM_KDIR"; return; }
    exec {lockfd}>"$VM_KDIR/lock"
    flock "$lockfd"
    if ! ls "$VM_KDIR"/"$pkg"_*.deb >/dev/null 2>&1; then
        echo "duct-vm: fetching $pkg into $VM_KDIR (once)" >&2
        rm -rf "$VM_KDIR/x"
        if ! (cd "$VM_KDIR" && apt-get download "$pkg") > "$VM_KDIR/download.log" 2>&1; then
            rm -f "$VM_KDIR"/*.deb
            vm_kernel_fail 3 "apt-get download $pkg failed: $(tail -1 "$VM_KDIR/download.log")"; rc=$?
        fi
    fi
    if [ $rc = 0 ] && [ ! -d "$VM_KDIR/x/lib/modules" ]; then
        rm -rf "$VM_KDIR/x.tmp"
        dpkg-deb -x "$VM_KDIR"/"$pkg"_*.deb "$VM_KDIR/x.tmp" && mv "$VM_KDIR/x.tmp" "$VM_KDIR/x" ||
            { vm_kernel_fail 3 "cannot unpack $pkg"; rc=$?; }
    fi
    if [ $rc = 0 ]; then
        echo "$pkg" > "$VM_KDIR/package"
        cp "$VM_KDIR"/x/boot/vmlinuz-* "$VM_KDIR/vmlinuz"
        cat "$VM_KDIR"/x/lib/modules/*/modules.builtin > "$VM_KDIR/builtin" 2>/dev/null || : > "$VM_KDIR/builtin"
        : > "$VM_ORDER"
        for m in "$@"; do vm_kernel_module "$m" || { rc=$?; break; }; done
    fi
    flock -u "$lockfd"; exec {lockfd}>&-
    return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then vm_kernel "$@"; exit; fi
