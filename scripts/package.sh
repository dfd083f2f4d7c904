#!/bin/bash
# package.sh — the two things to ship, from the build in build/ (or
# $DUCT_BUILD), checked against the lists in packaging/:
#   build/duct_VERSION_ARCH.deb      /usr/bin/duct, its man page, README,
#                                    example systemd units; Depends: fuse3
#                                    and the shared libraries duct links
#   build/duct-dev_VERSION_ARCH.deb  the uplink library: <duct/uplink.h>,
#                                    static archives, find_package(duct)
#                                    (duct::uplink) and pkg-config duct.pc
#   build/duct-static                duct linked statically (no libfuse or
#                                    C++ runtime needed where it runs)
# VERSION is CMake's project version. Needs dpkg-dev (dpkg-shlibdeps).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${DUCT_BUILD:-build}
[ -f "$BUILD/build.ninja" ] || cmake -S . -B "$BUILD" -G Ninja
cmake -S . -B "$BUILD" -DDUCT_STATIC=ON > /dev/null
ninja -C "$BUILD" duct duct-static duct_uplink
BUILD=$(cd "$BUILD" && pwd)
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
ARCH=$(dpkg --print-architecture)
STAGE=$BUILD/package
rm -rf "$STAGE"; mkdir -p "$STAGE"

# stage NAME COMPONENT: a package's tree, as Debian lays it out (man pages
# and larger docs gzipped with -9n, binaries stripped)
stage() {
    local root=$STAGE/$1
    DESTDIR=$root cmake --install "$BUILD" --prefix /usr --component "$2" --strip > /dev/null
    find "$root/usr/lib" -name "*.a" -exec strip --strip-debug {} + 2>/dev/null || true
    find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} + 2>/dev/null || true
    [ -f "$root/usr/share/doc/duct/README.md" ] && gzip -9n "$root/usr/share/doc/duct/README.md"
    mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$1"
    # the installed size in KiB, as dpkg counts it
    du -sk --exclude=DEBIAN "$root" | cut -f1
}

# control NAME DEPENDS SIZE DESCRIPTION...
control() {
    local name=$1 deps=$2 size=$3; shift 3
    cat > "$STAGE/$name/DEBIAN/control" <<C
Package: $name
Version: $VERSION
Architecture: $ARCH
Maintainer: duct developers <duct@localhost>
Installed-Size: $size
Depends: $deps
Section: utils
Priority: optional
Description: $1
C
    shift
    printf ' %s\n' "$@" >> "$STAGE/$name/DEBIAN/control"
}

size=$(stage duct runtime)
# the shared libraries the binary needs, as Debian's packages name them
mkdir -p "$STAGE/shlibs/debian"
printf 'Source: duct\n\nPackage: duct\nArchitecture: any\n' > "$STAGE/shlibs/debian/control"
shlibs=$(cd "$STAGE/shlibs" && dpkg-shlibdeps -O "$STAGE/duct/usr/bin/duct" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "package.sh: dpkg-shlibdeps found no libraries for duct" >&2; exit 1; }
control duct "fuse3, $shlibs" "$size" \
    "two machines mount each other's file systems over one byte channel" \
    "duct carries 9P2000.L in both directions over one byte channel (a pipe," \
    "an ssh session, TCP, a serial line): each end exports a directory and" \
    "mounts the peer's export with FUSE. Example systemd units for a keyed" \
    "listener are in /usr/share/doc/duct/examples."

size=$(stage duct-dev dev)
control duct-dev "libfuse3-dev, pkgconf | pkg-config" "$size" \
    "duct's uplink library (static) for programs that embed duct" \
    "The header <duct/uplink.h>, the static libraries behind it, a CMake" \
    "package (find_package(duct), target duct::uplink) and pkg-config duct.pc."

for p in duct duct-dev; do
    dpkg-deb --root-owner-group -Zxz --build "$STAGE/$p" "$BUILD/${p}_${VERSION}_${ARCH}.deb" > /dev/null
    # the contents must be exactly packaging/NAME.contents (paths only)
    dpkg-deb -c "$BUILD/${p}_${VERSION}_${ARCH}.deb" | awk '{print $6}' | sed 's|/$||' | sort > "$STAGE/$p.contents"
    if ! diff -u "$SRC/packaging/$p.contents" "$STAGE/$p.contents"; then
        echo "package.sh: ${p}_${VERSION}_${ARCH}.deb does not hold what packaging/$p.contents lists" >&2
        exit 1
    fi
    echo "package.sh: $BUILD/${p}_${VERSION}_${ARCH}.deb ($(stat -c %s "$BUILD/${p}_${VERSION}_${ARCH}.deb") bytes)"
done
echo "package.sh: $BUILD/duct-static ($(stat -c %s "$BUILD/duct-static") bytes, static)"
