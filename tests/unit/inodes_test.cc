// mount/inodes: one fid per node, pinned while an op uses it (issue 9
// item 3). The clunk callback records what the table lets go of.
#include <gtest/gtest.h>

#include <algorithm>
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

// Lazy nodes (readdirplus, Tlcreateattr): no fid until attached, one
// lookup of the parent held meanwhile.
namespace {

TEST(InodesLazy, NoFidUntilAttached) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t ino = x.t.add_lazy(InodeTable::ROOT, "a", file(5), 7);
    ASSERT_NE(ino, 0u);
    EXPECT_EQ(x.t.fid_count(), 1u);  // the root only: no fid per entry
    EXPECT_EQ(x.t.node_count(), 2u);
    InodeTable::Ref r;
    InodeTable::Origin o;
    ASSERT_TRUE(x.t.pin(ino, r, &o));
    EXPECT_EQ(r.fid(), p9::NOFID);
    EXPECT_EQ(o.parent, InodeTable::ROOT);
    EXPECT_EQ(o.name, "a");
    EXPECT_EQ(o.qid.path, 5u);
    EXPECT_EQ(o.gen, 7u);
    // the walk reached the same file: the node takes its fid
    EXPECT_TRUE(x.t.attach(ino, 20, file(5), 7));
    ASSERT_TRUE(x.t.pin(ino, r));
    EXPECT_EQ(r.fid(), 20u);
    EXPECT_TRUE(x.clunked.empty());
    // a second attach (a racing op) gives its fid back
    EXPECT_TRUE(x.t.attach(ino, 21, file(5), 7));
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{21}));
    r.reset();
    x.t.forget(ino, 1);
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{21, 20}));
    EXPECT_EQ(x.t.node_count(), 1u);
}

TEST(InodesLazy, AnotherFileAtTheNameIsRefused) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t ino = x.t.add_lazy(InodeTable::ROOT, "a", file(5), 0);
    EXPECT_FALSE(x.t.attach(ino, 20, file(6), 0));  // renamed over: other file
    EXPECT_FALSE(x.t.attach(ino, 21, file(5), 1));  // inode number reused
    EXPECT_FALSE(x.t.attach(ino, 22, p9::Qid{p9::QTDIR, 0, 5}, 0));  // type changed
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{20, 21, 22}));
    InodeTable::Ref r;
    InodeTable::Origin o;
    ASSERT_TRUE(x.t.pin(ino, r, &o));
    EXPECT_EQ(r.fid(), p9::NOFID) << "a refused walk gave the node a fid";
    EXPECT_FALSE(x.t.attach(999, 23, file(5), 0));  // unknown node
    EXPECT_EQ(x.clunked.back(), 23u);
}

TEST(InodesLazy, ParentStaysWhileAChildNeedsIt) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t dir = x.t.add(10, p9::Qid{p9::QTDIR, 0, 2}, 0);
    uint64_t a = x.t.add_lazy(dir, "a", file(5), 0);
    uint64_t b = x.t.add_lazy(dir, "b", file(6), 0);
    EXPECT_EQ(x.t.add_lazy(dir, "a", file(5), 0), a);  // listed again: same node
    x.t.forget(dir, 1);  // the kernel forgets the directory first
    EXPECT_TRUE(x.clunked.empty()) << "the parent went while lazy children need it";
    InodeTable::Ref r;
    InodeTable::Origin o;
    ASSERT_TRUE(x.t.pin(b, r, &o));
    EXPECT_EQ(o.parent, dir);
    x.t.forget(a, 2);
    EXPECT_TRUE(x.clunked.empty());
    x.t.forget(b, 1);  // the last child goes: so does the directory
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10}));
    EXPECT_EQ(x.t.node_count(), 1u);
    EXPECT_EQ(x.t.add_lazy(dir, "c", file(7), 0), 0u);  // unknown parent: no node
}

TEST(InodesLazy, AttachReleasesTheParent) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t dir = x.t.add(10, p9::Qid{p9::QTDIR, 0, 2}, 0);
    uint64_t a = x.t.add_lazy(dir, "a", file(5), 0);
    EXPECT_TRUE(x.t.attach(a, 20, file(5), 0));
    x.t.forget(dir, 1);  // nothing holds the directory now
    EXPECT_EQ(x.clunked, (std::vector<uint32_t>{10}));
    // a lookup or a rename's refresh of a lazy node gives it the fid too
    uint64_t d2 = x.t.add(11, p9::Qid{p9::QTDIR, 0, 3}, 0);
    uint64_t b = x.t.add_lazy(d2, "b", file(6), 0);
    EXPECT_EQ(x.t.add(21, file(6), 0), b);
    uint64_t c = x.t.add_lazy(d2, "c", file(7), 0);
    x.t.refresh(22, file(7), 0);
    InodeTable::Ref r;
    ASSERT_TRUE(x.t.pin(c, r));
    EXPECT_EQ(r.fid(), 22u);
    r.reset();
    x.t.forget(d2, 1);
    EXPECT_EQ(x.clunked.back(), 11u);
    // drain returns real fids only, the root's last
    auto fids = x.t.drain();
    ASSERT_EQ(fids.size(), 4u);
    EXPECT_EQ(fids.back(), 1u);
    std::sort(fids.begin(), fids.end() - 1);
    EXPECT_EQ(fids, (std::vector<uint32_t>{20, 21, 22, 1}));
}

TEST(InodesLazy, ChainOfLazyParents) {
    Table x;
    x.t.set_root(1, p9::Qid{p9::QTDIR, 0, 1});
    uint64_t d = x.t.add_lazy(InodeTable::ROOT, "d", p9::Qid{p9::QTDIR, 0, 2}, 0);
    uint64_t f = x.t.add_lazy(d, "f", file(3), 0);
    x.t.forget(d, 1);
    EXPECT_EQ(x.t.node_count(), 3u);  // d stays for f
    x.t.forget(f, 1);
    EXPECT_EQ(x.t.node_count(), 1u);  // both gone; the root stays
    EXPECT_TRUE(x.clunked.empty());   // neither had a fid
}

}  // namespace
