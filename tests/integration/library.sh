#!/bin/bash
# library.sh — the uplink library as a user gets it: `cmake --install` of the
# build's dev component into an empty prefix, then examples/uplink_example.cc
# built against that prefix only, twice: with find_package(duct) (target
# duct::uplink) and with pkg-config (duct.pc). Each build's program runs
# `EXPORT -` on a pipe and answers a Tversion from a raw 9P peer.
source "$(dirname "$0")/lib.bash"
it_init library
need_cmd pkg-config "apt-get install pkgconf"
P=$T/prefix
cmake --install "$DUCT_BUILD" --prefix "$P" --component dev > "$T/install.log" 2>&1 || die "install: $(tail -3 "$T/install.log")"
check "header installed" test -f "$P/include/duct/uplink.h"
check "CMake package installed" test -f "$P/lib/cmake/duct/ductConfig.cmake"
check "pkg-config file installed" test -f "$P/lib/pkgconfig/duct.pc"

mkdir -p "$T/proj"
cp "$DUCT_SRC/examples/uplink_example.cc" "$T/proj/"
cat > "$T/proj/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.20)
project(uses_duct LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(duct 0.1 REQUIRED)
add_executable(example uplink_example.cc)
target_link_libraries(example PRIVATE duct::uplink)
C
# only the installed prefix: the source tree is not on any path given here
if cmake -S "$T/proj" -B "$T/b" -G Ninja -DCMAKE_PREFIX_PATH="$P" > "$T/cmake.log" 2>&1 &&
   ninja -C "$T/b" > "$T/ninja.log" 2>&1; then
    ok "example builds with find_package(duct) and duct::uplink"
else
    bad "find_package build: $(tail -5 "$T/cmake.log" "$T/ninja.log" 2>/dev/null)"
fi
if ! grep -rq -- "$DUCT_SRC" "$T/b/build.ninja" 2>/dev/null; then ok "the build never names the source tree"
else bad "the example's build refers to $DUCT_SRC"; fi
PKG_CONFIG_PATH=$P/lib/pkgconfig
export PKG_CONFIG_PATH
if c++ -o "$T/example-pc" "$T/proj/uplink_example.cc" $(pkg-config --cflags --libs duct) 2> "$T/pc.log"; then
    ok "example builds with pkg-config duct"
else
    bad "pkg-config build: $(tail -5 "$T/pc.log")"
fi
# each one serves: a Tversion in, an Rversion (type 101) out
tversion() { python3 -c 'import struct,sys; v=b"9P2000.L"; b=struct.pack("<BHIH",100,0xFFFF,8192,len(v))+v; sys.stdout.buffer.write(struct.pack("<I",len(b)+4)+b)'; }
mkdir -p "$T/e"
for ex in "$T/b/example" "$T/example-pc"; do
    [ -x "$ex" ] || continue
    t=$( { tversion; sleep 1; } | timeout 10 "$ex" "$T/e" - 2>/dev/null | head -c 5 | od -An -tu1 | awk '{print $5}')
    expect_eq "$(basename "$ex") answers Tversion with Rversion" 101 "$t"
done
it_finish
