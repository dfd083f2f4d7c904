// The --idmap table (src/mount/idmap.h): parsing of every form and its
// errors, and the two directions of the map, including the ids that must
// not pass unchanged because they would name a mapped user.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "mount/idmap.h"

using duct::mnt::IdMap;

namespace {

std::string write_map(const std::string& text) {
    char path[] = "/tmp/duct-idmap-test.XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << text;
    return path;
}

}  // namespace

TEST(IdMap, NoneAndEmptyPassEverything) {
    for (const char* spec : {"", "none"}) {
        IdMap m;
        std::string err;
        ASSERT_TRUE(IdMap::parse(spec, m, err)) << err;
        EXPECT_TRUE(m.is_none());
        uint32_t r = 0;
        EXPECT_TRUE(m.uid_out(1000, r));
        EXPECT_EQ(r, 1000u);
        EXPECT_EQ(m.uid_in(0), 0u);
        EXPECT_EQ(m.gid_in(65534), 65534u);
    }
}

TEST(IdMap, UserMapsOnePairBothWays) {
    IdMap m;
    std::string err;
    ASSERT_TRUE(IdMap::parse("user", m, err)) << err;
    EXPECT_TRUE(m.wants_peer_owner());
    m.set_user(4242, 4343, 1000, 1001);
    uint32_t r = 0;
    EXPECT_EQ(m.uid_in(4242), 1000u);
    EXPECT_EQ(m.gid_in(4343), 1001u);
    ASSERT_TRUE(m.uid_out(1000, r));
    EXPECT_EQ(r, 4242u);
    ASSERT_TRUE(m.gid_out(1001, r));
    EXPECT_EQ(r, 4343u);
    // Another remote user's id passes unchanged...
    EXPECT_EQ(m.uid_in(7), 7u);
    // ...unless it is our local id: it would show as ours. Nobody instead.
    EXPECT_EQ(m.uid_in(1000), 65534u);
    // And the exporter's raw id sent as is would come back as ours: none.
    EXPECT_FALSE(m.uid_out(4242, r));
}

TEST(IdMap, UserWithEqualIdsMapsNothing) {
    IdMap m;
    std::string err;
    ASSERT_TRUE(IdMap::parse("user", m, err));
    m.set_user(1000, 1000, 1000, 1000);
    uint32_t r = 0;
    EXPECT_EQ(m.uid_in(1000), 1000u);
    ASSERT_TRUE(m.uid_out(0, r));
    EXPECT_EQ(r, 0u);
}

TEST(IdMap, FileWithNamesNumbersAndComments) {
    std::string path = write_map("# local remote\n\nuid root 5000\ngid 0 5001  # root's group\nuid 12 13\n");
    IdMap m;
    std::string err;
    ASSERT_TRUE(IdMap::parse("file:" + path, m, err)) << err;
    uint32_t r = 0;
    ASSERT_TRUE(m.uid_out(0, r));
    EXPECT_EQ(r, 5000u);
    EXPECT_EQ(m.uid_in(13), 12u);
    EXPECT_EQ(m.gid_in(5001), 0u);
    EXPECT_EQ(m.gid_in(5000), 5000u);  // 5000 is a uid pair only
    EXPECT_NE(m.describe().find("uid 0<->5000"), std::string::npos);
    unlink(path.c_str());
}

TEST(IdMap, BadSpecsSayWhy) {
    struct Case { std::string text, want; };
    for (auto& c : std::vector<Case>{
             {"uid 1\n", ":1: expected"},
             {"uid 1 2 3\n", ":1: expected"},
             {"\nuser 1 2\n", ":2: expected"},
             {"uid no-such-user-here 1\n", "no local user no-such-user-here"},
             {"gid no-such-group-here 1\n", "no local group no-such-group-here"},
             {"uid 1 x\n", "remote id x is not a number"},
             {"uid 1 4294967295\n", "is not a number below"},
             {"uid 1 5\nuid 1 6\n", "mapped twice"},
             {"gid 1 5\ngid 2 5\n", "mapped twice"},
         }) {
        std::string path = write_map(c.text);
        IdMap m;
        std::string err;
        EXPECT_FALSE(IdMap::parse("file:" + path, m, err)) << c.text;
        EXPECT_NE(err.find(c.want), std::string::npos) << c.text << " -> " << err;
        unlink(path.c_str());
    }
    IdMap m;
    std::string err;
    EXPECT_FALSE(IdMap::parse("users", m, err));
    EXPECT_NE(err.find("none, user or file:PATH"), std::string::npos);
    EXPECT_FALSE(IdMap::parse("file:", m, err));
    EXPECT_FALSE(IdMap::parse("file:/no/such/map", m, err));
    EXPECT_NE(err.find("No such file"), std::string::npos);
}
