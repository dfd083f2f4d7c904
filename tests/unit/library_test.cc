// library_test: the public library entry point (include/duct/uplink.h) used
// the way an embedding program would, with real parts: two duct::Uplink
// objects in one process joined by a socketpair, one export-only and one
// mounting it with FUSE (skipped without /dev/fuse or root), plus the
// silent-peer timeout against a socket that never answers (no FUSE needed:
// the handshake itself is what waits).
//
// Threads: each Uplink::run() runs on a std::thread of the test; the test
// thread reads through the mount and calls stop()/summary() from outside,
// as a signal thread would.
#include <duct/uplink.h>

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool mounted(const std::string& dir) {
    std::ifstream m("/proc/mounts");
    std::string dev, mp, rest;
    while (m >> dev >> mp && std::getline(m, rest))
        if (mp == dir) return true;
    return false;
}

struct TempDir {
    std::string path;
    TempDir() {
        std::string t = (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + std::string("/duct-lib.XXXXXX");
        path = mkdtemp(t.data()) ? t : "";
    }
    ~TempDir() {
        if (!path.empty() && !mounted(path + "/mnt")) fs::remove_all(path);
    }
};

}  // namespace

TEST(Library, ValidAddress) {
    std::string why;
    EXPECT_TRUE(duct::valid_address("tcp!localhost!1127", why));
    EXPECT_TRUE(duct::valid_address("[::1]:1127", why));
    EXPECT_TRUE(duct::valid_address("unix:/run/duct.sock", why));
    EXPECT_FALSE(duct::valid_address("tcp!localhost", why));
    EXPECT_NE(why.find("bad address"), std::string::npos) << why;
}

// An export-only Uplink and a mounting Uplink on the two ends of a
// socketpair: read and write through the mount, summary while running,
// stop() unmounts and both run() calls return 0.
TEST(Library, TwoUplinksOverASocketpair) {
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "needs root and /dev/fuse";
    TempDir t;
    ASSERT_FALSE(t.path.empty());
    fs::create_directories(t.path + "/exp");
    fs::create_directories(t.path + "/mnt");
    std::ofstream(t.path + "/exp/hello") << "hello from the export";

    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    duct::Options eo;
    eo.export_path = t.path + "/exp";
    eo.mountpoint = "-";
    duct::Options mo;
    mo.export_path = "-";
    mo.mountpoint = t.path + "/mnt";
    duct::Uplink exporter(sv[0], sv[0], eo), mounter(sv[1], sv[1], mo);
    close(sv[0]);  // the Uplinks hold their own duplicates
    close(sv[1]);
    auto erc = std::async(std::launch::async, [&] { return exporter.run(); });
    auto mrc = std::async(std::launch::async, [&] { return mounter.run(); });

    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        up = mounted(t.path + "/mnt");
        if (!up) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(up) << "the mount never appeared";
    std::string got;
    std::getline(std::ifstream(t.path + "/mnt/hello"), got);
    EXPECT_EQ(got, "hello from the export");
    std::ofstream(t.path + "/mnt/written") << "through the library";
    std::string back;
    std::getline(std::ifstream(t.path + "/exp/written"), back);
    EXPECT_EQ(back, "through the library");

    std::string s = mounter.summary();
    EXPECT_NE(s.find("channel in"), std::string::npos) << s;
    EXPECT_NE(s.find("mount"), std::string::npos) << s;
    EXPECT_NE(exporter.summary().find("export"), std::string::npos) << exporter.summary();

    mounter.stop();  // unmounts; the close frame ends the exporter's export
    ASSERT_EQ(mrc.wait_for(10s), std::future_status::ready) << "mounter did not stop";
    EXPECT_EQ(mrc.get(), duct::kExitOk);
    ASSERT_EQ(erc.wait_for(10s), std::future_status::ready) << "exporter did not finish";
    EXPECT_EQ(erc.get(), duct::kExitOk);
    EXPECT_FALSE(mounted(t.path + "/mnt"));
}

// A peer that reads everything and answers nothing: with timeout 1 the
// mounting Uplink gives up on its handshake and returns kExitFailed, well
// before anyone could call it a hang.
TEST(Library, SilentPeerTimesOut) {
    TempDir t;
    ASSERT_FALSE(t.path.empty());
    fs::create_directories(t.path + "/mnt");
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    duct::Options mo;
    mo.export_path = "-";
    mo.mountpoint = t.path + "/mnt";
    mo.timeout = 1;
    duct::Uplink mounter(sv[1], sv[1], mo);
    close(sv[1]);
    auto t0 = std::chrono::steady_clock::now();
    auto rc = std::async(std::launch::async, [&] { return mounter.run(); });
    ASSERT_EQ(rc.wait_for(8s), std::future_status::ready) << "no timeout: the silent peer hangs the mount";
    EXPECT_EQ(rc.get(), duct::kExitFailed);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 900ms) << "gave up before the timeout";
    char buf[64];
    EXPECT_GT(read(sv[0], buf, sizeof buf), 6) << "the Tversion never reached the peer";
    close(sv[0]);
    EXPECT_FALSE(mounted(t.path + "/mnt"));
}
