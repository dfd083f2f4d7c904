// export: Treaddirplus and Tlcreateattr (duct extension, proto/table.h),
// the two the mount's readdirplus and create send (issue 10 item 4): a
// listing in several rounds with every entry's attributes, "." and ".."
// without; a create that leaves the directory fid as it is and answers
// the new file's attributes. Both are ENOSYS outside a duct session.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include "proto/oflags.h"
#include "raw_peer.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;

namespace {

struct Peer : test::RawPeer {
    fs::path root;
    explicit Peer(const fs::path& r) : test::RawPeer(test::server_options(r.string())), root(r) {}
};

fs::path scratch(const char* name) {
    fs::path p = fs::temp_directory_path() / (std::string("duct-rdplus-") + name + "-" +
                                              std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p;
}

TEST(ExportRdplus, ListingWithAttributesInRounds) {
    fs::path root = scratch("list");
    fs::create_directories(root / "d");
    for (int i = 0; i < 200; i++) test::spit(root / "d" / ("file" + std::to_string(i)), std::string(i, 'x'));
    fs::create_directories(root / "d" / "sub");
    Peer p(root);
    p.version_attach(0, "9P2000.L.duct.1");
    ASSERT_EQ(p.walk(0, 1, {"d"}), 0);
    ASSERT_EQ(p.lopen(1, 0), 0);
    std::map<std::string, DirentPlus> seen;
    uint64_t off = 0;
    int rounds = 0;
    for (;;) {
        auto r = p.rpc(Treaddirplus{1, off, 4096});
        ASSERT_TRUE(holds<Rreaddirplus>(r)) << Peer::lerr(r);
        const std::string& b = std::get<Rreaddirplus>(r.msg).data.bytes;
        EXPECT_LE(b.size(), 4096u);
        if (b.empty()) break;
        rounds++;
        size_t pos = 0;
        while (pos < b.size()) {
            DirentPlus e;
            ASSERT_TRUE(parse_direntplus(b, pos, e)) << "malformed entry at " << pos;
            EXPECT_FALSE(seen.count(e.d.name)) << e.d.name << " listed twice";
            off = e.d.offset;
            seen[e.d.name] = e;
        }
    }
    EXPECT_GE(rounds, 3) << "200 entries with attributes should not fit 4096 bytes";
    ASSERT_EQ(seen.size(), 203u);  // 200 files, sub, ".", ".."
    EXPECT_EQ(seen["."].attr.valid, 0u);
    EXPECT_EQ(seen[".."].attr.valid, 0u);
    for (int i = 0; i < 200; i++) {
        std::string n = "file" + std::to_string(i);
        const DirentPlus& e = seen[n];
        struct stat st;
        ASSERT_EQ(lstat((root / "d" / n).c_str(), &st), 0);
        ASSERT_NE(e.attr.valid, 0u) << n;
        EXPECT_EQ(e.attr.size, uint64_t(i)) << n;
        EXPECT_EQ(e.attr.mode, st.st_mode) << n;
        EXPECT_EQ(e.attr.mtime_sec, uint64_t(st.st_mtim.tv_sec)) << n;
        EXPECT_EQ(e.attr.mtime_nsec, uint64_t(st.st_mtim.tv_nsec)) << n;
        EXPECT_EQ(e.attr.qid.path, e.d.qid.path) << n;
    }
    EXPECT_TRUE(S_ISDIR(seen["sub"].attr.mode));
    EXPECT_EQ(seen["sub"].attr.qid.type, QTDIR);
    fs::remove_all(root);
}

TEST(ExportRdplus, OnlyInADuctSession) {
    fs::path root = scratch("plain");
    Peer p(root);
    p.version_attach(0, "9P2000.L");
    ASSERT_EQ(p.walk(0, 1, {}), 0);
    ASSERT_EQ(p.lopen(1, 0), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Treaddirplus{1, 0, 4096})), ENOSYS);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreateattr{0, 2, "x", 2, 0644, 0})), ENOSYS);
    EXPECT_FALSE(fs::exists(root / "x"));
    fs::remove_all(root);
}

TEST(ExportRdplus, CreateWithAttributes) {
    fs::path root = scratch("create");
    Peer p(root);
    p.version_attach(0, "9P2000.L.duct.1");
    auto r = p.rpc(Tlcreateattr{0, 5, "new", 2 /* O_RDWR */, 0640, 0});
    ASSERT_TRUE(holds<Rlcreateattr>(r)) << Peer::lerr(r);
    const auto& a = std::get<Rlcreateattr>(r.msg);
    struct stat st;
    ASSERT_EQ(lstat((root / "new").c_str(), &st), 0);
    EXPECT_NE(a.valid, 0u);
    EXPECT_EQ(a.mode, st.st_mode);
    EXPECT_EQ(a.mode & 07777, 0640u);
    EXPECT_EQ(a.size, 0u);
    EXPECT_GT(a.iounit, 0u);
    // newfid is the open file
    auto w = p.rpc(Twrite{5, 0, Data{"hello"}});
    ASSERT_TRUE(holds<Rwrite>(w)) << Peer::lerr(w);
    EXPECT_EQ(test::slurp(root / "new"), "hello");
    // the directory fid is still the directory
    ASSERT_EQ(p.walk(0, 6, {"new"}), 0);
    EXPECT_EQ(p.clunk(6), 0);
    // newfid must be unused; an existing name with EXCL is EEXIST
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreateattr{0, 5, "other", 2, 0644, 0})), EBADF);
    EXPECT_FALSE(fs::exists(root / "other"));
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreateattr{0, 7, "new", 2 | DOTL_CREATE | DOTL_EXCL, 0644, 0})), EEXIST);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreateattr{0, 7, "a/b", 2, 0644, 0})), EINVAL);
    EXPECT_EQ(p.clunk(5), 0);
    fs::remove_all(root);
}

}  // namespace
