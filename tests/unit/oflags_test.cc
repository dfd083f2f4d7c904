// proto/oflags: the open-flag table against the values of Linux
// include/net/9p/9p.h (P9_DOTL_*), written out here as numbers, not taken
// from the header under test, and this machine's <fcntl.h>.
#include <fcntl.h>

#include <gtest/gtest.h>

#include "proto/oflags.h"

namespace p9 = duct::p9;

namespace {

struct Row {
    int host;
    uint32_t l;
};

// include/net/9p/9p.h: P9_DOTL_CREATE 00000100 ... P9_DOTL_SYNC 04000000.
const Row kRows[] = {
    {O_CREAT, 00000100},   {O_EXCL, 00000200},    {O_NOCTTY, 00000400},    {O_TRUNC, 00001000},
    {O_APPEND, 00002000},  {O_NONBLOCK, 00004000}, {O_DSYNC, 00010000},    {O_ASYNC, 00020000},
    {O_DIRECT, 00040000},  {O_DIRECTORY, 00200000}, {O_NOFOLLOW, 00400000}, {O_NOATIME, 01000000},
    {O_CLOEXEC, 02000000},
};

TEST(OFlags, AccessModes) {
    EXPECT_EQ(p9::oflags_to_l(O_RDONLY), 0u);
    EXPECT_EQ(p9::oflags_to_l(O_WRONLY), 1u);
    EXPECT_EQ(p9::oflags_to_l(O_RDWR), 2u);
    EXPECT_EQ(p9::oflags_from_l(0), O_RDONLY);
    EXPECT_EQ(p9::oflags_from_l(1), O_WRONLY);
    EXPECT_EQ(p9::oflags_from_l(2), O_RDWR);
}

TEST(OFlags, EachFlagBothWays) {
    for (const Row& r : kRows) {
        EXPECT_EQ(p9::oflags_to_l(O_RDWR | r.host), 2u | r.l) << std::oct << r.host;
        EXPECT_EQ(p9::oflags_from_l(2u | r.l), O_RDWR | r.host) << std::oct << r.l;
    }
}

// O_SYNC is __O_SYNC | O_DSYNC on Linux: it goes out as SYNC | DSYNC (as
// the kernel's client sends it); O_DSYNC alone is not SYNC.
TEST(OFlags, SyncAndDsync) {
    EXPECT_EQ(p9::oflags_to_l(O_WRONLY | O_SYNC), 1u | 04000000u | 00010000u);
    EXPECT_EQ(p9::oflags_to_l(O_WRONLY | O_DSYNC), 1u | 00010000u);
    EXPECT_EQ(p9::oflags_from_l(1u | 04000000u), O_WRONLY | O_SYNC);
    EXPECT_EQ(p9::oflags_from_l(1u | 04000000u | 00010000u), O_WRONLY | O_SYNC);
    EXPECT_EQ(p9::oflags_from_l(1u | 00010000u), O_WRONLY | O_DSYNC);
}

// Bits the table does not know are dropped, not passed through: on arm64
// the host's O_DIRECTORY (040000) is 9P2000.L's DIRECT.
TEST(OFlags, UnknownBitsDropped) {
    EXPECT_EQ(p9::oflags_from_l(0x80000000u), O_RDONLY);
    // P9_DOTL_LARGEFILE 00100000: O_LARGEFILE, which glibc makes 0 on 64-bit.
    EXPECT_EQ(p9::oflags_from_l(00100000u), O_RDONLY | O_LARGEFILE);
    // A combination round-trips.
    int f = O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_DIRECT | O_CLOEXEC;
    EXPECT_EQ(p9::oflags_from_l(p9::oflags_to_l(f)), f);
}

}  // namespace
