// export: a real Server over a real temporary directory, driven by encoded
// 9P frames; replies are decoded from the Send callback. Covers both
// dialects, confinement attacks, malformed frames and Tflush ordering.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "export/server.h"
#include "raw_peer.h"
#include "proto/codec.h"
#include "proto/errors.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;

namespace {

using test::slurp;
using test::spit;

// A peer client: sends frames into the server and collects the replies
// (raw_peer.h), with the reads these cases need.
class Peer : public test::RawPeer {
public:
    explicit Peer(const std::string& root, uint32_t max_msize = 65536 + 4096)
        : RawPeer(test::server_options(root, max_msize)) {}
    static constexpr const char* kDuct = "9P2000.L.duct.1";
    std::string read(uint32_t fid, uint64_t off, uint32_t count) {
        auto r = rpc(Tread{fid, off, count});
        EXPECT_TRUE(holds<Rread>(r)) << lerr(r) << ename(r);
        return holds<Rread>(r) ? std::get<Rread>(r.msg).data.bytes : "";
    }
};

class ExportTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-export-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        base = tmpl;
        root = base / "root";
        fs::create_directories(root / "a" / "b");
        fs::create_directories(base / "outside");
        spit(base / "outside" / "secret", "top secret");
        spit(root / "a" / "hello.txt", "hello, world\n");
        chmod(base.c_str(), 0755);
        chmod(root.c_str(), 0777);
        chmod((root / "a").c_str(), 0777);
    }
    void TearDown() override { fs::remove_all(base); }
    fs::path base, root;
};

// ---------------------------------------------------------------- version

TEST_F(ExportTest, VersionNegotiatesMsizeAndDialect) {
    Peer p(root, 8192 + 24);
    auto r = p.rpc(Tversion{1u << 20, "9P2000.L"});
    ASSERT_TRUE(holds<Rversion>(r));
    EXPECT_EQ(std::get<Rversion>(r.msg).msize, 8192u + 24);
    EXPECT_EQ(std::get<Rversion>(r.msg).version, "9P2000.L");
    r = p.rpc(Tversion{4096, "9P2000.u"});
    EXPECT_EQ(std::get<Rversion>(r.msg).msize, 4096u);
    EXPECT_EQ(std::get<Rversion>(r.msg).version, "9P2000");
    p.d = Dialect::P2000;
    r = p.rpc(Tversion{4096, "styx"});
    EXPECT_EQ(std::get<Rversion>(r.msg).version, "unknown");
    // Extensions of 9P2000.L: our own (another duct's mount) is answered in
    // kind at the lower level of the two; others get the base "9P2000.L".
    p.d = Dialect::L;
    for (auto [offer, answer] : std::vector<std::pair<std::string, std::string>>{
             {"9P2000.L.duct.1", "9P2000.L.duct.1"},
             {"9P2000.L.duct.9", "9P2000.L.duct.1"},   // a newer duct: ours
             {"9P2000.L.duct.0", "9P2000.L"},          // not a level
             {"9P2000.L.duct", "9P2000.L"},
             {"9P2000.L.Google.7", "9P2000.L"},        // gVisor's p9 client
             {"9P2000.L", "9P2000.L"}}) {              // the kernel: exactly this
        r = p.rpc(Tversion{8192, offer});
        ASSERT_TRUE(holds<Rversion>(r)) << offer;
        EXPECT_EQ(std::get<Rversion>(r.msg).version, answer) << offer;
        EXPECT_EQ(std::get<Rversion>(r.msg).msize, 8192u) << offer;
    }
}

TEST_F(ExportTest, VersionClunksAllFids) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a"}), 0);
    EXPECT_TRUE(p.srv->in_use());
    p.rpc(Tversion{65536, "9P2000.L"});
    EXPECT_FALSE(p.srv->in_use());
    EXPECT_EQ(p.walk(1, 2, {}), EBADF);
}

TEST_F(ExportTest, NoSessionBeforeVersionAndAuthRefused) {
    Peer p(root);
    Tattach a{0, NOFID, "root", "", NUname{0}};
    EXPECT_NE(Peer::lerr(p.rpc(a)), 0);
    p.rpc(Tversion{65536, "9P2000.L"});
    auto r = p.rpc(Tauth{5, "root", "", NUname{0}});
    EXPECT_EQ(Peer::lerr(r), ECONNREFUSED);
    a.afid = 5;
    EXPECT_NE(Peer::lerr(p.rpc(a)), 0);
}

// version(5): outstanding requests are aborted; nothing of the old session
// may be answered after the Rversion.
TEST_F(ExportTest, NoReplyOfTheOldSessionFollowsRversion) {
    spit(root / "big", std::string(1 << 20, 'b'));
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"big"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    for (int round = 0; round < 10; round++) {
        size_t seen = p.order().size();
        for (uint16_t t = 100; t < 160; t++) p.send(t, Tread{1, 0, 60000});
        p.send(NOTAG, Tversion{65536, "9P2000.L"});
        ASSERT_TRUE(holds<Rversion>(p.wait(NOTAG)));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto ord = p.order();
        auto rv = std::find(ord.begin() + seen, ord.end(), NOTAG);
        ASSERT_NE(rv, ord.end());
        EXPECT_EQ(rv + 1, ord.end()) << "a reply of the old session came after Rversion";
        for (uint16_t t = 100; t < 160; t++)  // drain what did come before
            while (!p.no_reply(t, 0)) p.wait(t);
        // The new session starts empty; set it up for the next round.
        EXPECT_FALSE(p.srv->in_use());
        Tattach a{0, NOFID, "", "", NUname{0}};
        ASSERT_EQ(Peer::lerr(p.rpc(a)), 0);
        ASSERT_EQ(p.walk(0, 1, {"big"}), 0);
        ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    }
}

// Many writes on one fid at once land where they were aimed.
TEST_F(ExportTest, ConcurrentWritesOnOneFid) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(Peer::lerr(p.rpc(Tlcreate{0, "par", O_RDWR, 0644, 0})), 0);
    const int n = 200;
    for (int i = 0; i < n; i++)
        p.send(uint16_t(500 + i), Twrite{0, uint64_t(i) * 100, Data{std::string(100, char('A' + i % 26))}});
    for (int i = 0; i < n; i++) {
        auto r = p.wait(uint16_t(500 + i));
        ASSERT_TRUE(holds<Rwrite>(r));
        EXPECT_EQ(std::get<Rwrite>(r.msg).count, 100u);
    }
    std::string d = slurp(root / "par");
    ASSERT_EQ(d.size(), size_t(n) * 100);
    for (int i = 0; i < n; i++) EXPECT_EQ(d[size_t(i) * 100 + 50], char('A' + i % 26));
}

// ---------------------------------------------------------------- walk

TEST_F(ExportTest, WalkCloneFullPartialAndErrors) {
    Peer p(root);
    p.version_attach();
    WQids q;
    EXPECT_EQ(p.walk(0, 1, {}, &q), 0);  // clone
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(p.walk(0, 2, {"a", "b"}, &q), 0);
    ASSERT_EQ(q.size(), 2u);
    EXPECT_EQ(q[1].type, QTDIR);
    struct stat st;
    ASSERT_EQ(stat((root / "a" / "b").c_str(), &st), 0);
    EXPECT_EQ(q[1].path, st.st_ino);
    // Partial: the qids walked, and newfid stays unused.
    EXPECT_EQ(p.walk(0, 3, {"a", "nope", "x"}, &q), -2);
    EXPECT_EQ(q.size(), 1u);
    EXPECT_EQ(p.walk(3, 4, {}), EBADF);
    // First element fails: an error.
    EXPECT_EQ(p.walk(0, 3, {"nope"}), ENOENT);
    // newfid in use.
    EXPECT_EQ(p.walk(0, 1, {"a"}), EBADF);
    // newfid == fid moves the fid.
    EXPECT_EQ(p.walk(1, 1, {"a"}, &q), 0);
    EXPECT_EQ(p.walk(1, 5, {"hello.txt"}), 0);
    // Walking from a file: not a directory.
    EXPECT_EQ(p.walk(5, 6, {"x"}), ENOTDIR);
}

TEST_F(ExportTest, DotDotAtRootStaysAtRoot) {
    Peer p(root);
    p.version_attach();
    WQids rootq, q;
    ASSERT_EQ(p.walk(0, 1, {"."}, &rootq), 0);
    ASSERT_EQ(p.walk(0, 2, {"..", "..", ".."}, &q), 0);
    EXPECT_EQ(q.back().path, rootq.back().path);
    ASSERT_EQ(p.walk(0, 3, {"a", "..", ".."}, &q), 0);
    EXPECT_EQ(q.back().path, rootq.back().path);
    // And nothing named "outside" is reachable from there.
    // (partial walks: the ".." steps succeed at the root, "outside" does not)
    EXPECT_EQ(p.walk(0, 4, {"..", "outside"}), -2);
    EXPECT_EQ(p.walk(0, 4, {"..", "..", "outside", "secret"}), -3);
    EXPECT_EQ(p.walk(4, 5, {}), EBADF);
    EXPECT_EQ(p.walk(0, 4, {"outside"}), ENOENT);
}

TEST_F(ExportTest, SymlinksAreNeverFollowed) {
    ASSERT_EQ(symlink((base / "outside").c_str(), (root / "abs").c_str()), 0);
    ASSERT_EQ(symlink("../outside", (root / "rel").c_str()), 0);
    ASSERT_EQ(symlink((base / "outside" / "secret").c_str(), (root / "file").c_str()), 0);
    Peer p(root);
    p.version_attach();
    WQids q;
    EXPECT_EQ(p.walk(0, 1, {"abs", "secret"}), -2);  // stops at the link
    EXPECT_EQ(p.walk(0, 1, {"rel", "secret"}), -2);  // stops at the link
    ASSERT_EQ(p.walk(0, 1, {"file"}, &q), 0);
    EXPECT_EQ(q[0].type, QTSYMLINK);
    EXPECT_EQ(p.lopen(1, 0), ELOOP);  // opening would follow it
    auto r = p.rpc(Treadlink{1});
    ASSERT_TRUE(holds<Rreadlink>(r));
    EXPECT_EQ(std::get<Rreadlink>(r.msg).target, (base / "outside" / "secret").string());
    // Setting times on the link touches the link, not the secret.
    struct stat before;
    ASSERT_EQ(stat((base / "outside" / "secret").c_str(), &before), 0);
    Tsetattr sa{};
    sa.fid = 1;
    sa.valid = SETATTR_MTIME | SETATTR_MTIME_SET;
    sa.mtime_sec = 12345;
    EXPECT_EQ(Peer::lerr(p.rpc(sa)), 0);
    struct stat after, link;
    ASSERT_EQ(stat((base / "outside" / "secret").c_str(), &after), 0);
    EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    ASSERT_EQ(lstat((root / "file").c_str(), &link), 0);
    EXPECT_EQ(link.st_mtim.tv_sec, 12345);
    // chmod and truncate on the link fid are refused, not followed.
    sa.valid = SETATTR_MODE;
    sa.mode = 0777;
    EXPECT_NE(Peer::lerr(p.rpc(sa)), 0);
    sa.valid = SETATTR_SIZE;
    sa.size = 0;
    EXPECT_NE(Peer::lerr(p.rpc(sa)), 0);
    EXPECT_EQ(slurp(base / "outside" / "secret"), "top secret");
    // A create through the link's name does not follow it either.
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{0, "file", O_WRONLY, 0644, 0})), ELOOP);
    EXPECT_EQ(slurp(base / "outside" / "secret"), "top secret");
}

TEST_F(ExportTest, BadNamesRefused) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {}), 0);
    EXPECT_EQ(p.walk(0, 2, {"a/b"}), EINVAL);
    EXPECT_EQ(p.walk(0, 2, {"/etc"}), EINVAL);
    EXPECT_EQ(p.walk(0, 2, {""}), EINVAL);
    std::string longname(256, 'x');
    EXPECT_EQ(p.walk(0, 2, {longname}), ENAMETOOLONG);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{1, "../escape", O_WRONLY, 0644, 0})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tmkdir{0, "..", 0755, 0})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tmkdir{0, longname, 0755, 0})), ENAMETOOLONG);
    EXPECT_EQ(Peer::lerr(p.rpc(Tsymlink{0, "x/y", "t", 0})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "../outside", 0})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat{0, "a", 0, "../moved"})), EINVAL);
    EXPECT_TRUE(fs::exists(root / "a"));
    EXPECT_FALSE(fs::exists(base / "escape"));
    EXPECT_FALSE(fs::exists(base / "moved"));
}

// ---------------------------------------------------------------- I/O

TEST_F(ExportTest, CreateWriteReadFsyncGetattr) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a"}), 0);
    auto r = p.rpc(Tlcreate{1, "new.txt", O_RDWR, 0640, 0});
    ASSERT_TRUE(holds<Rlcreate>(r)) << Peer::lerr(r);
    EXPECT_GT(std::get<Rlcreate>(r.msg).iounit, 0u);
    r = p.rpc(Twrite{1, 0, Data{"0123456789"}});
    ASSERT_TRUE(holds<Rwrite>(r));
    EXPECT_EQ(std::get<Rwrite>(r.msg).count, 10u);
    r = p.rpc(Twrite{1, 20, Data{"end"}});
    EXPECT_EQ(p.read(1, 5, 3), "567");
    EXPECT_EQ(p.read(1, 100, 10), "");
    EXPECT_EQ(Peer::lerr(p.rpc(Tfsync{1, OptU32{0}})), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfsync{1, OptU32{1}})), 0);
    struct stat st;
    ASSERT_EQ(stat((root / "a" / "new.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);  // not masked by the process umask
    EXPECT_EQ(st.st_size, 23);
    r = p.rpc(Tgetattr{1, GETATTR_ALL});
    ASSERT_TRUE(holds<Rgetattr>(r));
    auto& ga = std::get<Rgetattr>(r.msg);
    EXPECT_EQ(ga.size, 23u);
    EXPECT_EQ(ga.qid.path, st.st_ino);
    EXPECT_EQ(ga.mode, st.st_mode);
    EXPECT_EQ(ga.nlink, 1u);
    EXPECT_EQ(ga.mtime_sec, uint64_t(st.st_mtim.tv_sec));
    EXPECT_EQ(ga.valid & GETATTR_BASIC, GETATTR_BASIC);
    // The client already applied the user's umask; ours must not apply again.
    mode_t old_umask = umask(022);
    ASSERT_EQ(p.walk(0, 4, {}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tlcreate{4, "wide", O_WRONLY, 0666, 0})), 0);
    ASSERT_TRUE(holds<Rmkdir>(p.rpc(Tmkdir{0, "widedir", 0777, 0})));
    umask(old_umask);
    ASSERT_EQ(stat((root / "wide").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0666u);
    ASSERT_EQ(stat((root / "widedir").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0777u);
    // Existing file, O_EXCL: EEXIST.
    ASSERT_EQ(p.walk(0, 2, {"a"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{2, "new.txt", O_RDWR | O_CREAT | O_EXCL, 0640, 0})), EEXIST);
    // Reading a file opened write-only fails; lopen of an open fid fails.
    ASSERT_EQ(p.walk(0, 3, {"a", "hello.txt"}), 0);
    ASSERT_EQ(p.lopen(3, O_WRONLY), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tread{3, 0, 10})), EBADF);
    EXPECT_EQ(p.lopen(3, O_RDONLY), EBUSY);
    // Stats count what moved.
    auto s = p.srv->stats();
    EXPECT_GE(s.bytes_written, 13u);
    EXPECT_GE(s.bytes_read, 3u);
    EXPECT_GE(s.errors, 2u);
}

TEST_F(ExportTest, ReadCountCappedByMsize) {
    spit(root / "big", std::string(200000, 'z'));
    Peer p(root, 8192);
    p.rpc(Tversion{8192, "9P2000.L"});
    ASSERT_EQ(Peer::lerr(p.rpc(Tattach{0, NOFID, "", "", NUname{0}})), 0);
    ASSERT_EQ(p.walk(0, 1, {"big"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    std::string d = p.read(1, 0, 1u << 30);
    EXPECT_EQ(d.size(), 8192u - IOHDRSZ);
}

TEST_F(ExportTest, SetattrModeOwnerSizeTimes) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    Tsetattr sa{};
    sa.fid = 1;
    sa.valid = SETATTR_MODE | SETATTR_SIZE | SETATTR_ATIME | SETATTR_ATIME_SET | SETATTR_MTIME |
               SETATTR_MTIME_SET;
    sa.mode = 0600;
    sa.size = 5;
    sa.atime_sec = 1000000;
    sa.mtime_sec = 2000000;
    sa.mtime_nsec = 42;
    ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
    struct stat st;
    ASSERT_EQ(stat((root / "a" / "hello.txt").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_size, 5);
    EXPECT_EQ(st.st_atim.tv_sec, 1000000);
    EXPECT_EQ(st.st_mtim.tv_sec, 2000000);
    EXPECT_EQ(st.st_mtim.tv_nsec, 42);
    // MTIME without MTIME_SET means "now".
    sa.valid = SETATTR_MTIME;
    ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
    ASSERT_EQ(stat((root / "a" / "hello.txt").c_str(), &st), 0);
    EXPECT_GT(st.st_mtim.tv_sec, time(nullptr) - 60);
    EXPECT_EQ(st.st_atim.tv_sec, 1000000);  // untouched
    if (geteuid() == 0) {
        sa.valid = SETATTR_UID | SETATTR_GID;
        sa.uid = 1234;
        sa.gid = 5678;
        ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
        ASSERT_EQ(stat((root / "a" / "hello.txt").c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 1234u);
        EXPECT_EQ(st.st_gid, 5678u);
    }
}

// The masks the kernel's v9fs sends for utimensat (v9fs_mapped_iattr_valid,
// seen in a -D trace of tests/integration/kernel_conform.sh): 352 = mtime
// set, atime omitted; 208 = atime set, mtime omitted; 112 = both "now"
// (no *_SET). The omitted time must stay to the nanosecond, a set one
// must keep its nanoseconds, and "now" must be the server's clock.
TEST_F(ExportTest, SetattrTimeMasksOfTheKernelClient) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    const std::string path = (root / "a" / "hello.txt").string();
    struct timespec t0[2] = {{500000000, 5}, {600000000, 6}};
    ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), t0, 0), 0);
    struct stat st;
    Tsetattr sa{};
    sa.fid = 1;
    sa.valid = 352;
    ASSERT_EQ(sa.valid, SETATTR_MTIME | SETATTR_CTIME | SETATTR_MTIME_SET);
    sa.atime_sec = 1;  // ignored: no ATIME bit
    sa.mtime_sec = 1234567899;
    sa.mtime_nsec = 222;
    ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_atim.tv_sec, 500000000);
    EXPECT_EQ(st.st_atim.tv_nsec, 5);
    EXPECT_EQ(st.st_mtim.tv_sec, 1234567899);
    EXPECT_EQ(st.st_mtim.tv_nsec, 222);
    sa.valid = 208;
    ASSERT_EQ(sa.valid, SETATTR_ATIME | SETATTR_CTIME | SETATTR_ATIME_SET);
    sa.atime_sec = 1234567890;
    sa.atime_nsec = 111;
    ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_atim.tv_sec, 1234567890);
    EXPECT_EQ(st.st_atim.tv_nsec, 111);
    EXPECT_EQ(st.st_mtim.tv_sec, 1234567899);
    EXPECT_EQ(st.st_mtim.tv_nsec, 222);
    sa.valid = 112;
    ASSERT_EQ(sa.valid, SETATTR_ATIME | SETATTR_MTIME | SETATTR_CTIME);
    ASSERT_EQ(Peer::lerr(p.rpc(sa)), 0);
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_GT(st.st_atim.tv_sec, time(nullptr) - 60);
    EXPECT_GT(st.st_mtim.tv_sec, time(nullptr) - 60);
}

// ---------------------------------------------------------------- dirs

TEST_F(ExportTest, ReaddirCookiesStableAndEntriesFit) {
    std::set<std::string> want = {".", "..", "a", "hello.txt"};
    for (int i = 0; i < 300; i++) {
        std::string n = "file-with-a-longish-name-" + std::to_string(i);
        spit(root / n, "");
        want.insert(n);
    }
    spit(root / "hello.txt", "");
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY | 0200000), 0);
    std::multiset<std::string> got;
    uint64_t off = 0;
    const uint32_t count = 500;
    for (int rounds = 0; rounds < 1000; rounds++) {
        auto r = p.rpc(Treaddir{1, off, count});
        ASSERT_TRUE(holds<Rreaddir>(r)) << Peer::lerr(r);
        const std::string& d = std::get<Rreaddir>(r.msg).data.bytes;
        EXPECT_LE(d.size(), count);
        if (d.empty()) break;
        size_t pos = 0;
        Dirent e;
        while (pos < d.size()) {
            ASSERT_TRUE(parse_dirent(d, pos, e));
            got.insert(e.name);
            off = e.offset;
            if (e.name == "a") { EXPECT_EQ(e.qid.type, QTDIR); }
        }
    }
    EXPECT_EQ(got.size(), want.size());
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
    // Re-reading from 0 gives the same first entries (cookies are stable).
    auto a = p.rpc(Treaddir{1, 0, count});
    auto b = p.rpc(Treaddir{1, 0, count});
    EXPECT_EQ(std::get<Rreaddir>(a.msg).data, std::get<Rreaddir>(b.msg).data);
    // Too small for one entry: an error, not a fake end of directory.
    EXPECT_EQ(Peer::lerr(p.rpc(Treaddir{1, 0, 10})), EINVAL);
}

TEST_F(ExportTest, MkdirRenameRenameatUnlinkat) {
    Peer p(root);
    p.version_attach();
    auto r = p.rpc(Tmkdir{0, "d", 0750, 0});
    ASSERT_TRUE(holds<Rmkdir>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rmkdir>(r.msg).qid.type, QTDIR);
    struct stat st;
    ASSERT_EQ(stat((root / "d").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0750u);
    // A fid inside d, then d is renamed: the fid still works for
    // parent+name operations (Tremove needs the new path).
    ASSERT_EQ(p.walk(0, 1, {"d"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tlcreate{1, "f", O_WRONLY, 0644, 0})), 0);  // fid 1 is now d/f
    ASSERT_EQ(Peer::lerr(p.rpc(Trenameat{0, "d", 0, "e"})), 0);
    EXPECT_TRUE(fs::exists(root / "e" / "f"));
    ASSERT_EQ(p.walk(0, 2, {"a"}), 0);
    ASSERT_EQ(p.walk(0, 3, {"e", "f"}), 0);
    // Trename: move e/f into a as g.
    ASSERT_EQ(Peer::lerr(p.rpc(Trename{3, 2, "g"})), 0);
    EXPECT_TRUE(fs::exists(root / "a" / "g"));
    EXPECT_FALSE(fs::exists(root / "e" / "f"));
    // fid 1 (old d/f) follows the rename: removing it removes a/g.
    ASSERT_EQ(Peer::lerr(p.rpc(Tremove{1})), 0);
    EXPECT_FALSE(fs::exists(root / "a" / "g"));
    EXPECT_EQ(p.clunk(1), EBADF);  // Tremove clunked it
    // unlinkat: a directory needs AT_REMOVEDIR.
    EXPECT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "e", 0})), EISDIR);
    ASSERT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "e", AT_REMOVEDIR_9P})), 0);
    EXPECT_FALSE(fs::exists(root / "e"));
    EXPECT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "e", AT_REMOVEDIR_9P})), ENOENT);
    // Tremove of a non-empty dir fails but still clunks.
    ASSERT_EQ(p.walk(0, 4, {"a"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tremove{4})), ENOTEMPTY);
    EXPECT_EQ(p.clunk(4), EBADF);
}

TEST_F(ExportTest, SymlinkReadlinkLinkMknodStatfs) {
    Peer p(root);
    p.version_attach();
    auto r = p.rpc(Tsymlink{0, "sl", "a/hello.txt", 0});
    ASSERT_TRUE(holds<Rsymlink>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rsymlink>(r.msg).qid.type, QTSYMLINK);
    char buf[100] = {};
    ASSERT_GT(readlink((root / "sl").c_str(), buf, sizeof buf), 0);
    EXPECT_STREQ(buf, "a/hello.txt");
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Tlink{0, 1, "hard"})), 0);
    struct stat a, b;
    ASSERT_EQ(stat((root / "hard").c_str(), &a), 0);
    ASSERT_EQ(stat((root / "a" / "hello.txt").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_nlink, 2u);
    r = p.rpc(Tmknod{0, "fifo", S_IFIFO | 0600, 0, 0, 0});
    ASSERT_TRUE(holds<Rmknod>(r)) << Peer::lerr(r);
    ASSERT_EQ(lstat((root / "fifo").c_str(), &a), 0);
    EXPECT_TRUE(S_ISFIFO(a.st_mode));
    // Opening a FIFO never blocks a worker (no writer exists).
    ASSERT_EQ(p.walk(0, 2, {"fifo"}), 0);
    EXPECT_EQ(p.lopen(2, O_RDONLY), 0);
    if (geteuid() == 0) {
        // A device node can be made but never opened through the export.
        r = p.rpc(Tmknod{0, "null", S_IFCHR | 0666, 1, 3, 0});
        ASSERT_TRUE(holds<Rmknod>(r)) << Peer::lerr(r);
        ASSERT_EQ(p.walk(0, 3, {"null"}), 0);
        EXPECT_EQ(p.lopen(3, O_RDWR), EPERM);
    }
    r = p.rpc(Tstatfs{0});
    ASSERT_TRUE(holds<Rstatfs>(r));
    EXPECT_GT(std::get<Rstatfs>(r.msg).bsize, 0u);
    EXPECT_EQ(std::get<Rstatfs>(r.msg).namelen, 255u);
}

// ---------------------------------------------------------------- xattr

TEST_F(ExportTest, XattrSetGetListRemove) {
    if (setxattr((root / "a" / "hello.txt").c_str(), "user.probe", "1", 1, 0) != 0)
        GTEST_SKIP() << "no user xattrs on " << root << ": " << strerror(errno);
    removexattr((root / "a" / "hello.txt").c_str(), "user.probe");
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Txattrcreate{1, "user.color", 4, 0})), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Twrite{1, 0, Data{"bl"}})), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Twrite{1, 2, Data{"ue"}})), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Twrite{1, 4, Data{"x"}})), ENOSPC);  // beyond the size
    ASSERT_EQ(p.clunk(1), 0);
    char v[16] = {};
    ASSERT_EQ(getxattr((root / "a" / "hello.txt").c_str(), "user.color", v, sizeof v), 4);
    EXPECT_STREQ(v, "blue");
    // XATTR_CREATE on an existing attribute fails at clunk.
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Txattrcreate{1, "user.color", 1, XATTR_CREATE})), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Twrite{1, 0, Data{"r"}})), 0);
    EXPECT_EQ(p.clunk(1), EEXIST);
    // Read it back through xattrwalk.
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    auto r = p.rpc(Txattrwalk{1, 2, "user.color"});
    ASSERT_TRUE(holds<Rxattrwalk>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rxattrwalk>(r.msg).size, 4u);
    EXPECT_EQ(p.read(2, 0, 100), "blue");
    EXPECT_EQ(p.read(2, 2, 100), "ue");
    ASSERT_EQ(p.clunk(2), 0);
    // List ("").
    r = p.rpc(Txattrwalk{1, 2, ""});
    ASSERT_TRUE(holds<Rxattrwalk>(r));
    std::string list = p.read(2, 0, 1000);
    EXPECT_NE(list.find(std::string("user.color\0", 11)), std::string::npos);
    ASSERT_EQ(p.clunk(2), 0);
    // Missing attribute.
    EXPECT_EQ(Peer::lerr(p.rpc(Txattrwalk{1, 2, "user.none"})), ENODATA);
    // Size 0 without XATTR_REPLACE sets an empty value (setxattr(..., "", 0, 0)).
    ASSERT_EQ(p.walk(0, 3, {"a", "hello.txt"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Txattrcreate{3, "user.empty", 0, 0})), 0);
    ASSERT_EQ(p.clunk(3), 0);
    EXPECT_EQ(getxattr((root / "a" / "hello.txt").c_str(), "user.empty", v, sizeof v), 0);
    // Size 0 with XATTR_REPLACE removes (how removexattr reaches a 9P server).
    ASSERT_EQ(p.walk(0, 3, {"a", "hello.txt"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Txattrcreate{3, "user.color", 0, XATTR_REPLACE})), 0);
    ASSERT_EQ(p.clunk(3), 0);
    EXPECT_LT(getxattr((root / "a" / "hello.txt").c_str(), "user.color", v, sizeof v), 0);
    // A huge announced size is refused up front.
    ASSERT_EQ(p.walk(0, 3, {"a", "hello.txt"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Txattrcreate{3, "user.big", 1ull << 40, 0})), E2BIG);
}

// ---------------------------------------------------------------- locks

// POSIX locks belong to the remote process (client_id, proc_id), not to the
// fid: two fids of one process never conflict (SQLite relies on it), two
// processes do; a whole-file unlock or the clunk of the last fid that locked
// releases; contention never blocks a worker.
TEST_F(ExportTest, LocksBelongToTheRemoteProcessAndNeverBlock) {
    Peer p(root);
    p.version_attach();
    for (uint32_t fid : {1u, 2u, 3u}) {
        ASSERT_EQ(p.walk(0, fid, {"a", "hello.txt"}), 0);
        ASSERT_EQ(p.lopen(fid, O_RDWR), 0);
    }
    auto lock = [&](uint32_t fid, uint8_t type, uint32_t flags, uint32_t proc) {
        auto r = p.rpc(Tlock{fid, type, flags, 0, 10, proc, "host"});
        EXPECT_TRUE(holds<Rlock>(r)) << Peer::lerr(r);
        return holds<Rlock>(r) ? int(std::get<Rlock>(r.msg).status) : -1;
    };
    EXPECT_EQ(lock(1, LOCK_TYPE_WRLCK, 0, 99), LOCK_SUCCESS);
    EXPECT_EQ(lock(2, LOCK_TYPE_WRLCK, 0, 99), LOCK_SUCCESS);  // same process, other fid
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(lock(3, LOCK_TYPE_WRLCK, LOCK_FLAGS_BLOCK, 100), LOCK_BLOCKED);  // other process
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    // the same name on another client is another process
    auto r = p.rpc(Tlock{3, LOCK_TYPE_WRLCK, 0, 0, 10, 99, "otherhost"});
    ASSERT_TRUE(holds<Rlock>(r));
    EXPECT_EQ(std::get<Rlock>(r.msg).status, LOCK_BLOCKED);
    r = p.rpc(Tgetlock{3, LOCK_TYPE_WRLCK, 0, 0, 7, "host"});
    ASSERT_TRUE(holds<Rgetlock>(r));
    EXPECT_EQ(std::get<Rgetlock>(r.msg).type, LOCK_TYPE_WRLCK);
    EXPECT_EQ(std::get<Rgetlock>(r.msg).length, 10u);
    // the owner itself sees no conflict with its own lock
    r = p.rpc(Tgetlock{2, LOCK_TYPE_WRLCK, 0, 0, 99, "host"});
    EXPECT_EQ(std::get<Rgetlock>(r.msg).type, LOCK_TYPE_UNLCK);
    // Non-overlapping range: free.
    r = p.rpc(Tgetlock{3, LOCK_TYPE_WRLCK, 10, 5, 7, "host"});
    EXPECT_EQ(std::get<Rgetlock>(r.msg).type, LOCK_TYPE_UNLCK);
    // Clunking one of the owner's fids keeps the lock (the other still locked
    // through it); a whole-file unlock (what a client sends on close) frees.
    ASSERT_EQ(p.clunk(1), 0);
    EXPECT_EQ(lock(3, LOCK_TYPE_WRLCK, 0, 100), LOCK_BLOCKED);
    r = p.rpc(Tlock{2, LOCK_TYPE_UNLCK, 0, 0, 0, 99, "host"});
    EXPECT_EQ(std::get<Rlock>(r.msg).status, LOCK_SUCCESS);
    EXPECT_EQ(lock(3, LOCK_TYPE_WRLCK, 0, 100), LOCK_SUCCESS);
    // Clunking the holder's last fid releases its locks.
    ASSERT_EQ(p.clunk(3), 0);
    EXPECT_EQ(lock(2, LOCK_TYPE_WRLCK, 0, 99), LOCK_SUCCESS);
    // A write lock needs a fid open for writing; an unopened fid is EBADF.
    ASSERT_EQ(p.walk(0, 4, {"a", "hello.txt"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{4, LOCK_TYPE_WRLCK, 0, 0, 0, 1, ""})), EBADF);
    ASSERT_EQ(p.lopen(4, O_RDONLY), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{4, LOCK_TYPE_WRLCK, 0, 0, 0, 1, ""})), EBADF);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{4, LOCK_TYPE_RDLCK, 0, 0, 0, 1, ""})), 0);
}

// ---------------------------------------------------------------- duct extension

// The extension's messages exist only in a session that negotiated it: in a
// plain .L session they are answered like a type we do not know, and the
// flock bit of Tlock is refused rather than read as a POSIX lock.
TEST_F(ExportTest, DuctExtensionOnlyWhenNegotiated) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDWR), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{1, 0, 0, 100})), ENOSYS);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlseek{1, 0, SEEK_DATA})), ENOSYS);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "a", 0, "z", RENAME_NOREPLACE})), ENOSYS);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{1, LOCK_TYPE_WRLCK, LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"})), EINVAL);
    EXPECT_EQ(fs::file_size(root / "a" / "hello.txt"), 13u);
    EXPECT_TRUE(fs::exists(root / "a"));
    // The same session, renegotiated with the extension, has them.
    p.version_attach(0, Peer::kDuct);
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDWR), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{1, 0, 0, 100})), 0);
    EXPECT_EQ(fs::file_size(root / "a" / "hello.txt"), 100u);
    // ... and a 9P2000 session has neither them nor .L's messages.
    p.d = Dialect::P2000;
    auto r = p.rpc(Tversion{8192, "9P2000"});
    ASSERT_EQ(std::get<Rversion>(r.msg).version, "9P2000");
    ASSERT_EQ(Peer::ename(p.rpc(Tattach{0, NOFID, "root", "", {}})), "");
    ASSERT_EQ(Peer::ename(p.rpc(Twalk{0, 1, {"a", "hello.txt"}})), "");
    EXPECT_EQ(Peer::ename(p.rpc(Tfallocate{1, 0, 0, 200})), errstr_of(ENOSYS));
}

// Twalkattr: walk(5) plus the final file's attributes and the xattrs it
// lacks; a partial walk makes no newfid; a plain .L session has no such
// message.
TEST_F(ExportTest, DuctWalkattrWalksAndStats) {
    Peer p(root);
    p.version_attach();
    EXPECT_EQ(Peer::lerr(p.rpc(Twalkattr{0, 1, {"a"}})), ENOSYS);
    p.version_attach(0, Peer::kDuct);
    auto r = p.rpc(Twalkattr{0, 1, {"a", "hello.txt"}});
    ASSERT_EQ(Peer::lerr(r), 0);
    auto& w = std::get<Rwalkattr>(r.msg);
    ASSERT_EQ(w.wqid.size(), 2u);
    struct stat st;
    ASSERT_EQ(lstat((root / "a" / "hello.txt").c_str(), &st), 0);
    EXPECT_EQ(w.qid, w.wqid[1]);
    EXPECT_EQ(w.valid, GETATTR_BASIC);
    EXPECT_EQ(w.mode, st.st_mode);
    EXPECT_EQ(w.size, uint64_t(st.st_size));
    EXPECT_EQ(w.mtime_sec, uint64_t(st.st_mtim.tv_sec));
    // As Tgetattr of the new fid says.
    auto g = std::get<Rgetattr>(p.rpc(Tgetattr{1, GETATTR_ALL}).msg);
    Rgetattr fromw;
    copy_attrs(w, fromw);
    EXPECT_EQ(fromw, g);
    // No capability yet; one set on disk clears the bit (where it can be set).
    EXPECT_EQ(w.xnone & XNONE_CAPABILITY, XNONE_CAPABILITY);
    const char cap[] = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    if (setxattr((root / "a" / "hello.txt").c_str(), "security.capability", cap, 20, 0) == 0) {
        auto r2 = p.rpc(Twalkattr{0, 2, {"a", "hello.txt"}});
        ASSERT_EQ(Peer::lerr(r2), 0);
        EXPECT_EQ(std::get<Rwalkattr>(r2.msg).xnone & XNONE_CAPABILITY, 0u);
    }
    // Partial: the qids walked, no newfid (a Tclunk of it fails).
    auto r3 = p.rpc(Twalkattr{0, 3, {"a", "nothing"}});
    ASSERT_EQ(Peer::lerr(r3), 0);
    EXPECT_EQ(std::get<Rwalkattr>(r3.msg).wqid.size(), 1u);
    EXPECT_EQ(std::get<Rwalkattr>(r3.msg).valid, 0u);
    EXPECT_EQ(Peer::lerr(p.rpc(Tclunk{3})), EBADF);
    EXPECT_EQ(Peer::lerr(p.rpc(Twalkattr{0, 3, {"nothing"}})), ENOENT);
    EXPECT_EQ(Peer::lerr(p.rpc(Twalkattr{0, 3, {"a/b"}})), EINVAL);
}

// fallocate(2) on the fid's open file, every mode the exported file system
// has, with its own errno: each case is run on a twin file locally too.
TEST_F(ExportTest, DuctFallocateAnswersAsTheFileSystemDoes) {
    Peer p(root);
    p.version_attach(0, Peer::kDuct);
    struct Case { const char* n; int mode; uint64_t off, len; };
    const Case cases[] = {{"extend", 0, 0, 1 << 20},
                          {"inside", 0, 2, 3},
                          {"keep size", FALLOC_FL_KEEP_SIZE, 0, 1 << 20},
                          {"punch hole", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192},
                          {"zero range", FALLOC_FL_ZERO_RANGE, 1, 3},
                          {"punch without keep", FALLOC_FL_PUNCH_HOLE, 0, 1},
                          {"past 4GiB", 0, 5ull << 30, 4096},
                          {"bogus mode", 0x4000, 0, 1}};
    uint32_t fid = 10;
    for (const Case& k : cases) {
        SCOPED_TRACE(k.n);
        std::string data(16384, 'd');
        spit(root / "remote", data);
        spit(root / "local", data);
        ASSERT_EQ(p.walk(0, fid, {"remote"}), 0);
        ASSERT_EQ(p.lopen(fid, O_RDWR), 0);
        int got = Peer::lerr(p.rpc(Tfallocate{fid, uint32_t(k.mode), k.off, k.len}));
        int want = 0;
        {
            int fd = open((root / "local").c_str(), O_RDWR);
            ASSERT_GE(fd, 0);
            if (fallocate(fd, k.mode, off_t(k.off), off_t(k.len)) != 0) want = errno;
            close(fd);
        }
        EXPECT_EQ(got, want) << strerror(got) << " vs " << strerror(want);
        struct stat a, b;
        ASSERT_EQ(stat((root / "remote").c_str(), &a), 0);
        ASSERT_EQ(stat((root / "local").c_str(), &b), 0);
        EXPECT_EQ(a.st_size, b.st_size);
        EXPECT_EQ(a.st_blocks, b.st_blocks);
        // (not the whole file: "past 4GiB" made it 5 GiB long)
        auto head = [](const fs::path& f) {
            std::string buf(16384, '\0');
            std::ifstream in(f, std::ios::binary);
            in.read(buf.data(), std::streamsize(buf.size()));
            buf.resize(size_t(in.gcount()));
            return buf;
        };
        EXPECT_EQ(head(root / "remote"), head(root / "local"));
        ASSERT_EQ(p.clunk(fid), 0);
        fid++;
    }
    // Not open for writing: fallocate(2) says EBADF; not open at all: EBADF.
    ASSERT_EQ(p.walk(0, 1, {"remote"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{1, 0, 0, 1})), EBADF);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{1, 0, 0, 1})), EBADF);
    // Offsets off_t cannot hold are EINVAL, never a wrapped negative.
    ASSERT_EQ(p.walk(0, 2, {"remote"}), 0);
    ASSERT_EQ(p.lopen(2, O_RDWR), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{2, 0, ~0ull, 1})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{2, 0, 0, 1ull << 63})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tfallocate{4242, 0, 0, 1})), EBADF);
}

// lseek(2) SEEK_DATA/SEEK_HOLE as the exported file system answers them.
TEST_F(ExportTest, DuctLseekFindsDataAndHoles) {
    {
        int fd = open((root / "sparse").c_str(), O_CREAT | O_RDWR, 0644);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(pwrite(fd, "x", 1, 1 << 20), 1);
        close(fd);
    }
    Peer p(root);
    p.version_attach(0, Peer::kDuct);
    ASSERT_EQ(p.walk(0, 1, {"sparse"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    int lfd = open((root / "sparse").c_str(), O_RDONLY);
    ASSERT_GE(lfd, 0);
    auto remote = [&](uint64_t off, int whence, uint64_t& out) {
        auto r = p.rpc(Tlseek{1, off, uint8_t(whence)});
        if (auto* l = std::get_if<Rlseek>(&r.msg)) out = l->offset;
        return Peer::lerr(r);
    };
    for (auto [off, whence] : std::vector<std::pair<uint64_t, int>>{
             {0, SEEK_DATA}, {0, SEEK_HOLE}, {4096, SEEK_DATA}, {1 << 20, SEEK_HOLE},
             {2 << 20, SEEK_DATA}, {2 << 20, SEEK_HOLE}, {0, SEEK_END}, {7, SEEK_SET}}) {
        SCOPED_TRACE(std::to_string(off) + " whence " + std::to_string(whence));
        uint64_t got = 0;
        int e = remote(off, whence, got);
        off_t want = lseek(lfd, off_t(off), whence);
        if (want < 0) {
            EXPECT_EQ(e, errno);
        } else {
            EXPECT_EQ(e, 0);
            EXPECT_EQ(got, uint64_t(want));
        }
    }
    close(lfd);
    uint64_t ignored;
    EXPECT_EQ(remote(0, SEEK_CUR, ignored), EINVAL);  // no file position in 9P
    EXPECT_EQ(remote(0, 9, ignored), EINVAL);
    EXPECT_EQ(remote(1ull << 63, SEEK_DATA, ignored), EINVAL);
    ASSERT_EQ(p.walk(0, 2, {"a"}), 0);
    ASSERT_EQ(p.lopen(2, O_RDONLY | O_DIRECTORY), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlseek{2, 0, SEEK_DATA})), EINVAL);  // a directory's position is Treaddir's
    ASSERT_EQ(p.walk(0, 3, {"sparse"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlseek{3, 0, SEEK_DATA})), EBADF);  // not open
}

// renameat2(2) flags, atomically on the exporting side; fids follow an
// exchange (both ways), which later path-based requests (Tremove) rely on.
TEST_F(ExportTest, DuctRenameat2NoreplaceAndExchange) {
    Peer p(root);
    p.version_attach(0, Peer::kDuct);
    spit(root / "x", "X");
    spit(root / "y", "Y");
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "x", 0, "y", RENAME_NOREPLACE})), EEXIST);
    EXPECT_EQ(slurp(root / "y"), "Y");
    ASSERT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "x", 0, "z", RENAME_NOREPLACE})), 0);
    EXPECT_EQ(slurp(root / "z"), "X");
    EXPECT_FALSE(fs::exists(root / "x"));
    // EXCHANGE of a file and a directory, with fids below both names.
    fs::create_directories(root / "d" / "sub");
    spit(root / "d" / "sub" / "f", "F");
    ASSERT_EQ(p.walk(0, 1, {"d", "sub", "f"}), 0);  // d/sub/f
    ASSERT_EQ(p.walk(0, 2, {"z"}), 0);              // z
    ASSERT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "d", 0, "z", RENAME_EXCHANGE})), 0);
    EXPECT_TRUE(fs::is_directory(root / "z"));
    EXPECT_EQ(slurp(root / "d"), "X");
    // fid 1 is now z/sub/f and fid 2 is d: Tremove works by those paths.
    ASSERT_EQ(Peer::lerr(p.rpc(Tremove{1})), 0);
    EXPECT_FALSE(fs::exists(root / "z" / "sub" / "f"));
    ASSERT_EQ(Peer::lerr(p.rpc(Tremove{2})), 0);
    EXPECT_FALSE(fs::exists(root / "d"));
    EXPECT_TRUE(fs::exists(root / "z" / "sub"));
    // Exchange with a missing name, bad names, unknown flags: the syscall's
    // or the name check's errno.
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "z", 0, "nothing", RENAME_EXCHANGE})), ENOENT);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "z", 0, "y", RENAME_EXCHANGE | RENAME_NOREPLACE})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "z", 0, "y", 0x80})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "..", 0, "q", 0})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "z", 0, "a/b", 0})), EINVAL);
    ASSERT_EQ(p.walk(0, 3, {"y"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{3, "q", 0, "r", 0})), ENOTDIR);
    EXPECT_EQ(Peer::lerr(p.rpc(Trenameat2{4242, "q", 0, "r", 0})), EBADF);
    // No flags is a plain rename.
    ASSERT_EQ(Peer::lerr(p.rpc(Trenameat2{0, "y", 0, "w", 0})), 0);
    EXPECT_EQ(slurp(root / "w"), "Y");
}

// flock(2) on the fid's own open file: two fids conflict like two opens,
// the exporting side's own flock(2) callers see it, clunk releases it, and
// a contended lock answers LOCK_BLOCKED at once even when asked to block.
TEST_F(ExportTest, DuctFlockIsARealFlockOfTheFidsOpenFile) {
    Peer p(root);
    p.version_attach(0, Peer::kDuct);
    const std::string path = (root / "a" / "hello.txt").string();
    for (uint32_t fid : {1u, 2u}) {
        ASSERT_EQ(p.walk(0, fid, {"a", "hello.txt"}), 0);
        ASSERT_EQ(p.lopen(fid, O_RDONLY), 0);
    }
    auto lock = [&](uint32_t fid, uint8_t type, uint32_t more = 0) {
        auto r = p.rpc(Tlock{fid, type, LOCK_FLAGS_FLOCK | more, 0, 0, 0, "duct"});
        EXPECT_TRUE(holds<Rlock>(r)) << Peer::lerr(r);
        return holds<Rlock>(r) ? int(std::get<Rlock>(r.msg).status) : -1;
    };
    auto local = [&](int op) {
        int fd = open(path.c_str(), O_RDONLY);
        int r = flock(fd, op | LOCK_NB) == 0 ? 0 : errno;
        close(fd);
        return r;
    };
    EXPECT_EQ(lock(1, LOCK_TYPE_WRLCK), LOCK_SUCCESS);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(lock(2, LOCK_TYPE_WRLCK, LOCK_FLAGS_BLOCK), LOCK_BLOCKED);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(lock(2, LOCK_TYPE_RDLCK), LOCK_BLOCKED);
    EXPECT_EQ(local(LOCK_SH), EWOULDBLOCK);  // seen on the exporting side
    EXPECT_EQ(lock(1, LOCK_TYPE_UNLCK), LOCK_SUCCESS);
    EXPECT_EQ(local(LOCK_EX), 0);
    EXPECT_EQ(lock(2, LOCK_TYPE_RDLCK), LOCK_SUCCESS);
    EXPECT_EQ(lock(1, LOCK_TYPE_RDLCK), LOCK_SUCCESS);  // shared with shared
    EXPECT_EQ(local(LOCK_SH), 0);
    EXPECT_EQ(local(LOCK_EX), EWOULDBLOCK);
    EXPECT_EQ(lock(1, LOCK_TYPE_WRLCK), LOCK_BLOCKED);  // upgrade against fid 2's
    // POSIX locks are another kind: they never conflict with flock.
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{1, LOCK_TYPE_RDLCK, 0, 0, 0, 7, "host"})), 0);
    // Clunk releases (what a FUSE release becomes).
    ASSERT_EQ(p.clunk(2), 0);
    ASSERT_EQ(p.clunk(1), 0);
    EXPECT_EQ(local(LOCK_EX), 0);
    // Unopened and unknown fids, bad types.
    ASSERT_EQ(p.walk(0, 3, {"a", "hello.txt"}), 0);
    auto r = p.rpc(Tlock{3, LOCK_TYPE_WRLCK, LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"});
    EXPECT_EQ(Peer::lerr(r), EBADF);
    ASSERT_EQ(p.lopen(3, O_RDONLY), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{3, 7, LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"})), EINVAL);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{4242, LOCK_TYPE_WRLCK, LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"})), EBADF);
    // A teardown (the peer's mount closed) drops them too.
    EXPECT_EQ(lock(3, LOCK_TYPE_WRLCK), LOCK_SUCCESS);
    EXPECT_EQ(local(LOCK_SH), EWOULDBLOCK);
    p.srv->teardown();
    EXPECT_EQ(local(LOCK_EX), 0);
}

// ---------------------------------------------------------------- flush

TEST_F(ExportTest, FlushUnknownTagAnsweredAtOnce) {
    Peer p(root);
    p.version_attach();
    auto r = p.rpc(Tflush{777});
    EXPECT_TRUE(holds<Rflush>(r));
}

TEST_F(ExportTest, FlushAnswersAfterTheFlushedRequestAndNeverTwice) {
    spit(root / "data", std::string(4096, 'd'));
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"data"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    int answered = 0, flushed_first = 0;
    for (int i = 0; i < 200; i++) {
        uint16_t t = uint16_t(1000 + 2 * i), ft = uint16_t(t + 1);
        p.send(t, Tread{1, 0, 4096});
        p.send(ft, Tflush{t});
        auto fr = p.wait(ft);
        EXPECT_TRUE(holds<Rflush>(fr));
        // Either the read was answered before the Rflush, or never.
        auto ord = p.order();
        auto it_r = std::find(ord.begin(), ord.end(), t);
        auto it_f = std::find(ord.begin(), ord.end(), ft);
        ASSERT_NE(it_f, ord.end());
        if (it_r != ord.end()) {
            EXPECT_LT(it_r - ord.begin(), it_f - ord.begin());
            answered++;
            auto rr = p.wait(t);
            EXPECT_TRUE(holds<Rread>(rr));
        } else {
            flushed_first++;
        }
        EXPECT_EQ(std::count(ord.begin(), ord.end(), t), it_r != ord.end() ? 1 : 0);
        EXPECT_EQ(std::count(ord.begin(), ord.end(), ft), 1);
    }
    EXPECT_EQ(answered + flushed_first, 200);
}

// A request flushed while still queued is never run: with one worker busy
// on a backlog, a flushed Twrite either answered (and wrote) before the
// Rflush, or did not write at all.
TEST_F(ExportTest, FlushedQueuedRequestNeverRuns) {
    spit(root / "big", std::string(1 << 20, 'b'));
    spit(root / "target", "");
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"big"}), 0);
    ASSERT_EQ(p.lopen(1, O_RDONLY), 0);
    ASSERT_EQ(p.walk(0, 2, {"target"}), 0);
    ASSERT_EQ(p.lopen(2, O_WRONLY), 0);
    int never_ran = 0;
    for (int round = 0; round < 20; round++) {
        size_t seen = p.order().size();
        for (uint16_t t = 2000; t < 2060; t++) p.send(t, Tread{1, 0, 60000});
        uint16_t wt = 3000, ft = 3001;
        p.send(wt, Twrite{2, uint64_t(round), Data{"w"}});
        p.send(ft, Tflush{wt});
        EXPECT_TRUE(holds<Rflush>(p.wait(ft)));
        for (uint16_t t = 2000; t < 2060; t++) p.wait(t);
        auto ord = p.order();
        bool replied = std::find(ord.begin() + seen, ord.end(), wt) != ord.end();
        struct stat st;
        ASSERT_EQ(stat((root / "target").c_str(), &st), 0);
        if (replied) {
            EXPECT_TRUE(holds<Rwrite>(p.wait(wt)));
            EXPECT_EQ(st.st_size, round + 1);
        } else {
            never_ran++;
            EXPECT_LT(st.st_size, round + 1);
            // Keep the file length equal to the round count for the next check.
            ASSERT_EQ(truncate((root / "target").c_str(), round + 1), 0);
        }
        EXPECT_EQ(p.clunk(9999), EBADF);  // and the session is fine
    }
    RecordProperty("never_ran", never_ran);
    std::printf("flushed before running: %d of 20\n", never_ran);
}

// ---------------------------------------------------------------- malformed

TEST_F(ExportTest, MalformedFramesAnsweredWithoutCrashing) {
    Peer p(root);
    p.version_attach();
    // Size field larger than the frame.
    std::string f = encode(Fcall{50, Twalk{0, 1, {"a"}}}, Dialect::L);
    f[0] = char(f.size() + 5);
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(50)), EPROTO);
    // Truncated in the middle of a name.
    f = encode(Fcall{51, Twalk{0, 1, {"abcdef"}}}, Dialect::L);
    f.resize(f.size() - 3);
    f[0] = char(f.size());
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(51)), EPROTO);
    // nwname 17 > MAXWELEM.
    f = encode(Fcall{52, Twalk{0, 1, {}}}, Dialect::L);
    f[f.size() - 2] = 17;
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(52)), EPROTO);
    // Twrite whose count claims more than the frame holds.
    f = encode(Fcall{53, Twrite{0, 0, Data{"xy"}}}, Dialect::L);
    f[7 + 4 + 8] = char(200);
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(53)), EPROTO);
    // Unknown type and an R-message: ENOSYS.
    f = encode(Fcall{54, Tclunk{0}}, Dialect::L);
    f[4] = char(200);
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(54)), ENOSYS);
    f[4] = char(Rclunk::kType);
    f[5] = 55;
    p.send_raw(f);
    EXPECT_EQ(Peer::lerr(p.wait(55)), ENOSYS);
    // A 9P2000-only message in a .L session: ENOSYS.
    EXPECT_EQ(Peer::lerr(p.rpc(Tstat{0})), ENOSYS);
    // Frames too short for a tag are dropped; a frame bigger than msize is refused.
    p.send_raw(std::string("\x03\x00\x00", 3));
    p.send_raw(std::string());
    std::string big = encode(Fcall{56, Twrite{0, 0, Data{std::string(70000, 'x')}}}, Dialect::L);
    p.send_raw(big);
    EXPECT_EQ(Peer::lerr(p.wait(56)), EPROTO);
    // Still alive and well.
    EXPECT_EQ(p.walk(0, 9, {"a"}), 0);
    // Fids of unknown numbers.
    EXPECT_EQ(Peer::lerr(p.rpc(Tgetattr{4242, GETATTR_ALL})), EBADF);
    EXPECT_EQ(Peer::lerr(p.rpc(Tclunk{4242})), EBADF);
}

// Mutated valid frames: no crash, nothing outside the root touched, and
// the server still answers afterwards.
TEST_F(ExportTest, MutatedFramesFuzz) {
    ASSERT_EQ(symlink((base / "outside").c_str(), (root / "abs").c_str()), 0);
    Peer p(root);
    p.version_attach(0, Peer::kDuct);  // the extension's handlers too
    std::vector<Message> seeds = {
        Twalk{0, 1, {"a", "hello.txt"}}, Twalk{0, 2, {"abs"}}, Tlopen{1, 2}, Tread{1, 0, 100},
        Twrite{1, 0, Data{"abc"}}, Tlcreate{0, "n", 0102, 0644, 0}, Tmkdir{0, "m", 0755, 0},
        Tsymlink{0, "s", "/etc", 0}, Trenameat{0, "a", 0, "b"}, Tunlinkat{0, "m", 0x200},
        Tgetattr{1, GETATTR_ALL}, Tsetattr{1, SETATTR_SIZE, 0, 0, 0, 3, 0, 0, 0, 0},
        Txattrwalk{1, 3, ""}, Txattrcreate{1, "user.x", 3, 0}, Treaddir{1, 0, 1000},
        Tlock{1, 1, 1, 0, 0, 1, "c"}, Tgetlock{1, 1, 0, 0, 1, "c"}, Tlink{0, 1, "l"},
        Tmknod{0, "k", S_IFIFO | 0644, 0, 0, 0}, Treadlink{2}, Tstatfs{0}, Tfsync{1, {}},
        Tclunk{1}, Tremove{2}, Tflush{3}, Trename{1, 0, "r"},
        Tfallocate{1, 3, 0, 4096}, Tlseek{1, 0, 3}, Trenameat2{0, "a", 0, "abs", 2},
        Tlock{1, 1, LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"}};
    uint32_t seed = 12345;
    auto rnd = [&] { return seed = seed * 1103515245u + 12345u, seed >> 8; };
    for (int i = 0; i < 20000; i++) {
        Fcall f;
        f.tag = uint16_t(rnd() % 64);
        f.msg = seeds[rnd() % seeds.size()];
        std::string fr = encode(f, Dialect::L);
        int flips = 1 + int(rnd() % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = 4 + rnd() % (fr.size() - 4);  // keep the size field mostly right
            fr[pos] = char(rnd());
        }
        if (rnd() % 8 == 0) fr.resize(rnd() % fr.size());
        if (fr.size() >= 4 && rnd() % 2) {
            uint32_t n = uint32_t(fr.size());
            memcpy(fr.data(), &n, 4);
        }
        if (fr.size() > 4 && uint8_t(fr[4]) == Tversion::kType) continue;  // keep the session
        p.send_raw(fr);
    }
    // Quiesce, then check the server still works and nothing escaped.
    p.srv->teardown();
    p.forget_replies();  // mutated tags may have collided with the ones below
    p.next_tag = 100;
    p.version_attach(0, Peer::kDuct);
    EXPECT_EQ(p.walk(0, 1, {}), 0);
    EXPECT_EQ(slurp(base / "outside" / "secret"), "top secret");
    size_t n = 0;
    for (auto& e : fs::directory_iterator(base)) n += (e.path() != root && e.path() != base / "outside");
    EXPECT_EQ(n, 0u);
    size_t m = 0;
    for (auto& e : fs::directory_iterator(base / "outside")) m += e.path().filename() != "secret";
    EXPECT_EQ(m, 0u);
}

// ---------------------------------------------------------------- lifecycle

TEST_F(ExportTest, InUseTeardownAndStop) {
    Peer p(root);
    EXPECT_FALSE(p.srv->in_use());
    p.version_attach();
    EXPECT_TRUE(p.srv->in_use());
    ASSERT_EQ(p.walk(0, 1, {"a"}), 0);
    ASSERT_EQ(p.clunk(1), 0);
    EXPECT_TRUE(p.srv->in_use());
    p.srv->teardown();
    EXPECT_FALSE(p.srv->in_use());
    EXPECT_EQ(p.walk(0, 1, {}), EBADF);
    // A new session after teardown.
    p.version_attach();
    EXPECT_TRUE(p.srv->in_use());
    p.srv->stop();
    p.send(900, Tclunk{0});
    EXPECT_TRUE(p.no_reply(900));
}

TEST_F(ExportTest, CreatedFilesBelongToTheAttachingUser) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    spit(root / "private", "root only");
    chmod((root / "private").c_str(), 0600);
    Peer p(root);
    p.version_attach(4321);
    auto r = p.rpc(Tlcreate{0, "mine", O_WRONLY, 0644, 4322});
    // fid 0 is now the file; walk from a fresh attach for the rest.
    ASSERT_TRUE(holds<Rlcreate>(r)) << Peer::lerr(r);
    Tattach a{10, NOFID, "", "", NUname{4321}};
    ASSERT_EQ(Peer::lerr(p.rpc(a)), 0);
    ASSERT_TRUE(holds<Rmkdir>(p.rpc(Tmkdir{10, "dir", 0755, 4322})));
    ASSERT_TRUE(holds<Rsymlink>(p.rpc(Tsymlink{10, "ln", "mine", 4322})));
    for (const char* n : {"mine", "dir", "ln"}) {
        struct stat st;
        ASSERT_EQ(lstat((root / n).c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 4321u) << n;
        EXPECT_EQ(st.st_gid, 4322u) << n;
    }
    // Permission checks are the user's: a root-only file cannot be read.
    ASSERT_EQ(p.walk(10, 11, {"private"}), 0);
    EXPECT_EQ(p.lopen(11, O_RDONLY), EACCES);
    // While a root attach can.
    Tattach ra{20, NOFID, "", "", NUname{0}};
    ASSERT_EQ(Peer::lerr(p.rpc(ra)), 0);
    ASSERT_EQ(p.walk(20, 21, {"private"}), 0);
    EXPECT_EQ(p.lopen(21, O_RDONLY), 0);
    // Interleaved requests of both users on every worker: each request acts
    // with its own fid's rights, never a previous request's.
    for (uint32_t i = 0; i < 40; i++) {
        ASSERT_EQ(p.walk(10, 100 + i, {"private"}), 0);
        ASSERT_EQ(p.walk(20, 200 + i, {"private"}), 0);
    }
    for (uint32_t i = 0; i < 40; i++) {
        p.send(uint16_t(3000 + i), Tlopen{100 + i, O_RDONLY});
        p.send(uint16_t(4000 + i), Tlopen{200 + i, O_RDONLY});
    }
    for (uint32_t i = 0; i < 40; i++) {
        EXPECT_EQ(Peer::lerr(p.wait(uint16_t(3000 + i))), EACCES);
        EXPECT_EQ(Peer::lerr(p.wait(uint16_t(4000 + i))), 0);
    }
}

// ---------------------------------------------------------------- 9P2000

class PlainTest : public ExportTest {
protected:
    void start(Peer& p) {
        auto r = p.rpc(Tversion{8216, "9P2000"});
        ASSERT_EQ(std::get<Rversion>(r.msg).version, "9P2000");
        p.d = Dialect::P2000;
        r = p.rpc(Tattach{0, NOFID, "glenda", "", {}});
        ASSERT_TRUE(holds<Rattach>(r)) << Peer::ename(r);
    }
    static std::vector<Stat> stats(const std::string& d) {
        std::vector<Stat> v;
        size_t pos = 0;
        while (pos < d.size()) {
            Stat s;
            EXPECT_TRUE(parse_stat(d, pos, s));
            v.push_back(s);
        }
        return v;
    }
};

TEST_F(PlainTest, CreateWriteReadStatWstatRemove) {
    Peer p(root);
    start(p);
    auto r = p.rpc(Twalk{0, 1, {}});
    r = p.rpc(Tcreate{1, "note", 0664, ORDWR});
    ASSERT_TRUE(holds<Rcreate>(r)) << Peer::ename(r);
    ASSERT_TRUE(holds<Rwrite>(p.rpc(Twrite{1, 0, Data{"hello plan 9"}})));
    EXPECT_EQ(p.read(1, 6, 100), "plan 9");
    // Creating an existing name fails with the Plan 9 string.
    p.rpc(Twalk{0, 2, {}});
    EXPECT_EQ(Peer::ename(p.rpc(Tcreate{2, "note", 0664, OWRITE})), "file already exists");
    // Walk errors are strings too.
    EXPECT_EQ(Peer::ename(p.rpc(Twalk{0, 3, {"nope"}})), "file does not exist");
    EXPECT_EQ(Peer::ename(p.rpc(Tlopen{0, 0})), errstr_of(ENOSYS));
    // Tstat: names for uid/gid, name, length, mode.
    r = p.rpc(Tstat{1});
    ASSERT_TRUE(holds<Rstat>(r));
    Stat s = std::get<Rstat>(r.msg).stat;
    EXPECT_EQ(s.name, "note");
    EXPECT_EQ(s.length, 12u);
    EXPECT_EQ(s.mode & 0777, 0664u);
    EXPECT_EQ(s.uid, geteuid() == 0 ? "root" : s.uid);
    EXPECT_FALSE(s.gid.empty());
    r = p.rpc(Tstat{0});
    EXPECT_EQ(std::get<Rstat>(r.msg).stat.name, "/");
    EXPECT_EQ(std::get<Rstat>(r.msg).stat.mode & DMDIR, DMDIR);
    // Twstat: rename + truncate + mtime, everything else "don't touch".
    Stat w = stat_keep();
    w.name = "renamed";
    w.length = 5;
    w.mtime = 1234567;
    ASSERT_TRUE(holds<Rwstat>(p.rpc(Twstat{1, w}))) << Peer::ename(p.rpc(Twstat{1, w}));
    EXPECT_FALSE(fs::exists(root / "note"));
    EXPECT_EQ(slurp(root / "renamed"), "hello");
    struct stat st;
    ASSERT_EQ(stat((root / "renamed").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtim.tv_sec, 1234567);
    EXPECT_EQ(st.st_mode & 0777, 0664u);
    // chmod.
    w = stat_keep();
    w.mode = 0600;
    ASSERT_TRUE(holds<Rwstat>(p.rpc(Twstat{1, w})));
    ASSERT_EQ(stat((root / "renamed").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // Renaming onto an existing name is refused; the directory bit cannot change.
    w = stat_keep();
    w.name = "a";
    EXPECT_EQ(Peer::ename(p.rpc(Twstat{1, w})), "file already exists");
    w = stat_keep();
    w.mode = DMDIR | 0777;
    EXPECT_TRUE(holds<Rerror>(p.rpc(Twstat{1, w})));
    w = stat_keep();
    w.name = "x/y";
    EXPECT_TRUE(holds<Rerror>(p.rpc(Twstat{1, w})));
    // Tremove (the fid follows the rename).
    ASSERT_TRUE(holds<Rremove>(p.rpc(Tremove{1})));
    EXPECT_FALSE(fs::exists(root / "renamed"));
    // Tremove failing still clunks.
    ASSERT_TRUE(holds<Rwalk>(p.rpc(Twalk{0, 4, {"a"}})));
    EXPECT_TRUE(holds<Rerror>(p.rpc(Tremove{4})));
    EXPECT_TRUE(holds<Rerror>(p.rpc(Tclunk{4})));
}

TEST_F(PlainTest, DirectoryReadsArePackedStatsWithOffsetRule) {
    for (int i = 0; i < 50; i++) spit(root / ("f" + std::to_string(i)), std::string(i, 'x'));
    Peer p(root);
    start(p);
    p.rpc(Twalk{0, 1, {}});
    auto r = p.rpc(Tcreate{1, "sub", DMDIR | 0755, OREAD});
    ASSERT_TRUE(holds<Rcreate>(r)) << Peer::ename(r);
    EXPECT_EQ(std::get<Rcreate>(r.msg).qid.type, QTDIR);
    EXPECT_TRUE(fs::is_directory(root / "sub"));
    p.rpc(Twalk{0, 2, {}});
    r = p.rpc(Topen{2, OREAD});
    ASSERT_TRUE(holds<Ropen>(r)) << Peer::ename(r);
    // Opening a directory for writing is refused.
    p.rpc(Twalk{0, 3, {}});
    EXPECT_TRUE(holds<Rerror>(p.rpc(Topen{3, OWRITE})));
    std::set<std::string> names;
    uint64_t off = 0;
    const uint32_t count = 300;  // a few records per read
    for (int i = 0; i < 200; i++) {
        std::string d = p.read(2, off, count);
        EXPECT_LE(d.size(), count);
        if (d.empty()) break;
        for (auto& s : stats(d)) {  // whole records only
            EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
            if (s.name == "sub") { EXPECT_EQ(s.mode & DMDIR, DMDIR); }
            if (s.name == "f7") { EXPECT_EQ(s.length, 7u); }
        }
        if (i == 1) {
            // Any offset but 0 or the end of the previous read is an error.
            auto bad = p.rpc(Tread{2, off + 1, count});
            EXPECT_TRUE(holds<Rerror>(bad));
        }
        off += d.size();
    }
    EXPECT_EQ(names.size(), 50u + 2);  // f0..f49, a, sub ("." and ".." never)
    EXPECT_TRUE(names.count("a") && names.count("sub") && names.count("f49"));
    EXPECT_FALSE(names.count(".") || names.count(".."));
    // Offset 0 starts again.
    std::string again = p.read(2, 0, 8168);
    EXPECT_FALSE(again.empty());
    // A count too small for one record is an error, not the end.
    EXPECT_TRUE(holds<Rerror>(p.rpc(Tread{2, 0, 10})));
}

// A 9P2000 uname is a name from the peer's world: the session acts with
// the server's rights, even for a name that exists here ("nobody").
TEST_F(PlainTest, UnameDoesNotSwitchCredentials) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    fs::create_directories(root / "locked");
    chmod((root / "locked").c_str(), 0755);
    Peer p(root);
    auto r = p.rpc(Tversion{8216, "9P2000"});
    p.d = Dialect::P2000;
    ASSERT_TRUE(holds<Rattach>(p.rpc(Tattach{0, NOFID, "nobody", "", {}})));
    p.rpc(Twalk{0, 1, {"locked"}});
    r = p.rpc(Tcreate{1, "f", 0644, OWRITE});
    EXPECT_TRUE(holds<Rcreate>(r)) << Peer::ename(r);
    struct stat st;
    ASSERT_EQ(stat((root / "locked" / "f").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(PlainTest, OpenModesTruncAndRclose) {
    spit(root / "t", "contents");
    Peer p(root);
    start(p);
    p.rpc(Twalk{0, 1, {"t"}});
    ASSERT_TRUE(holds<Ropen>(p.rpc(Topen{1, OWRITE | OTRUNC})));
    EXPECT_EQ(slurp(root / "t"), "");
    EXPECT_TRUE(holds<Rerror>(p.rpc(Tread{1, 0, 10})));  // opened write-only
    p.rpc(Twalk{0, 2, {"t"}});
    ASSERT_TRUE(holds<Ropen>(p.rpc(Topen{2, OREAD | ORCLOSE})));
    EXPECT_TRUE(fs::exists(root / "t"));
    ASSERT_TRUE(holds<Rclunk>(p.rpc(Tclunk{2})));
    EXPECT_FALSE(fs::exists(root / "t"));
    p.rpc(Twalk{0, 3, {}});
    EXPECT_TRUE(holds<Rerror>(p.rpc(Topen{3, 0x80})));  // unknown mode bits
}

}  // namespace
