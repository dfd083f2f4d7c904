// mountpoint_test: the mount point checks of src/mount/mountpoint.h on real
// (tmpfs) mounts: what check_mountpoint refuses and says, and how
// mounts_at / place_of see mounts stacked on one path (bottom first; ours
// "Covered" once someone mounts on top). Needs root for the tmpfs mounts
// (skipped otherwise).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "mount/mountpoint.h"

using namespace duct::mnt;

namespace {

class MountPoint : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/duct-mountpoint-test.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        mp_ = dir_ + "/mp";
        ASSERT_EQ(mkdir(mp_.c_str(), 0755), 0);
    }
    void TearDown() override {
        for (int i = 0; i < 4 && !mounts_at(mp_).empty(); i++) umount2(mp_.c_str(), MNT_DETACH);
        unlink((dir_ + "/file").c_str());
        rmdir(mp_.c_str());
        rmdir(dir_.c_str());
    }
    // A tmpfs named `source` on mp_; false (and the test is skipped) without the right.
    bool tmpfs(const char* source) { return mount(source, mp_.c_str(), "tmpfs", 0, "size=1m") == 0; }

    std::string dir_, mp_;
};

TEST_F(MountPoint, CheckSaysWhatIsWrong) {
    std::string real, err;
    EXPECT_FALSE(check_mountpoint(dir_ + "/missing", real, err));
    EXPECT_NE(err.find("missing: No such file or directory"), std::string::npos) << err;
    std::ofstream(dir_ + "/file") << "x";
    err.clear();
    EXPECT_FALSE(check_mountpoint(dir_ + "/file", real, err));
    EXPECT_NE(err.find("file: Not a directory"), std::string::npos) << err;
    err.clear();
    EXPECT_TRUE(check_mountpoint(dir_ + "/./mp/", real, err)) << err;
    EXPECT_EQ(real, mp_);
}

TEST_F(MountPoint, RefusesAMountedMountPoint) {
    if (!tmpfs("duct-test-a")) GTEST_SKIP() << "cannot mount a tmpfs (not root?)";
    std::string real, err;
    EXPECT_FALSE(check_mountpoint(mp_, real, err));
    EXPECT_NE(err.find("already a mount point (tmpfs duct-test-a)"), std::string::npos) << err;
}

TEST_F(MountPoint, StackedMountsBottomFirstAndWhoIsOnTop) {
    EXPECT_TRUE(mounts_at(mp_).empty());
    if (!tmpfs("duct-test-a")) GTEST_SKIP() << "cannot mount a tmpfs (not root?)";
    auto one = mounts_at(mp_);
    ASSERT_EQ(one.size(), 1u);
    std::string ours = one[0].dev;
    EXPECT_EQ(one[0].fstype, "tmpfs");
    EXPECT_EQ(place_of(mp_, ours), Place::Top);
    ASSERT_TRUE(tmpfs("duct-test-b"));
    auto two = mounts_at(mp_);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].source, "duct-test-a");
    EXPECT_EQ(two[1].source, "duct-test-b");
    EXPECT_EQ(two[1].parent, two[0].id);
    EXPECT_EQ(place_of(mp_, ours), Place::Covered);
    EXPECT_EQ(place_of(mp_, two[1].dev), Place::Top);
    ASSERT_EQ(umount2(mp_.c_str(), 0), 0);  // removes the top one: b
    EXPECT_EQ(place_of(mp_, ours), Place::Top);
    ASSERT_EQ(umount2(mp_.c_str(), 0), 0);
    EXPECT_EQ(place_of(mp_, ours), Place::Gone);
}

// What the kernel backend reports as cut off when SIGTERM finds its mount
// busy: the files this very process holds, open or mapped.
TEST_F(MountPoint, FilesHeldOnAMount) {
    if (!tmpfs("duct-test-a")) GTEST_SKIP() << "cannot mount a tmpfs (not root?)";
    auto here = mounts_at(mp_);
    ASSERT_EQ(here.size(), 1u);
    int id = here[0].id;
    std::string dev = here[0].dev;
    EXPECT_EQ(files_held_on(id, dev), 0u);
    int a = open((mp_ + "/a").c_str(), O_RDWR | O_CREAT, 0644);
    int b = open((mp_ + "/b").c_str(), O_RDWR | O_CREAT, 0644);
    int a2 = open((mp_ + "/a").c_str(), O_RDONLY);
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    ASSERT_GE(a2, 0);
    EXPECT_EQ(files_held_on(id, dev), 2u);  // a (twice) and b
    ASSERT_EQ(ftruncate(b, 4096), 0);
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b, 0);
    ASSERT_NE(m, MAP_FAILED);
    close(a);
    close(a2);
    close(b);
    EXPECT_EQ(files_held_on(id, dev), 1u);  // b, mapped
    munmap(m, 4096);
    EXPECT_EQ(files_held_on(id, dev), 0u);
    unlink((mp_ + "/a").c_str());
    unlink((mp_ + "/b").c_str());
}

}  // namespace
