// Open flags on the wire. 9P2000.L's Tlopen and Tlcreate carry Linux open
// flags with fixed values of their own (Linux include/net/9p/9p.h
// P9_DOTL_*, equal to x86's), not this machine's: O_DIRECTORY, O_NOFOLLOW,
// O_DIRECT and O_LARGEFILE differ on arm64, for one. Both ends translate
// through this one table. Pure functions: no threads, no I/O.
#pragma once
#include <cstdint>

namespace duct::p9 {

// The 9P2000.L values (include/net/9p/9p.h).
constexpr uint32_t DOTL_RDONLY = 00000000, DOTL_WRONLY = 00000001, DOTL_RDWR = 00000002,
                   DOTL_NOACCESS = 00000003, DOTL_CREATE = 00000100, DOTL_EXCL = 00000200,
                   DOTL_NOCTTY = 00000400, DOTL_TRUNC = 00001000, DOTL_APPEND = 00002000,
                   DOTL_NONBLOCK = 00004000, DOTL_DSYNC = 00010000, DOTL_FASYNC = 00020000,
                   DOTL_DIRECT = 00040000, DOTL_LARGEFILE = 00100000,
                   DOTL_DIRECTORY = 00200000, DOTL_NOFOLLOW = 00400000,
                   DOTL_NOATIME = 01000000, DOTL_CLOEXEC = 02000000, DOTL_SYNC = 04000000;

// This machine's open(2) flags -> 9P2000.L's. Bits with no 9P2000.L
// value (the kernel's own O_LARGEFILE where glibc says 0, FMODE bits FUSE
// passes along) are dropped: the peer could only misread them.
uint32_t oflags_to_l(int flags);
// 9P2000.L's flags -> this machine's; unknown bits are dropped.
int oflags_from_l(uint32_t lflags);

}  // namespace duct::p9
