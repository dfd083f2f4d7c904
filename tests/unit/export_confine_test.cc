// export confinement and robustness (issue 9, items 5 and 11, and item 14's
// export side): a real Server over a real temporary directory, driven by
// encoded 9P frames, as in export_test.cc.
//  - opens never block a worker on the kind of file (FIFO via Tlcreate,
//    Tlopen, Topen) and never open a device node;
//  - ".." from a directory a local program moved out of the export;
//  - a request of a session a Tversion ended cannot add fids to the next;
//  - path-based operations check that the path still names the fid's file;
//  - lock owners are released when their fid is replaced;
//  - xattr buffers are bounded per session and per process;
//  - a walk never enters the duct's own mount.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "export/fid.h"
#include "export/server.h"
#include "proto/codec.h"
#include "raw_peer.h"
#include "proto/oflags.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;

namespace {

using test::slurp;
using test::spit;

// A raw 9P client of one Server (raw_peer.h), optionally told our own
// mount's device (item 14).
class Peer : public test::RawPeer {
public:
    explicit Peer(const std::string& root, std::shared_ptr<std::atomic<uint64_t>> own = nullptr)
        : RawPeer(options(root, std::move(own))) {}
    void version_attach(const std::string& version = "9P2000.L") { RawPeer::version_attach(0, version); }
    int lock(uint32_t fid, uint32_t proc, const std::string& client) {
        auto r = rpc(Tlock{fid, LOCK_TYPE_WRLCK, 0, 0, 0, proc, client});
        if (!holds<Rlock>(r)) return -lerr(r);
        return std::get<Rlock>(r.msg).status;
    }

private:
    static exp::ServerOptions options(const std::string& root, std::shared_ptr<std::atomic<uint64_t>> own) {
        auto o = test::server_options(root);
        o.own_mount_dev = std::move(own);
        return o;
    }
};

// Holds FIFOs open for reading and writing (which never blocks) from just
// before the Peer joins its workers until after: a worker blocked opening
// one (the bug) wakes, and so do the requests queued behind it, so a test
// that fails on a blocked worker still ends. Declare it before the Peer.
struct FifoUnblocker {
    std::vector<int> fds;
    void arm(Peer& p, std::vector<fs::path> fifos) {
        p.before_stop = [this, fifos] {
            for (auto& f : fifos) fds.push_back(open(f.c_str(), O_RDWR | O_NONBLOCK));
        };
    }
    ~FifoUnblocker() {
        for (int fd : fds)
            if (fd >= 0) close(fd);
    }
};

class ConfineTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-confine-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        base = tmpl;
        root = base / "root";
        fs::create_directories(root / "a" / "b");
        fs::create_directories(base / "outside");
        spit(base / "outside" / "secret", "top secret");
        spit(root / "a" / "hello.txt", "hello, world\n");
    }
    void TearDown() override { fs::remove_all(base); }
    fs::path base, root;
};

// ---------------------------------------------------------------- item 5

// Tlcreate of an existing FIFO opened it blocking: 8 of them pinned every
// worker and nothing was answered after. Now each is answered at once and
// the export still answers.
TEST_F(ConfineTest, FifoTlcreateAndTlopenNeverPinTheWorkers) {
    FifoUnblocker unblock;
    Peer p(root);
    unblock.arm(p, {root / "fifo", root / "lonely"});
    p.version_attach();
    auto r = p.rpc(Tmknod{0, "fifo", S_IFIFO | 0600, 0, 0, 0});
    ASSERT_TRUE(holds<Rmknod>(r)) << Peer::lerr(r);
    const int n = 8;  // twice the workers
    for (uint32_t i = 0; i < n; i++) ASSERT_EQ(p.walk(0, 10 + i, {}), 0);
    for (uint32_t i = 0; i < n; i++) ASSERT_EQ(p.walk(0, 30 + i, {"fifo"}), 0);
    for (uint32_t i = 0; i < n; i++)  // reads: a blocking open waits for a writer
        p.send(uint16_t(100 + i), Tlcreate{10 + i, "fifo", O_RDONLY, 0644, 0});
    for (uint32_t i = 0; i < n; i++) p.send(uint16_t(200 + i), Tlopen{30 + i, O_RDONLY});
    for (uint32_t i = 0; i < n; i++) {
        auto c = p.wait(uint16_t(100 + i));
        EXPECT_TRUE(holds<Rlcreate>(c)) << Peer::lerr(c);
        auto o = p.wait(uint16_t(200 + i));
        EXPECT_TRUE(holds<Rlopen>(o)) << Peer::lerr(o);
    }
    // A write-only open of a FIFO no one reads: ENXIO, at once (not a wait).
    ASSERT_TRUE(holds<Rmknod>(p.rpc(Tmknod{0, "lonely", S_IFIFO | 0600, 0, 0, 0})));
    ASSERT_EQ(p.walk(0, 50, {}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{50, "lonely", O_WRONLY, 0644, 0})), ENXIO);
    // And the export still answers.
    auto g = p.rpc(Tgetattr{0, GETATTR_BASIC});
    EXPECT_TRUE(holds<Rgetattr>(g));
}

// Tlcreate of an existing name opens it as walk + Tlopen would: contents
// kept, O_EXCL honoured, symlinks ELOOP, directories EISDIR and device nodes
// never opened (before, O_CREAT without O_EXCL opened the device itself).
TEST_F(ConfineTest, TlcreateOfAnExistingNameOpensItLikeTlopen) {
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a"}), 0);
    auto r = p.rpc(Tlcreate{1, "hello.txt", O_RDWR, 0600, 0});
    ASSERT_TRUE(holds<Rlcreate>(r)) << Peer::lerr(r);
    auto rd = p.rpc(Tread{1, 0, 100});
    ASSERT_TRUE(holds<Rread>(rd));
    EXPECT_EQ(std::get<Rread>(rd.msg).data.bytes, "hello, world\n");
    struct stat st;
    ASSERT_EQ(stat((root / "a" / "hello.txt").c_str(), &st), 0);
    EXPECT_NE(st.st_mode & 0777, 0600u) << "an existing file's mode is not the create's";
    ASSERT_EQ(p.walk(0, 2, {"a"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{2, "hello.txt", O_RDWR | O_EXCL, 0644, 0})), EEXIST);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{2, "b", O_RDONLY, 0644, 0})), EISDIR);
    ASSERT_EQ(symlink("hello.txt", (root / "a" / "link").c_str()), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{2, "link", O_RDONLY, 0644, 0})), ELOOP);
    if (geteuid() == 0) {
        r = p.rpc(Tmknod{2, "null", S_IFCHR | 0666, 1, 3, 0});
        ASSERT_TRUE(holds<Rmknod>(r)) << Peer::lerr(r);
        EXPECT_EQ(Peer::lerr(p.rpc(Tlcreate{2, "null", O_RDWR, 0644, 0})), EPERM);
    }
    // O_TRUNC on an existing file truncates it.
    ASSERT_EQ(p.walk(0, 3, {"a"}), 0);
    ASSERT_TRUE(holds<Rlcreate>(p.rpc(Tlcreate{3, "hello.txt", O_WRONLY | O_TRUNC, 0644, 0})));
    EXPECT_EQ(slurp(root / "a" / "hello.txt"), "");
}

// Plain 9P2000's Topen of a FIFO does not block either.
TEST_F(ConfineTest, FifoTopenNeverPinsTheWorkers) {
    FifoUnblocker unblock;
    ASSERT_EQ(mkfifo((root / "fifo").c_str(), 0666), 0);
    Peer p(root);
    unblock.arm(p, {root / "fifo"});
    p.version_attach("9P2000");
    for (uint32_t i = 0; i < 8; i++) ASSERT_EQ(p.walk(0, 10 + i, {"fifo"}), 0);
    for (uint32_t i = 0; i < 8; i++) p.send(uint16_t(100 + i), Topen{10 + i, OREAD});
    for (uint32_t i = 0; i < 8; i++) EXPECT_TRUE(holds<Ropen>(p.wait(uint16_t(100 + i))));
    EXPECT_TRUE(holds<Rstat>(p.rpc(Tstat{0})));
}

// ---------------------------------------------------------------- item 11a

// A directory the peer holds is moved out of the export by a local program:
// ".." from it must not climb into the host's tree.
TEST_F(ConfineTest, DotDotFromADirectoryMovedOutOfTheExport) {
    Peer p(root);
    p.version_attach();
    WQids q;
    ASSERT_EQ(p.walk(0, 1, {"a", "b"}), 0);
    ASSERT_EQ(p.walk(0, 2, {"a"}, &q), 0);
    WQids up;
    ASSERT_EQ(p.walk(1, 3, {".."}, &up), 0);  // still inside: fine
    EXPECT_EQ(up.back().path, q.back().path);
    ASSERT_EQ(rename((root / "a" / "b").c_str(), (base / "outside" / "b").c_str()), 0);
    EXPECT_EQ(p.walk(1, 4, {".."}), ENOENT);
    EXPECT_EQ(p.walk(1, 4, {"..", "secret"}), ENOENT);
    EXPECT_EQ(p.walk(1, 4, {"..", "..", "root"}), ENOENT);
    EXPECT_EQ(p.walk(4, 5, {}), EBADF);  // no fid was made
    // A partial walk stops at the ".." too: only the qids before it.
    fs::create_directories(base / "outside" / "b" / "c");
    EXPECT_EQ(p.walk(1, 4, {"c", "..", ".."}), -2);
    // Moved back in, ".." works again (the check is of where it is now).
    ASSERT_EQ(rename((base / "outside" / "b").c_str(), (root / "b2").c_str()), 0);
    WQids rq;
    ASSERT_EQ(p.walk(0, 6, {"."}, &rq), 0);
    ASSERT_EQ(p.walk(1, 7, {".."}, &up), 0);
    EXPECT_EQ(up.back().path, rq.back().path);
}

// ---------------------------------------------------------------- item 11b

// Tversion clears the fid table; a walk that was running in the old session
// must not add its newfid to the new one. Checked where it is decided: the
// table's generation (the server reads it with its epoch check).
TEST(FidTableGeneration, AnOldGenerationCannotAddOrReplace) {
    exp::FidTable t(16);
    int err = 0;
    uint64_t g0 = t.generation();
    ASSERT_TRUE(t.add(1, std::make_shared<exp::Fid>(), "", err, g0));
    auto held = t.get(1);
    t.clear();  // what version() does
    uint64_t g1 = t.generation();
    EXPECT_NE(g0, g1);
    EXPECT_FALSE(t.add(2, std::make_shared<exp::Fid>(), "x", err, g0));
    EXPECT_EQ(err, EBADF);
    EXPECT_EQ(t.get(2), nullptr);
    EXPECT_EQ(t.size(), 0u);
    ASSERT_TRUE(t.add(1, held, "", err, g1));
    EXPECT_FALSE(t.replace(1, held.get(), std::make_shared<exp::Fid>(), "y", g0));
    EXPECT_EQ(t.get(1), held);
    EXPECT_TRUE(t.replace(1, held.get(), std::make_shared<exp::Fid>(), "y", g1));
}

// The same through the server: walks queued behind a Tversion never leave
// fids in the session that follows it.
TEST_F(ConfineTest, WalksRacingATversionLeaveNoFidsInTheNewSession) {
    Peer p(root);
    p.version_attach();
    for (int round = 0; round < 20; round++) {
        for (uint16_t i = 0; i < 64; i++) p.send(uint16_t(1000 + i), Twalk{0, 100u + i, {"a", "b"}});
        auto r = p.rpc(Tversion{65536, "9P2000.L"});
        ASSERT_TRUE(holds<Rversion>(r));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let old walks finish
        EXPECT_FALSE(p.srv->in_use()) << "round " << round << ": an old walk added a fid";
        Tattach a{0, NOFID, "root", "", NUname{0}};
        ASSERT_TRUE(holds<Rattach>(p.rpc(a)));
    }
}

// ---------------------------------------------------------------- item 11c

// A rename over a file leaves the old file's fid remembering a path that now
// names the new file: Tremove through it must not remove the new file.
TEST_F(ConfineTest, RenameOverThenRemoveTheOldFidIsStale) {
    spit(root / "x", "new");
    spit(root / "y", "old");
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"x"}), 0);
    ASSERT_EQ(p.walk(0, 2, {"y"}), 0);
    ASSERT_EQ(Peer::lerr(p.rpc(Trenameat{0, "x", 0, "y"})), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tremove{2})), ESTALE);
    EXPECT_EQ(slurp(root / "y"), "new");
    // The fid that was renamed follows its file.
    ASSERT_EQ(p.walk(0, 3, {}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Trename{1, 3, "z"})), 0);
    EXPECT_EQ(slurp(root / "z"), "new");
    // A local rename and a new file under the old name: the same.
    ASSERT_EQ(p.walk(0, 4, {"z"}), 0);
    ASSERT_EQ(rename((root / "z").c_str(), (root / "w").c_str()), 0);
    spit(root / "z", "someone else's");
    EXPECT_EQ(Peer::lerr(p.rpc(Trename{4, 3, "v"})), ESTALE);
    EXPECT_EQ(Peer::lerr(p.rpc(Tremove{4})), ESTALE);
    EXPECT_EQ(slurp(root / "z"), "someone else's");
    EXPECT_EQ(slurp(root / "w"), "new");
    // Times on a symlink go through its path: a replaced link is not touched.
    ASSERT_EQ(symlink("w", (root / "s").c_str()), 0);
    ASSERT_EQ(p.walk(0, 5, {"s"}), 0);
    ASSERT_EQ(unlink((root / "s").c_str()), 0);
    ASSERT_EQ(symlink("z", (root / "s").c_str()), 0);
    Tsetattr sa{};
    sa.fid = 5;
    sa.valid = SETATTR_MTIME | SETATTR_MTIME_SET;
    sa.mtime_sec = 12345;
    EXPECT_EQ(Peer::lerr(p.rpc(sa)), ESTALE);
    struct stat st;
    ASSERT_EQ(lstat((root / "s").c_str(), &st), 0);
    EXPECT_NE(st.st_mtim.tv_sec, 12345);
    // ...and neither are its xattrs (a symlink's go through its path too).
    EXPECT_EQ(Peer::lerr(p.rpc(Txattrwalk{5, 8, ""})), ESTALE);
    EXPECT_EQ(Peer::lerr(p.rpc(Txattrcreate{5, "trusted.x", 1, 0})), 0);  // buffered
    EXPECT_EQ(Peer::lerr(p.rpc(Twrite{5, 0, Data{"v"}})), 0);
    EXPECT_EQ(p.clunk(5), ESTALE);  // the commit at clunk
    char v[8];
    EXPECT_LT(lgetxattr((root / "s").c_str(), "trusted.x", v, sizeof v), 0);
    // A fid whose name is unchanged still removes.
    ASSERT_EQ(p.walk(0, 6, {"w"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Tremove{6})), 0);
    EXPECT_FALSE(fs::exists(root / "w"));
}

// ORCLOSE (9P2000) removes through the path too.
TEST_F(ConfineTest, OrcloseOfAReplacedNameRemovesNothing) {
    spit(root / "x", "new");
    spit(root / "y", "old");
    Peer p(root);
    p.version_attach("9P2000");
    ASSERT_EQ(p.walk(0, 1, {"y"}), 0);
    ASSERT_TRUE(holds<Ropen>(p.rpc(Topen{1, uint8_t(OREAD | ORCLOSE)})));
    ASSERT_EQ(rename((root / "x").c_str(), (root / "y").c_str()), 0);
    p.rpc(Tclunk{1});
    EXPECT_EQ(slurp(root / "y"), "new");
}

// ---------------------------------------------------------------- item 11d

// Lock owners held raw Fid addresses: a fid replaced (Txattrwalk onto
// itself) kept its owner's locks for good, and a new Fid at the same
// address could release another owner's. Now a replace releases as a clunk.
TEST_F(ConfineTest, LockOwnersAreReleasedWhenTheirFidIsReplaced) {
    spit(root / "L", "locked");
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 5, {"L"}), 0);
    ASSERT_EQ(p.lopen(5, O_RDWR), 0);
    ASSERT_EQ(p.lock(5, 1, "a"), LOCK_SUCCESS);
    ASSERT_EQ(p.walk(0, 6, {"L"}), 0);
    ASSERT_EQ(p.lopen(6, O_RDWR), 0);
    ASSERT_EQ(p.lock(6, 2, "b"), LOCK_BLOCKED);  // held by (a, 1)
    auto r = p.rpc(Txattrwalk{5, 5, ""});        // replaces fid 5
    ASSERT_TRUE(holds<Rxattrwalk>(r)) << Peer::lerr(r);
    EXPECT_EQ(p.lock(6, 2, "b"), LOCK_SUCCESS);
    // And (b, 2) holds it now: a third owner is refused until fid 6 goes.
    ASSERT_EQ(p.walk(0, 7, {"L"}), 0);
    ASSERT_EQ(p.lopen(7, O_RDWR), 0);
    EXPECT_EQ(p.lock(7, 3, "c"), LOCK_BLOCKED);
    ASSERT_EQ(p.clunk(6), 0);
    EXPECT_EQ(p.lock(7, 3, "c"), LOCK_SUCCESS);
}

// ---------------------------------------------------------------- item 11e

bool user_xattrs(const fs::path& p) {
    if (setxattr(p.c_str(), "user.probe", "1", 1, 0) != 0) return false;
    removexattr(p.c_str(), "user.probe");
    return true;
}

// Reserves `count` 64 KiB xattr buffers on fresh fids from `first`; returns
// how many were granted (the rest answered ENOSPC).
int reserve(Peer& p, uint32_t first, int count) {
    int granted = 0;
    for (int i = 0; i < count; i++) {
        uint32_t fid = first + uint32_t(i);
        if (p.walk(0, fid, {"a", "hello.txt"}) != 0) return -1;
        int e = Peer::lerr(p.rpc(Txattrcreate{fid, "user.big", 65536, 0}));
        if (e == 0) granted++;
        else if (e != ENOSPC) return -1;
    }
    return granted;
}

TEST_F(ConfineTest, XattrBuffersAreBudgetedPerSession) {
    if (!user_xattrs(root / "a" / "hello.txt")) GTEST_SKIP() << "no user xattrs in /tmp";
    Peer p(root);
    p.version_attach();
    const int per_session = int((16u << 20) / 65536);  // kXattrSessionBudget
    EXPECT_EQ(reserve(p, 1000, per_session), per_session);
    EXPECT_EQ(reserve(p, 2000, 1), 0);  // ENOSPC
    // Clunking one gives its bytes back.
    p.clunk(1000);
    EXPECT_EQ(reserve(p, 3000, 1), 1);
    // A small one does not fit either now, and a read buffer is refused too.
    ASSERT_EQ(setxattr((root / "a" / "hello.txt").c_str(), "user.v", "value", 5, 0), 0);
    ASSERT_EQ(p.walk(0, 4000, {"a", "hello.txt"}), 0);
    EXPECT_EQ(Peer::lerr(p.rpc(Txattrwalk{4000, 4001, "user.v"})), E2BIG);
    // A new session (Tversion clunks every fid) has its whole budget again,
    // once a worker has finished the old fids (asynchronously: poll).
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"a", "hello.txt"}), 0);
    Fcall r;
    for (int i = 0; i < 100; i++) {
        r = p.rpc(Txattrwalk{1, 2, "user.v"});
        if (!holds<Rlerror>(r)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(holds<Rxattrwalk>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rxattrwalk>(r.msg).size, 5u);
}

// Across sessions (a listener serves many peers in one process): the
// process-wide budget is four sessions' worth.
TEST_F(ConfineTest, XattrBuffersAreBudgetedPerProcess) {
    if (!user_xattrs(root / "a" / "hello.txt")) GTEST_SKIP() << "no user xattrs in /tmp";
    const int per_session = int((16u << 20) / 65536);
    std::vector<std::unique_ptr<Peer>> peers;
    for (int i = 0; i < 5; i++) {
        peers.push_back(std::make_unique<Peer>(root));
        peers.back()->version_attach();
    }
    for (int i = 0; i < 4; i++) EXPECT_EQ(reserve(*peers[size_t(i)], 1000, per_session), per_session);
    EXPECT_EQ(reserve(*peers[4], 1000, 1), 0);
    peers[0]->clunk(1000);
    EXPECT_EQ(reserve(*peers[4], 2000, 1), 1);
    peers.clear();
    Peer q(root);
    q.version_attach();
    EXPECT_EQ(reserve(q, 1000, 4), 4);  // everything came back with the sessions
}

// ---------------------------------------------------------------- item 14

// The export learns its own mount's device from uplink; a walk into it
// fails with ELOOP instead of looping through both ducts. A tmpfs stands in
// for the mount (only its device matters here).
TEST_F(ConfineTest, AWalkNeverEntersOurOwnMount) {
    fs::create_directories(root / "peer");
    if (mount("tmpfs", (root / "peer").c_str(), "tmpfs", 0, "size=1m") != 0)
        GTEST_SKIP() << "cannot mount a tmpfs: " << strerror(errno);
    struct Unmount {
        fs::path p;
        ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
    } unmount{root / "peer"};
    spit(root / "peer" / "fa", "inside the mount");
    struct stat st;
    ASSERT_EQ(stat((root / "peer").c_str(), &st), 0);
    auto own = std::make_shared<std::atomic<uint64_t>>(0);
    Peer p(root, own);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"peer", "fa"}), 0);  // not known yet: an ordinary directory
    ASSERT_EQ(p.clunk(1), 0);
    own->store(uint64_t(st.st_dev));
    EXPECT_EQ(p.walk(0, 1, {"peer"}), ELOOP);
    EXPECT_EQ(p.walk(0, 1, {"peer", "fa"}), ELOOP);
    EXPECT_EQ(p.walk(0, 1, {"a", "..", "peer"}), -3);
    // Everything else is served as before.
    ASSERT_EQ(p.walk(0, 2, {"a", "hello.txt"}), 0);
    ASSERT_EQ(p.lopen(2, O_RDONLY), 0);
    auto r = p.rpc(Tread{2, 0, 100});
    ASSERT_TRUE(holds<Rread>(r));
    EXPECT_EQ(std::get<Rread>(r.msg).data.bytes, "hello, world\n");
}

}  // namespace

namespace {
// A v9fs peer opening with O_DIRECT (9P2000.L's value) and writing from its
// own, unaligned buffers: the export's buffers are not aligned either, so it
// opens without O_DIRECT (the flag is about the peer's page cache) and the
// write lands instead of failing EINVAL.
TEST_F(ConfineTest, ODirectFromThePeerIsNotPassedToTheExportsOpen) {
    spit(root / "d", std::string(8192, 'x'));
    Peer p(root);
    p.version_attach();
    ASSERT_EQ(p.walk(0, 1, {"d"}), 0);
    ASSERT_EQ(p.lopen(1, uint32_t(O_RDWR) | uint32_t(DOTL_DIRECT)), 0);
    auto w = p.rpc(Twrite{1, 1, Data{std::string(1000, 'y')}});
    ASSERT_TRUE(holds<Rwrite>(w)) << Peer::lerr(w);
    EXPECT_EQ(std::get<Rwrite>(w.msg).count, 1000u);
    auto r = p.rpc(Tread{1, 3, 10});
    ASSERT_TRUE(holds<Rread>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rread>(r.msg).data.bytes, std::string(10, 'y'));
    EXPECT_EQ(slurp(root / "d").substr(0, 1002), "x" + std::string(1000, 'y') + "x");
}
}  // namespace
