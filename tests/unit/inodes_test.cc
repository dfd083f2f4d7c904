// mount/inodes: one fid per node, pinned while an op uses it (issue 9
// item 3). The clunk callback records what the table lets go of.
#include <gtest/gtest.h>

#include <vector>

#include "mount/inodes.h"

using duct::mnt::InodeTable;
namespace p9 = duct::p9;

namespace {

p9::Qid file(uint64_t path) { return p9::Qid{p9::QTFILE, 0, path}; }

struct Table {
    std::vector<uint32_t> clunked;
    InodeTable t{[this](uint32_t f) { clunked.push_back(f); }};
};

TEST(Inodes, RelookupKeepsOneFid) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t ino = x.t.add(10, file(5), 0);
    for (uint32_t f = 11; f < 20; f++) EXPECT_EQ(x.t.add(f, file(5), 0), ino);
    // each re-lookup's walk replaced the fid before it, which went at once
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10, 11, 12, 13, 14, 15, 16, 17, 18}));
    EXPECT_EQ(x.t.fid_count(), 2u);  // root + the node
    InodeTable::Ref r;
    ASSERT_TRUE(x.t.pin(ino, r));
    EXPECT_EQ(r.fid(), 19u);
}

TEST(Inodes, PinnedFidOutlivesForgetAndReplace) {
    Table x;
    uint64_t ino = x.t.add(10, file(5), 0);
    {
        InodeTable::Ref r;
        ASSERT_TRUE(x.t.pin(ino, r));
        InodeTable::Ref r2;
        ASSERT_TRUE(x.t.pin(ino, r2));
        x.t.add(11, file(5), 0);  // a re-lookup replaces fid 10 while in use
        EXPECT_TRUE(x.clunked.empty()) << "a fid in use was clunked";
        r2.reset();
        EXPECT_TRUE(x.clunked.empty());
    }
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10}));
    {
        InodeTable::Ref r;
        ASSERT_TRUE(x.t.pin(ino, r));
        x.t.forget(ino, 2);  // the node goes while an op holds its fid
        EXPECT_EQ(x.clunked.size(), 1u);
        InodeTable::Ref gone;
        EXPECT_FALSE(x.t.pin(ino, gone));
        EXPECT_EQ(r.fid(), 11u);
    }
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10, 11}));
    EXPECT_EQ(x.t.fid_count(), 0u);
}

TEST(Inodes, RefreshAndNewGeneration) {
    Table x;
    uint64_t ino = x.t.add(10, file(5), 0);
    x.t.refresh(12, file(5), 0);  // after a rename: the node takes the fresh walk
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10}));
    x.t.refresh(13, file(6), 0);  // unknown node: that fid goes
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10, 13}));
    uint64_t other = x.t.add(14, file(5), 1);  // inode number reused: a new node
    EXPECT_NE(other, ino);
    auto fids = x.t.drain();
    EXPECT_EQ(fids.size(), 2u);
}

}  // namespace
