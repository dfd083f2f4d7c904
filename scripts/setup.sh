#!/bin/bash
# setup.sh — install every Debian 12 package duct needs to build, test and
# benchmark. Idempotent, non-interactive; run as root on a fresh machine.
# Nothing is downloaded outside Debian's apt (the kernel used by the v9fs test
# VM is fetched later, with `apt-get download`, by tests/vm/kernel.sh and kept
# in the build dir's vm-cache).
set -euo pipefail

PKGS=(
    # build
    g++ cmake ninja-build pkg-config libfuse3-dev fuse3 libssl-dev
    dpkg-dev debootstrap   # scripts/package.sh: dpkg-shlibdeps; it.package: a clean root
    googletest libgtest-dev libbenchmark-dev
    clang libclang-rt-14-dev   # libFuzzer and its sanitizer runtimes (scripts/fuzz.sh)
    # tests: a third-party 9P server, the kernel-client VM, tools the tests drive
    diod qemu-system-x86 busybox-static socat attr sqlite3 git make gcc rsync tar
    xz-utils zstd kmod procps psmisc coreutils util-linux e2fsprogs
    python3   # the raw-9P peers and mmap writers of several integration tests, bench/report.py
    # benchmark peers
    sshfs bindfs openssh-client openssh-server openssh-sftp-server
)

SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: run as root (or install sudo)" >&2; exit 1; }
    SUDO=sudo
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup.sh: all ${#PKGS[@]} packages already installed"
else
    echo "setup.sh: installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# FUSE needs its device; in a container it may have to be created by hand.
if [ ! -e /dev/fuse ]; then
    $SUDO modprobe fuse 2>/dev/null || true
    [ -e /dev/fuse ] || $SUDO mknod -m 666 /dev/fuse c 10 229 2>/dev/null || true
fi
[ -e /dev/fuse ] || echo "setup.sh: warning: no /dev/fuse; mount tests will be skipped" >&2
exit 0
