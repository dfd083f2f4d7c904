// export: file identity and how fids hold their files (issue 9, items 1 and
// 17). QidMap directly (the qid.path layout), then a real Server over a real
// directory driven by encoded 9P frames, as export_test.cc does: qids of
// files on two tmpfs below the root, walked fids that hold no descriptor, a
// deleted file's fid answering ESTALE, a renamed file's fid still reaching it.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "export/ident.h"
#include "export/server.h"
#include "proto/codec.h"
#include "raw_peer.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;
using duct::exp::QidMap;

namespace {

// ------------------------------------------------------------- QidMap

TEST(QidMapTest, RootDeviceKeepsInodeNumbers) {
    QidMap m;
    m.set_root(dev_t(0x801));
    EXPECT_EQ(m.path(0x801, 2), 2u);
    EXPECT_EQ(m.path(0x801, 123456789), 123456789u);
    EXPECT_EQ(m.path(0x801, QidMap::kInoMask), QidMap::kInoMask);
}

TEST(QidMapTest, OtherDevicesGetPrefixesInOrderAndKeepThem) {
    QidMap m;
    m.set_root(dev_t(0x801));
    uint64_t a = m.path(0x2a, 2), b = m.path(0x2b, 2), r = m.path(0x801, 2);
    EXPECT_EQ(a, uint64_t(1) << 48 | 2);
    EXPECT_EQ(b, uint64_t(2) << 48 | 2);
    EXPECT_NE(a, r);
    // the same pair always gives the same path (renames and links keep st_ino)
    EXPECT_EQ(m.path(0x2a, 2), a);
    EXPECT_EQ(m.path(0x2b, 2), b);
    EXPECT_EQ(m.path(0x2a, 7), uint64_t(1) << 48 | 7);
}

TEST(QidMapTest, InodesTooLargeAreRemappedUniquelyAndStably) {
    QidMap m;
    m.set_root(dev_t(1));
    const ino_t big = ino_t(uint64_t(1) << 63 | 5);  // overlayfs xino style
    uint64_t p1 = m.path(1, big), p2 = m.path(2, big), p3 = m.path(1, big + 1);
    std::set<uint64_t> all{p1, p2, p3, m.path(1, 5), m.path(2, 5)};
    EXPECT_EQ(all.size(), 5u);
    for (uint64_t p : {p1, p2, p3}) EXPECT_EQ(p >> 48, QidMap::kRemapPrefix);
    EXPECT_EQ(m.path(1, big), p1);
    EXPECT_EQ(m.path(2, big), p2);
}

TEST(QidMapTest, DevicesPastTheLastPrefixStillGetUniquePaths) {
    QidMap m;
    m.set_root(dev_t(0));
    std::set<uint64_t> seen;
    const int n = int(QidMap::kLastPrefix) + 100;
    for (int d = 1; d <= n; d++) seen.insert(m.path(dev_t(d), 3));
    EXPECT_EQ(seen.size(), size_t(n));
    EXPECT_EQ(m.path(dev_t(n), 3) >> 48, QidMap::kRemapPrefix);
    EXPECT_EQ(m.path(dev_t(1), 3), uint64_t(1) << 48 | 3);
}

// ------------------------------------------------------------- a Server

using test::spit;

size_t open_fds() {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator("/proc/self/fd")) n++;
    return n;
}

// A raw 9P client of one Server (raw_peer.h): with or without file handles.
class Peer : public test::RawPeer {
public:
    explicit Peer(const std::string& root, bool handles = true) : RawPeer(options(root, handles)) {}
    // As RawPeer's, but an Rerror is -1 (these cases check .L errnos).
    static int lerr(const Fcall& f) {
        if (auto* e = std::get_if<Rlerror>(&f.msg)) return int(e->ecode);
        if (std::holds_alternative<Rerror>(f.msg)) return -1;
        return 0;
    }
    void attach(const std::string& version = "9P2000.L") {
        auto r = rpc(Tversion{65536, version});
        ASSERT_TRUE(holds<Rversion>(r));
        Tattach a;
        a.fid = 0;
        a.afid = NOFID;
        a.uname = "root";
        a.n_uname.value = 0;
        ASSERT_EQ(lerr(rpc(a)), 0);
    }
    // Walks fid 0 -> newfid along names; the last qid (or an error).
    int walk(uint32_t newfid, WNames names, Qid* q = nullptr, uint32_t from = 0) {
        auto r = rpc(Twalk{from, newfid, names});
        auto* w = std::get_if<Rwalk>(&r.msg);
        if (!w) return lerr(r);
        if (w->wqid.size() != names.size()) return ENOENT;
        if (q && !w->wqid.empty()) *q = w->wqid.back();
        return 0;
    }
    Qid getattr_qid(uint32_t fid, int* err = nullptr) {
        auto r = rpc(Tgetattr{fid, GETATTR_BASIC});
        if (err) *err = lerr(r);
        auto* a = std::get_if<Rgetattr>(&r.msg);
        return a ? a->qid : Qid{};
    }
    // name -> qid of the entries of directory fid (opened here).
    std::map<std::string, Qid> readdir(uint32_t dirfid, uint32_t tmp) {
        std::map<std::string, Qid> out;
        EXPECT_EQ(lerr(rpc(Twalk{dirfid, tmp, {}})), 0);
        EXPECT_EQ(lerr(rpc(Tlopen{tmp, 0})), 0);
        auto r = rpc(Treaddir{tmp, 0, 8192});
        if (auto* rd = std::get_if<Rreaddir>(&r.msg)) {
            size_t pos = 0;
            Dirent e;
            while (pos < rd->data.bytes.size() && parse_dirent(rd->data.bytes, pos, e)) out[e.name] = e.qid;
        }
        rpc(Tclunk{tmp});
        return out;
    }

private:
    static exp::ServerOptions options(const std::string& root, bool handles) {
        auto o = test::server_options(root, 1u << 20 | 4096, 2);
        o.file_handles = handles;
        return o;
    }
};

class IdentityTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-ident-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root = tmpl;
    }
    void TearDown() override {
        for (auto& m : mounts) umount2(m.c_str(), MNT_DETACH);
        fs::remove_all(root);
    }
    // A fresh tmpfs at root/name; false (test skipped) if we may not mount.
    bool tmpfs(const std::string& name) {
        fs::create_directories(root / name);
        std::string p = (root / name).string();
        if (mount("duct-ident", p.c_str(), "tmpfs", 0, "size=1m") != 0) return false;
        mounts.push_back(p);
        return true;
    }
    fs::path root;
    std::vector<std::string> mounts;
};

// Item 1: a/f and b/g on two fresh tmpfs share an inode number; every qid
// the server makes for them (walk, getattr, readdir, 9P2000 stat) differs
// between the two and agrees for each, and a file of the root's own file
// system keeps its inode number as qid.path.
TEST_F(IdentityTest, FilesOnTwoFileSystemsHaveDistinctQidsEverywhere) {
    if (geteuid() != 0 || !tmpfs("a") || !tmpfs("b")) GTEST_SKIP() << "needs root to mount tmpfs";
    spit(root / "a" / "f", "a");
    spit(root / "b" / "g", "b");
    spit(root / "top", "t");
    struct stat sa, sb, st;
    ASSERT_EQ(stat((root / "a" / "f").c_str(), &sa), 0);
    ASSERT_EQ(stat((root / "b" / "g").c_str(), &sb), 0);
    ASSERT_EQ(stat((root / "top").c_str(), &st), 0);
    ASSERT_EQ(sa.st_ino, sb.st_ino) << "precondition: one inode number";

    Peer p(root);
    p.attach();
    Qid wa, wb, wt, da, db;
    ASSERT_EQ(p.walk(1, {"a", "f"}, &wa), 0);
    ASSERT_EQ(p.walk(2, {"b", "g"}, &wb), 0);
    ASSERT_EQ(p.walk(3, {"top"}, &wt), 0);
    ASSERT_EQ(p.walk(4, {"a"}, &da), 0);
    ASSERT_EQ(p.walk(5, {"b"}, &db), 0);
    EXPECT_NE(wa.path, wb.path);
    EXPECT_NE(da.path, db.path);  // the two tmpfs roots (both inode 1)
    EXPECT_EQ(wt.path, uint64_t(st.st_ino));
    EXPECT_EQ(p.getattr_qid(1).path, wa.path);
    EXPECT_EQ(p.getattr_qid(2).path, wb.path);
    EXPECT_EQ(p.readdir(4, 10)["f"].path, wa.path);
    EXPECT_EQ(p.readdir(5, 10)["g"].path, wb.path);
    // a second walk and a walk from the directory reach the same identity
    Qid again;
    ASSERT_EQ(p.walk(6, {"f"}, &again, 4), 0);
    EXPECT_EQ(again.path, wa.path);

    // Tlcreate and Tmkdir answer with the same identity a walk then finds
    ASSERT_EQ(p.walk(7, {"b"}), 0);
    auto rc = p.rpc(Tlcreate{7, "new", 0x8002 /* O_RDWR */, 0644, 0});
    ASSERT_TRUE(holds<Rlcreate>(rc)) << Peer::lerr(rc);
    Qid cq = std::get<Rlcreate>(rc.msg).qid, nq;
    ASSERT_EQ(p.walk(8, {"b", "new"}, &nq), 0);
    EXPECT_EQ(cq.path, nq.path);
    auto rm = p.rpc(Tmkdir{5, "d", 0755, 0});
    ASSERT_TRUE(holds<Rmkdir>(rm));
    ASSERT_EQ(p.walk(9, {"b", "d"}, &nq), 0);
    EXPECT_EQ(std::get<Rmkdir>(rm.msg).qid.path, nq.path);

    // plain 9P2000's stat records carry it too
    Peer q(root);
    q.d = Dialect::P2000;
    q.attach("9P2000");
    ASSERT_EQ(q.walk(1, {"a", "f"}), 0);
    ASSERT_EQ(q.walk(2, {"b", "g"}), 0);
    auto s1 = q.rpc(Tstat{1}), s2 = q.rpc(Tstat{2});
    ASSERT_TRUE(holds<Rstat>(s1) && holds<Rstat>(s2));
    EXPECT_EQ(std::get<Rstat>(s1.msg).stat.qid.path, wa.path);
    EXPECT_EQ(std::get<Rstat>(s2.msg).stat.qid.path, wb.path);
}

// Item 17: walked fids hold file handles, not descriptors. 3,000 of them
// (the kernel client keeps one per cached inode) leave the process's
// descriptor count where it was.
TEST_F(IdentityTest, WalkedFidsHoldNoDescriptors) {
    if (geteuid() != 0) GTEST_SKIP() << "file handles need CAP_DAC_READ_SEARCH";
    const int n = 3000;
    for (int i = 0; i < n; i++) close(open((root / ("f" + std::to_string(i))).c_str(), O_CREAT | O_WRONLY, 0644));
    Peer p(root);
    p.attach();
    size_t before = open_fds();
    for (int i = 0; i < n; i++) ASSERT_EQ(p.walk(uint32_t(10 + i), {"f" + std::to_string(i)}), 0);
    size_t after = open_fds();
    EXPECT_LT(after, before + 50) << "descriptors before " << before << ", after " << after;
    // and they all still work
    int err = -1;
    p.getattr_qid(10 + n - 1, &err);
    EXPECT_EQ(err, 0);
}

// A fid whose file was deleted on the exporting side answers ESTALE (its
// space is free: nothing holds it); one whose file was renamed there still
// reaches it, for metadata and for I/O.
TEST_F(IdentityTest, DeletedFileIsStaleRenamedFileIsStillReached) {
    if (geteuid() != 0) GTEST_SKIP() << "file handles need CAP_DAC_READ_SEARCH";
    spit(root / "gone", "x");
    spit(root / "moved", "still here");
    Peer p(root);
    p.attach();
    Qid q1, q2;
    ASSERT_EQ(p.walk(1, {"gone"}, &q1), 0);
    ASSERT_EQ(p.walk(2, {"moved"}, &q2), 0);
    ASSERT_EQ(unlink((root / "gone").c_str()), 0);
    ASSERT_EQ(rename((root / "moved").c_str(), (root / "renamed").c_str()), 0);
    int err = 0;
    p.getattr_qid(1, &err);
    EXPECT_EQ(err, ESTALE);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlopen{1, 0})), ESTALE);
    EXPECT_EQ(p.getattr_qid(2, &err).path, q2.path);
    EXPECT_EQ(err, 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tlopen{2, 0})), 0);
    auto r = p.rpc(Tread{2, 0, 100});
    ASSERT_TRUE(holds<Rread>(r));
    EXPECT_EQ(std::get<Rread>(r.msg).data.bytes, "still here");
    // a clone of a stale fid is made (it copies the handle) and is stale too
    ASSERT_EQ(Peer::lerr(p.rpc(Twalk{1, 3, {}})), 0);
    p.getattr_qid(3, &err);
    EXPECT_EQ(err, ESTALE);
}

// A directory removed through the export while the peer still knows it
// (a shell's cwd: local stat(".") works after rmdir) stays reachable by the
// fids naming it; one removed on the exporting side directly is stale.
TEST_F(IdentityTest, DirectoryRemovedThroughTheExportStaysReachable) {
    if (geteuid() != 0) GTEST_SKIP() << "file handles need CAP_DAC_READ_SEARCH";
    fs::create_directories(root / "cwd");
    fs::create_directories(root / "gone");
    Peer p(root);
    p.attach();
    Qid q;
    ASSERT_EQ(p.walk(1, {"cwd"}, &q), 0);
    ASSERT_EQ(p.walk(2, {"gone"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "cwd", AT_REMOVEDIR_9P})), 0);
    EXPECT_FALSE(fs::exists(root / "cwd"));
    int err = -1;
    EXPECT_EQ(p.getattr_qid(1, &err).path, q.path);
    EXPECT_EQ(err, 0);
    auto r = p.rpc(Tgetattr{1, GETATTR_BASIC});
    ASSERT_TRUE(holds<Rgetattr>(r));
    EXPECT_EQ(std::get<Rgetattr>(r.msg).nlink, 0u);
    // creating in it fails as it does locally
    EXPECT_EQ(Peer::lerr(p.rpc(Tmkdir{1, "x", 0755, 0})), ENOENT);
    ASSERT_EQ(rmdir((root / "gone").c_str()), 0);
    p.getattr_qid(2, &err);
    EXPECT_EQ(err, ESTALE);
}

// Without file handles (no CAP_DAC_READ_SEARCH, or a file system without
// them) every fid holds an O_PATH descriptor, as before: the identity of
// files on two file systems is the same, and everything still works.
TEST_F(IdentityTest, WithoutHandlesFidsHoldDescriptorsAndWorkAlike) {
    bool two = geteuid() == 0 && tmpfs("a") && tmpfs("b");
    if (!two) fs::create_directories(root / "a");
    spit(root / "a" / "f", "data of f");
    if (two) spit(root / "b" / "g", "g");
    Peer p(root, false);
    p.attach();
    size_t before = open_fds();
    Qid qa, qb;
    ASSERT_EQ(p.walk(1, {"a", "f"}, &qa), 0);
    EXPECT_EQ(open_fds(), before + 1);  // the fid's own descriptor
    int err = -1;
    EXPECT_EQ(p.getattr_qid(1, &err).path, qa.path);
    EXPECT_EQ(err, 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Twalk{1, 2, {}})), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tlopen{2, 0})), 0);
    auto r = p.rpc(Tread{2, 0, 100});
    ASSERT_TRUE(holds<Rread>(r));
    EXPECT_EQ(std::get<Rread>(r.msg).data.bytes, "data of f");
    if (two) {
        ASSERT_EQ(p.walk(3, {"b", "g"}, &qb), 0);
        EXPECT_NE(qa.path, qb.path);
    }
    // a deleted file's fid still reaches it: the descriptor holds it
    ASSERT_EQ(unlink((root / "a" / "f").c_str()), 0);
    p.getattr_qid(1, &err);
    EXPECT_EQ(err, 0);
}

}  // namespace
