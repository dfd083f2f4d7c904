#!/bin/bash
# package.sh — the .deb scripts/package.sh made (build/duct_*.deb) installs
# with `apt-get install ./duct_*.deb` in a clean Debian root: a debootstrap
# minbase chroot of this machine's release (made once, ~90 s, and kept as a
# tarball in $DUCT_BUILD/vm-cache; each run unpacks a fresh copy), which
# fetches fuse3 and the libraries from Debian's mirror; then `duct
# --version` runs there. Also: the deb's Depends and its file list.
# Skips without debootstrap or the .deb (scripts/package.sh makes it).
source "$(dirname "$0")/lib.bash"
it_init package
[ "$(id -u)" = 0 ] || skip "needs root (chroot)"
need_cmd debootstrap "apt-get install debootstrap"
DEB=$(ls "$DUCT_BUILD"/duct_*_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || skip "no $DUCT_BUILD/duct_*_amd64.deb (run scripts/package.sh)"
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$DUCT_BUILD/CMakeCache.txt")
expect_eq "the deb is this build's version" "$DUCT_BUILD/duct_${VERSION}_amd64.deb" "$DEB"
check "Depends names fuse3" sh -c "dpkg-deb -f '$DEB' Depends | grep -qw fuse3"
check "Depends names libfuse3-3" sh -c "dpkg-deb -f '$DEB' Depends | grep -qw libfuse3-3"
expect_eq "contents as packaging/duct.contents" "$(cat "$DUCT_SRC/packaging/duct.contents")" \
    "$(dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|/$||' | sort)"

SUITE=$(. /etc/os-release && echo "$VERSION_CODENAME")
CACHE=${DUCT_VM_CACHE:-$DUCT_BUILD/vm-cache}
BASE=$CACHE/root-$SUITE-minbase.tar
mkdir -p "$CACHE"
if [ ! -s "$BASE" ]; then
    log "debootstrap --variant=minbase $SUITE (once, into $BASE)"
    debootstrap --variant=minbase "$SUITE" "$T/base" http://deb.debian.org/debian > "$T/ds.log" 2>&1 ||
        skip "debootstrap failed (no mirror?): $(tail -1 "$T/ds.log")"
    tar -C "$T/base" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
    rm -rf "$T/base"
fi
R=$T/root; mkdir -p "$R"
tar -C "$R" -xf "$BASE"
check "the clean root has no duct and no libfuse" sh -c "[ ! -e '$R/usr/bin/duct' ] && ! ls '$R'/usr/lib/x86_64-linux-gnu/libfuse3* >/dev/null 2>&1"
cp /etc/resolv.conf "$R/etc/resolv.conf"
cp "$DEB" "$R/tmp/"
mount -t proc proc "$R/proc" && track_mount "$R/proc"   # cleanup unmounts it before removing $T
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
rc=0
{ in_root apt-get update -q && in_root apt-get install -y -q "/tmp/$(basename "$DEB")"; } > "$T/apt.log" 2>&1 || rc=$?
umount "$R/proc"
if [ $rc != 0 ]; then
    grep -qi -e 'could not resolve' -e 'failed to fetch' -e 'temporary failure' "$T/apt.log" &&
        skip "no Debian mirror for apt-get: $(grep -i -m1 -e 'resolve' -e 'fetch' "$T/apt.log")"
    bad "apt-get install ./$(basename "$DEB") failed: $(tail -5 "$T/apt.log")"
fi
grep -E '^(Setting up|Unpacking) ' "$T/apt.log" | sed 's/^/  /'
check "apt-get installed duct" grep -q '^Setting up duct ' "$T/apt.log"
check "and pulled in fuse3" grep -q '^Setting up fuse3 ' "$T/apt.log"
expect_eq "duct --version in the clean root" "duct $VERSION" "$(in_root duct --version 2>&1)"
check "man page installed" test -f "$R/usr/share/man/man1/duct.1.gz"
check "example units installed" test -f "$R/usr/share/doc/duct/examples/duct.socket"
it_finish
