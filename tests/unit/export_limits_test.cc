// export limits (issue 11, src/export/limits.h): a real Server over a real
// temporary directory, driven by raw 9P frames. Each bound answers an error
// that names it, and the session goes on:
//  - a walk of more than MAXWELEM (16) names: Rlerror EPROTO, and in 9P2000
//    an Rerror that names the count and the limit;
//  - names: NUL, '/' and more than NAME_MAX bytes in a walk name;
//  - Tattach: a uname longer than a login name, an aname longer than a
//    path, either with a NUL inside;
//  - Tlock/Tgetlock: a client_id longer than kMaxLockClient (a key of the
//    lock-owner table).
// (The fid cap and the 9P2000.L walk-depth errno: export_policy_test.cc.)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "export/limits.h"
#include "export/server.h"
#include "proto/codec.h"
#include "proto/oflags.h"
#include "raw_peer.h"

namespace fs = std::filesystem;
using namespace duct;
using namespace duct::p9;

namespace {

class Limits : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-limits-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        root = tmpl;
        test::spit(root / "f", "hello");
        fs::create_directory(root / "d");
    }
    void TearDown() override { fs::remove_all(root); }
    fs::path root;
};

struct Peer : test::RawPeer {
    explicit Peer(const fs::path& root) : RawPeer(test::server_options(root)) {}
    void version(const std::string& v) {
        auto r = rpc(Tversion{65536, v});
        ASSERT_TRUE(holds<Rversion>(r));
        if (v == "9P2000") d = Dialect::P2000;
    }
    Fcall attach(uint32_t fid, std::string uname, std::string aname = "") {
        Tattach a;
        a.fid = fid;
        a.afid = NOFID;
        a.uname = std::move(uname);
        a.aname = std::move(aname);
        a.n_uname.value = d == Dialect::P2000 ? NONUNAME : 0;
        return rpc(a);
    }
};

// Twalk fid 0 -> 1 with n names "d", built by hand: encode() refuses n > 16.
std::string deep_walk(uint16_t tag, int n) {
    std::string body;
    auto u16 = [&](uint16_t v) { body += char(v & 0xff), body += char(v >> 8); };
    auto u32 = [&](uint32_t v) { u16(v & 0xffff), u16(v >> 16); };
    u32(0), u32(1), u16(uint16_t(n));
    for (int i = 0; i < n; i++) u16(1), body += "d";
    std::string frame;
    uint32_t size = 7 + uint32_t(body.size());
    for (int i = 0; i < 4; i++) frame += char(size >> (8 * i));
    frame += char(Twalk::kType), frame += char(tag), frame += char(tag >> 8);
    return frame + body;
}

TEST_F(Limits, WalkDeeperThanMaxwelemNamesTheLimitIn9P2000) {
    Peer p(root);
    p.version("9P2000");
    ASSERT_TRUE(holds<Rattach>(p.attach(0, "glenda")));
    p.send_raw(deep_walk(40, 17));
    auto r = p.wait(40);
    ASSERT_TRUE(holds<Rerror>(r));
    EXPECT_NE(Peer::ename(r).find("17 elements (MAXWELEM is 16)"), std::string::npos) << Peer::ename(r);
    // Exactly 16 is allowed (d/d/... stops after d: a partial walk, still Rwalk).
    p.send_raw(deep_walk(41, 16));
    auto ok = p.wait(41);
    EXPECT_TRUE(holds<Rwalk>(ok)) << Peer::ename(ok);
}

TEST_F(Limits, WalkNamesWithNulSlashOrTooLongAreRefused) {
    Peer p(root);
    p.version("9P2000.L");
    ASSERT_TRUE(holds<Rattach>(p.attach(0, "root")));
    EXPECT_EQ(p.walk(0, 1, {std::string("f\0x", 3)}), EINVAL) << "a NUL would shorten the name to \"f\"";
    EXPECT_EQ(p.walk(0, 1, {"d/f"}), EINVAL);
    EXPECT_EQ(p.walk(0, 1, {std::string(exp::kNameMax + 1, 'n')}), ENAMETOOLONG);
    EXPECT_EQ(p.walk(0, 1, {std::string(exp::kNameMax, 'n')}), ENOENT) << "255 bytes is a name";
    EXPECT_EQ(p.walk(0, 1, {"f"}), 0);
}

TEST_F(Limits, AttachNamesAreBounded) {
    Peer p(root);
    p.version("9P2000.L");
    EXPECT_EQ(Peer::lerr(p.attach(0, std::string(exp::kMaxUname + 1, 'u'))), ENAMETOOLONG);
    EXPECT_EQ(Peer::lerr(p.attach(0, "root", std::string(exp::kMaxAname + 1, 'a'))), ENAMETOOLONG);
    EXPECT_EQ(Peer::lerr(p.attach(0, std::string("root\0junk", 9))), EINVAL);
    EXPECT_EQ(Peer::lerr(p.attach(0, "root", std::string("/\0x", 3))), EINVAL);
    EXPECT_TRUE(holds<Rattach>(p.attach(0, std::string(exp::kMaxUname, 'u'))));
    // 9P2000 says which limit, in words.
    Peer q(root);
    q.version("9P2000");
    auto r = q.attach(0, std::string(300, 'u'));
    EXPECT_EQ(Peer::ename(r), "uname of 300 bytes (at most 255)");
    r = q.attach(0, std::string("glenda\0root", 11));
    EXPECT_EQ(Peer::ename(r), "uname or aname with a NUL byte");
    EXPECT_TRUE(holds<Rattach>(q.attach(0, "glenda")));
}

TEST_F(Limits, LockClientIdIsBounded) {
    Peer p(root);
    p.version("9P2000.L");
    ASSERT_TRUE(holds<Rattach>(p.attach(0, "root")));
    ASSERT_EQ(p.walk(0, 1, {"f"}), 0);
    ASSERT_EQ(p.lopen(1, DOTL_RDWR), 0);
    std::string big(exp::kMaxLockClient + 1, 'c');
    EXPECT_EQ(Peer::lerr(p.rpc(Tlock{1, LOCK_TYPE_WRLCK, 0, 0, 0, 7, big})), ENAMETOOLONG);
    EXPECT_EQ(Peer::lerr(p.rpc(Tgetlock{1, LOCK_TYPE_WRLCK, 0, 0, 7, big})), ENAMETOOLONG);
    std::string most(exp::kMaxLockClient, 'c');
    auto r = p.rpc(Tlock{1, LOCK_TYPE_WRLCK, 0, 0, 0, 7, most});
    ASSERT_TRUE(holds<Rlock>(r)) << Peer::lerr(r);
    EXPECT_EQ(std::get<Rlock>(r.msg).status, LOCK_SUCCESS);
}

}  // namespace
