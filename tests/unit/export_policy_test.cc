// export policy (issue 11): a real Server with ServerOptions::read_only or
// as_uid over a real temporary directory, driven by encoded 9P frames.
//  - read_only: every mutating request of 9P2000.L, the duct extension and
//    9P2000 answers EROFS and the disk is unchanged; reads still work;
//  - as_uid: whatever user the peer attaches as, the export has only that
//    user's rights, and files it creates belong to that user;
//  - limits with clear errors: a walk of more than MAXWELEM names, more
//    fids than one peer may hold.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "export/server.h"
#include "proto/codec.h"
#include "proto/oflags.h"
#include "raw_peer.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;

namespace {

using test::spit;

std::string snapshot(const fs::path& root) {
    std::string out;
    for (auto& e : fs::recursive_directory_iterator(root)) {
        struct stat st;
        lstat(e.path().c_str(), &st);
        out += e.path().string() + " " + std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
               std::to_string(st.st_gid) + " " + std::to_string(st.st_size) + " " +
               std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "\n";
        if (S_ISREG(st.st_mode)) {
            std::ifstream in(e.path(), std::ios::binary);
            out += std::string(std::istreambuf_iterator<char>(in), {}) + "\n";
        }
    }
    return out;
}

// A raw 9P client of one Server (as in export_confine_test.cc).
// A raw 9P client of one Server (raw_peer.h) with options set by the case.
class Peer : public test::RawPeer {
public:
    Peer(const std::string& root, std::function<void(exp::ServerOptions&)> opt)
        : RawPeer(options(root, opt)) {}
    // Attaches as `uid` (by name, and by number where the dialect has one).
    void version_attach(const std::string& version, uint32_t uid = 0) {
        auto r = rpc(Tversion{65536, version});
        ASSERT_TRUE(holds<Rversion>(r));
        ASSERT_EQ(std::get<Rversion>(r.msg).version, version);
        if (version == "9P2000") d = Dialect::P2000;
        if (version.rfind("9P2000.L.duct", 0) == 0) d = Dialect::Duct;
        Tattach a;
        a.fid = 0;
        a.afid = NOFID;
        a.uname = uid == 0 ? "root" : std::to_string(uid);
        a.n_uname.value = d == Dialect::P2000 ? NONUNAME : uid;
        auto ra = rpc(a);
        ASSERT_TRUE(holds<Rattach>(ra)) << lerr(ra) << ename(ra);
    }
    bool walk(uint32_t newfid, WNames names) { return RawPeer::walk(0, newfid, names) == 0; }

private:
    static exp::ServerOptions options(const std::string& root, const std::function<void(exp::ServerOptions&)>& opt) {
        auto o = test::server_options(root, 65536 + 4096, 2);
        opt(o);
        return o;
    }
};

class Policy : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-policy-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        root = tmpl;
        chmod(root.c_str(), 0755);
        spit(root / "f", "hello");
        fs::create_directory(root / "d");
        spit(root / "d" / "g", "in d");
        ASSERT_EQ(symlink("f", (root / "l").c_str()), 0);
    }
    void TearDown() override { fs::remove_all(root); }
    fs::path root;
};

TEST_F(Policy, ReadOnlyRefusesEveryChangeIn9P2000L) {
    std::string before = snapshot(root);
    Peer p(root, [](exp::ServerOptions& o) { o.read_only = true; });
    p.version_attach(duct_version(kDuctLevel));  // .L plus the duct extension
    ASSERT_TRUE(p.walk(1, {"f"}));
    ASSERT_TRUE(p.walk(2, {"d"}));
    auto lerr = [&](Message m) { return Peer::lerr(p.rpc(std::move(m))); };

    Tlcreate lc{};
    lc.fid = 2, lc.name = "new", lc.flags = DOTL_RDWR | DOTL_CREATE, lc.mode = 0644, lc.gid = 0;
    EXPECT_EQ(lerr(lc), EROFS) << "Tlcreate";
    // The duct extension's create with attributes (it once slipped through:
    // the policy now refuses whatever it does not know to only read).
    Tlcreateattr lca{};
    lca.dfid = 2, lca.newfid = 9, lca.name = "new", lca.flags = DOTL_RDWR | DOTL_CREATE, lca.mode = 0644;
    EXPECT_EQ(lerr(lca), EROFS) << "Tlcreateattr";
    EXPECT_EQ(lerr(Tmkdir{2, "nd", 0755, 0}), EROFS) << "Tmkdir";
    EXPECT_EQ(lerr(Tsymlink{2, "ns", "f", 0}), EROFS) << "Tsymlink";
    Tmknod mk{};
    mk.dfid = 2, mk.name = "nf", mk.mode = S_IFIFO | 0644;
    EXPECT_EQ(lerr(mk), EROFS) << "Tmknod";
    EXPECT_EQ(lerr(Tlink{2, 1, "hl"}), EROFS) << "Tlink";
    EXPECT_EQ(lerr(Trename{1, 2, "moved"}), EROFS) << "Trename";
    EXPECT_EQ(lerr(Trenameat{0, "f", 2, "moved"}), EROFS) << "Trenameat";
    Trenameat2 r2{};
    r2.olddirfid = 0, r2.oldname = "f", r2.newdirfid = 2, r2.newname = "moved", r2.flags = 0;
    EXPECT_EQ(lerr(r2), EROFS) << "Trenameat2";
    EXPECT_EQ(lerr(Tunlinkat{0, "f", 0}), EROFS) << "Tunlinkat";
    EXPECT_EQ(lerr(Tunlinkat{0, "d", 0x200}), EROFS) << "Tunlinkat dir";
    Tsetattr sa{};
    sa.fid = 1, sa.valid = SETATTR_MODE, sa.mode = 0600;
    EXPECT_EQ(lerr(sa), EROFS) << "Tsetattr mode";
    sa.valid = SETATTR_SIZE, sa.size = 0;
    EXPECT_EQ(lerr(sa), EROFS) << "Tsetattr size";
    ASSERT_TRUE(p.walk(3, {"f"}));
    Txattrcreate xc{};
    xc.fid = 3, xc.name = "user.x", xc.attr_size = 1;
    EXPECT_EQ(lerr(xc), EROFS) << "Txattrcreate";
    // Opens that could write: refused at open time.
    EXPECT_EQ(lerr(Tlopen{3, DOTL_WRONLY}), EROFS) << "Tlopen WRONLY";
    EXPECT_EQ(lerr(Tlopen{3, DOTL_RDWR}), EROFS) << "Tlopen RDWR";
    EXPECT_EQ(lerr(Tlopen{3, DOTL_RDONLY | DOTL_TRUNC}), EROFS) << "Tlopen TRUNC";
    EXPECT_EQ(lerr(Tlopen{3, DOTL_RDONLY | DOTL_APPEND}), EROFS) << "Tlopen APPEND";
    // Reads work, and a write through a read open is refused.
    EXPECT_EQ(lerr(Tlopen{3, DOTL_RDONLY}), 0);
    auto rd = p.rpc(Tread{3, 0, 100});
    ASSERT_TRUE(holds<Rread>(rd)) << Peer::lerr(rd);
    EXPECT_EQ(std::get<Rread>(rd.msg).data.bytes, "hello");
    EXPECT_EQ(lerr(Twrite{3, 0, Data{"HELLO"}}), EROFS) << "Twrite";
    Tfallocate fa{};
    fa.fid = 3, fa.mode = 0, fa.offset = 0, fa.length = 4096;
    EXPECT_EQ(lerr(fa), EROFS) << "Tfallocate";
    EXPECT_EQ(lerr(Tfsync{3, {}}), 0) << "Tfsync writes nothing";
    auto ga = p.rpc(Tgetattr{1, GETATTR_BASIC});
    EXPECT_TRUE(holds<Rgetattr>(ga)) << Peer::lerr(ga);
    ASSERT_TRUE(p.walk(4, {"f"}));
    EXPECT_EQ(lerr(Tremove{4}), EROFS) << "Tremove";
    EXPECT_EQ(snapshot(root), before);
}

TEST_F(Policy, ReadOnlyRefusesEveryChangeIn9P2000) {
    std::string before = snapshot(root);
    Peer p(root, [](exp::ServerOptions& o) { o.read_only = true; });
    p.version_attach("9P2000");
    auto ename = [&](Message m) { return Peer::ename(p.rpc(std::move(m))); };
    ASSERT_TRUE(p.walk(1, {"f"}));
    EXPECT_EQ(ename(Topen{1, OWRITE}), "read-only file system") << "Topen OWRITE";
    EXPECT_EQ(ename(Topen{1, ORDWR}), "read-only file system") << "Topen ORDWR";
    EXPECT_EQ(ename(Topen{1, OREAD | OTRUNC}), "read-only file system") << "Topen OTRUNC";
    EXPECT_EQ(ename(Topen{1, OREAD | ORCLOSE}), "read-only file system") << "Topen ORCLOSE";
    Stat st = stat_keep();
    st.mode = 0600;
    EXPECT_EQ(ename(Twstat{1, st}), "read-only file system") << "Twstat mode";
    st = stat_keep();
    st.name = "renamed";
    EXPECT_EQ(ename(Twstat{1, st}), "read-only file system") << "Twstat name";
    st = stat_keep();
    st.length = 0;
    EXPECT_EQ(ename(Twstat{1, st}), "read-only file system") << "Twstat length";
    // All "don't touch": stat(5)'s sync, not a change.
    auto sync = p.rpc(Twstat{1, stat_keep()});
    EXPECT_TRUE(holds<Rwstat>(sync)) << Peer::ename(sync);
    EXPECT_EQ(ename(Topen{1, OREAD}), "");
    auto rd = p.rpc(Tread{1, 0, 100});
    ASSERT_TRUE(holds<Rread>(rd)) << Peer::ename(rd);
    EXPECT_EQ(std::get<Rread>(rd.msg).data.bytes, "hello");
    EXPECT_EQ(ename(Twrite{1, 0, Data{"HELLO"}}), "read-only file system") << "Twrite";
    ASSERT_TRUE(p.walk(2, {"d"}));
    EXPECT_EQ(ename(Tcreate{2, "new", 0644, ORDWR}), "read-only file system") << "Tcreate";
    EXPECT_EQ(ename(Tcreate{2, "nd", DMDIR | 0755, OREAD}), "read-only file system") << "Tcreate dir";
    ASSERT_TRUE(p.walk(3, {"d", "g"}));
    EXPECT_EQ(ename(Tremove{3}), "read-only file system") << "Tremove";
    EXPECT_EQ(snapshot(root), before);
}

// The same requests change the disk without the option: the refusals above
// are the policy's, not an accident of the requests.
TEST_F(Policy, WithoutReadOnlyTheSameRequestsWrite) {
    Peer p(root, [](exp::ServerOptions&) {});
    p.version_attach("9P2000.L");
    ASSERT_TRUE(p.walk(1, {"f"}));
    EXPECT_EQ(Peer::lerr(p.rpc(Tlopen{1, DOTL_RDWR})), 0);
    EXPECT_TRUE(holds<Rwrite>(p.rpc(Twrite{1, 0, Data{"HELLO"}})));
    EXPECT_EQ(Peer::lerr(p.rpc(Tunlinkat{0, "l", 0})), 0);
    EXPECT_FALSE(fs::exists(fs::symlink_status(root / "l")));
}

TEST_F(Policy, AsUserHasOnlyThatUsersRights) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
    struct passwd* pw = getpwnam("nobody");
    ASSERT_TRUE(pw);
    uid_t nobody = pw->pw_uid;
    gid_t nogroup = pw->pw_gid;
    spit(root / "secret", "root only");
    chmod((root / "secret").c_str(), 0600);
    fs::create_directory(root / "open");
    chmod((root / "open").c_str(), 0777);
    Peer p(root, [&](exp::ServerOptions& o) {
        o.as_uid = nobody;
        o.as_gid = nogroup;
    });
    p.version_attach("9P2000.L", 0);  // the peer claims to be root
    ASSERT_TRUE(p.walk(1, {"secret"}));
    EXPECT_EQ(Peer::lerr(p.rpc(Tlopen{1, DOTL_RDONLY})), EACCES);
    ASSERT_TRUE(p.walk(2, {"f"}));
    EXPECT_EQ(Peer::lerr(p.rpc(Tlopen{2, DOTL_RDONLY})), 0);
    auto rd = p.rpc(Tread{2, 0, 100});
    ASSERT_TRUE(holds<Rread>(rd)) << Peer::lerr(rd);
    EXPECT_EQ(std::get<Rread>(rd.msg).data.bytes, "hello");
    // Not root: no writing root's files, no chown to root.
    ASSERT_TRUE(p.walk(3, {"f"}));
    EXPECT_EQ(Peer::lerr(p.rpc(Tlopen{3, DOTL_WRONLY})), EACCES);
    // A file it creates is nobody's, whatever gid the request names.
    ASSERT_TRUE(p.walk(4, {"open"}));
    Tlcreate lc{};
    lc.fid = 4, lc.name = "made", lc.flags = DOTL_RDWR | DOTL_CREATE, lc.mode = 0644, lc.gid = 0;
    auto rc = p.rpc(lc);
    ASSERT_TRUE(holds<Rlcreate>(rc)) << Peer::lerr(rc);
    struct stat st;
    ASSERT_EQ(lstat((root / "open" / "made").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody);
    EXPECT_EQ(st.st_gid, nogroup);
    Tsetattr sa{};
    sa.fid = 2, sa.valid = SETATTR_UID, sa.uid = nobody;
    EXPECT_EQ(Peer::lerr(p.rpc(sa)), EPERM) << "chown of root's file";
    // A 9P2000 session, which otherwise acts as the server itself, too.
    Peer q(root, [&](exp::ServerOptions& o) {
        o.as_uid = nobody;
        o.as_gid = nogroup;
    });
    q.version_attach("9P2000");
    ASSERT_TRUE(q.walk(1, {"secret"}));
    EXPECT_NE(Peer::ename(q.rpc(Topen{1, OREAD})), "");
}

TEST_F(Policy, WalkOfMoreThanMaxwelemNamesIsAnError) {
    Peer p(root, [](exp::ServerOptions&) {});
    p.version_attach("9P2000.L");
    // encode() refuses to make this frame: build it by hand.
    std::string body;
    auto u16 = [&](uint16_t v) { body += char(v & 0xff), body += char(v >> 8); };
    auto u32 = [&](uint32_t v) { u16(v & 0xffff), u16(v >> 16); };
    u32(0), u32(1), u16(17);
    for (int i = 0; i < 17; i++) u16(1), body += "d";
    std::string frame;
    uint32_t size = 7 + body.size();
    for (int i = 0; i < 4; i++) frame += char(size >> (8 * i));
    frame += char(Twalk::kType), frame += char(9), frame += char(0);
    p.srv->handle(frame + body);
    EXPECT_EQ(Peer::lerr(p.wait(9)), EPROTO);
    EXPECT_TRUE(p.walk(1, {"d"})) << "the session goes on";
}

// kMaxFids (65536) per peer: the next fid is refused with an error that
// says so, not one that blames the process's descriptors.
TEST_F(Policy, FidsPerPeerAreLimitedWithAClearError) {
    Peer p(root, [](exp::ServerOptions&) {});
    p.version_attach("9P2000");
    // Clones cost no syscall; pipelined in batches (tags unique per batch).
    const uint32_t kMax = 65536;
    for (uint32_t base = 1; base < kMax; base += 1000) {
        uint32_t n = std::min<uint32_t>(1000, kMax - base);
        for (uint32_t i = 0; i < n; i++) p.send(uint16_t(1 + i), Twalk{0, base + i, {}});
        for (uint32_t i = 0; i < n; i++) {
            auto r = p.wait(uint16_t(1 + i));
            ASSERT_TRUE(holds<Rwalk>(r)) << "fid " << base + i << ": " << Peer::ename(r);
        }
    }
    auto r = p.rpc(Twalk{0, kMax, {}});
    EXPECT_EQ(Peer::ename(r), "too many fids (65536 per peer)");
    EXPECT_TRUE(holds<Rclunk>(p.rpc(Tclunk{5})));
    EXPECT_TRUE(holds<Rwalk>(p.rpc(Twalk{0, kMax, {}}))) << "one clunked: room for one";
}

}  // namespace
