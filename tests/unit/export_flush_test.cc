// export: Tflush of a request stuck in a syscall, and workers stuck in
// syscalls (issue 9 item 8, the export half). The export root holds a
// small FUSE file system served by this test, whose reads never answer
// until the test lets them: a hung mount inside the export.
//  - a Tflush of a stuck Tread gets its Rflush within a bound; the Tread's
//    reply, when the syscall ends at last, is never sent, and the tag can
//    be reused at once;
//  - with every worker stuck, other requests are still answered, and a
//    flush of one still queued is answered at once.
#include <gtest/gtest.h>

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "export/server.h"
#include "proto/codec.h"
#include "raw_peer.h"

using namespace duct;
using namespace duct::p9;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The stalling file system: / holds one file, "slow" (1 MiB), whose reads
// are kept unanswered until release().
class StallFs {
public:
    bool start(const std::string& dir, std::string& err) {
        static const fuse_lowlevel_ops ops = make_ops();
        const char* argv[] = {"stallfs", "-o", "fsname=stallfs", nullptr};
        fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
        se_ = fuse_session_new(&args, &ops, sizeof ops, this);
        fuse_opt_free_args(&args);  // the parser's copy is the caller's to free
        if (!se_) {
            err = "fuse_session_new failed";
            return false;
        }
        if (fuse_session_mount(se_, dir.c_str()) != 0) {
            err = "cannot mount a FUSE file system on " + dir;
            fuse_session_destroy(se_);
            se_ = nullptr;
            return false;
        }
        dir_ = dir;
        loop_ = std::thread([this] { fuse_session_loop(se_); });
        return true;
    }
    // Answers every held read (with zeros) and from now on answers at once.
    void release() {
        std::vector<std::pair<fuse_req_t, size_t>> held;
        {
            std::lock_guard<std::mutex> g(mu_);
            released_ = true;
            held.swap(held_);
        }
        for (auto& [req, size] : held) {
            std::string zeros(size, '\0');
            fuse_reply_buf(req, zeros.data(), zeros.size());
        }
    }
    size_t held() {
        std::lock_guard<std::mutex> g(mu_);
        return held_.size();
    }
    ~StallFs() {
        if (!se_) return;
        release();
        fuse_session_exit(se_);
        // End the loop's read of /dev/fuse by ending the connection (the
        // kernel then fails the read with ENODEV), and only then close the
        // fd: closing it under the blocked read is a race (ThreadSanitizer).
        struct stat st{};
        bool have_dev = ::stat(dir_.c_str(), &st) == 0;
        umount2(dir_.c_str(), MNT_DETACH);
        if (have_dev) {
            std::string abort_path = "/sys/fs/fuse/connections/" + std::to_string(minor(st.st_dev)) + "/abort";
            if (FILE* f = fopen(abort_path.c_str(), "we")) {
                fputs("1", f);
                fclose(f);
            }
        }
        if (loop_.joinable()) loop_.join();
        fuse_session_unmount(se_);  // closes the fd, frees libfuse's copy of the path
        fuse_session_destroy(se_);
    }

private:
    static StallFs* self(fuse_req_t r) { return static_cast<StallFs*>(fuse_req_userdata(r)); }
    static struct stat attr_of(fuse_ino_t ino) {
        struct stat st{};
        st.st_ino = ino;
        st.st_nlink = 1;
        if (ino == 1) {
            st.st_mode = S_IFDIR | 0755;
            st.st_nlink = 2;
        } else {
            st.st_mode = S_IFREG | 0644;
            st.st_size = 1 << 20;
        }
        return st;
    }
    static fuse_lowlevel_ops make_ops() {
        fuse_lowlevel_ops o{};
        o.lookup = [](fuse_req_t r, fuse_ino_t parent, const char* name) {
            if (parent != 1 || strcmp(name, "slow") != 0) {
                fuse_reply_err(r, ENOENT);
                return;
            }
            fuse_entry_param e{};
            e.ino = 2;
            e.attr = attr_of(2);
            e.attr_timeout = e.entry_timeout = 60;
            fuse_reply_entry(r, &e);
        };
        o.getattr = [](fuse_req_t r, fuse_ino_t ino, fuse_file_info*) {
            struct stat st = attr_of(ino);
            fuse_reply_attr(r, &st, 60);
        };
        o.open = [](fuse_req_t r, fuse_ino_t, fuse_file_info* fi) {
            fi->direct_io = 1;  // every read(2) is a FUSE read
            fuse_reply_open(r, fi);
        };
        o.read = [](fuse_req_t r, fuse_ino_t, size_t size, off_t, fuse_file_info*) {
            StallFs* s = self(r);
            std::unique_lock<std::mutex> g(s->mu_);
            if (!s->released_) {
                s->held_.push_back({r, size});  // answered by release()
                return;
            }
            g.unlock();
            std::string zeros(size, '\0');
            fuse_reply_buf(r, zeros.data(), zeros.size());
        };
        return o;
    }

    fuse_session* se_ = nullptr;
    std::string dir_;
    std::thread loop_;
    std::mutex mu_;
    bool released_ = false;
    std::vector<std::pair<fuse_req_t, size_t>> held_;
};

// A peer client driving the server with raw frames (raw_peer.h), whose
// waits may end without a reply (a flushed request's never comes).
class Peer : public test::RawPeer {
public:
    Peer(const std::string& root, int threads) : RawPeer(test::server_options(root, 65536 + 4096, threads)) {}
    // The next reply with this tag, or nullopt after `limit`.
    std::optional<Fcall> wait(uint16_t tag, std::chrono::milliseconds limit = 5s) {
        Fcall out;
        if (!next(tag, out, limit)) return std::nullopt;
        return out;
    }
    int lerr(const std::optional<Fcall>& f) {
        if (!f) return -1;
        if (auto* e = std::get_if<Rlerror>(&f->msg)) return int(e->ecode);
        return 0;
    }
    void setup_slow_fid(uint32_t fid) {
        send(1, Tversion{65536, "9P2000.L"});
        ASSERT_TRUE(wait(1));
        Tattach a;
        a.fid = 0;
        a.afid = NOFID;
        a.uname = "root";
        a.n_uname.value = 0;
        send(1, a);
        ASSERT_EQ(lerr(wait(1)), 0);
        send(1, Twalk{0, fid, {"fuse", "slow"}});
        auto w = wait(1);
        ASSERT_TRUE(w && holds<Rwalk>(*w) && std::get<Rwalk>(w->msg).wqid.size() == 2);
        send(1, Tlopen{fid, O_RDONLY});
        ASSERT_EQ(lerr(wait(1)), 0);
    }
};

class ExportFlush : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "needs root and /dev/fuse";
        char tmpl[] = "/tmp/duct-export-flush-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root = tmpl;
        fs::create_directories(root / "fuse");
        std::string err;
        fuse = std::make_unique<StallFs>();
        if (!fuse->start((root / "fuse").string(), err)) GTEST_SKIP() << err;
    }
    void TearDown() override {
        fuse.reset();  // unmounts it
        if (!root.empty()) {
            umount2((root / "fuse").c_str(), MNT_DETACH);  // in case its unmount failed
            std::error_code ec;
            fs::remove_all(root, ec);
        }
    }
    void wait_held(size_t n) {
        for (int i = 0; i < 100 && fuse->held() < n; i++) std::this_thread::sleep_for(20ms);
        ASSERT_EQ(fuse->held(), n) << "the reads did not reach the FUSE file system";
    }
    fs::path root;
    std::unique_ptr<StallFs> fuse;
};

// Declared after the Peer in a test: whatever happens, the held reads are
// answered before the Peer's server joins its workers.
struct Releaser {
    StallFs& fs;
    ~Releaser() { fs.release(); }
};

}  // namespace

// flush(5): the server should answer Tflush promptly. A request stuck in a
// syscall gets 1 s (export/server.cc kFlushWait); then Rflush goes without
// its reply, which is dropped when the syscall ends, and the tag is free.
TEST_F(ExportFlush, FlushOfAStuckReadIsAnsweredWithinABound) {
    Peer p(root.string(), 4);
    Releaser rel{*fuse};
    p.setup_slow_fid(1);
    p.send(10, Tread{1, 0, 4096});
    wait_held(1);
    auto t0 = std::chrono::steady_clock::now();
    p.send(11, Tflush{10});
    auto rf = p.wait(11, 4s);
    ASSERT_TRUE(rf) << "no Rflush while the flushed read is stuck";
    EXPECT_TRUE(holds<Rflush>(*rf));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    EXPECT_EQ(p.count(10), 0u) << "a reply for the flushed read came after its Rflush";
    // The tag is free: a new request with it is answered as its own.
    p.send(10, Tgetattr{0, GETATTR_BASIC});
    auto g = p.wait(10);
    ASSERT_TRUE(g);
    EXPECT_TRUE(holds<Rgetattr>(*g));
    // The stuck read ends at last: its reply is never sent.
    fuse->release();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(p.count(10), 0u) << "the flushed read was answered after all";
}

// Every worker is stuck in a syscall that does not end: requests on other
// files are still answered (the pool grows past stuck workers).
TEST_F(ExportFlush, StuckWorkersDoNotStarveTheOthers) {
    Peer p(root.string(), 2);
    Releaser rel{*fuse};
    p.setup_slow_fid(1);
    p.send(20, Tread{1, 0, 4096});
    p.send(21, Tread{1, 0, 4096});
    wait_held(2);
    p.send(30, Tgetattr{0, GETATTR_BASIC});
    auto g = p.wait(30, 10s);
    ASSERT_TRUE(g) << "with every worker stuck, nothing else is answered";
    EXPECT_TRUE(holds<Rgetattr>(*g));
    EXPECT_EQ(p.count(20) + p.count(21), 0u);
    fuse->release();
    // The stuck reads finish and are answered.
    for (uint16_t t : {20, 21}) {
        auto r = p.wait(t);
        ASSERT_TRUE(r) << "tag " << t;
        EXPECT_TRUE(holds<Rread>(*r));
    }
}

// With every worker stuck, a flush of a request that has not started is
// answered at once, and that request never runs.
TEST_F(ExportFlush, FlushOfAQueuedRequestIsAnsweredAtOnce) {
    Peer p(root.string(), 2);
    Releaser rel{*fuse};
    p.setup_slow_fid(1);
    p.send(20, Tread{1, 0, 4096});
    p.send(21, Tread{1, 0, 4096});
    wait_held(2);
    p.send(22, Tread{1, 0, 4096});
    p.send(23, Tflush{22});
    auto rf = p.wait(23, 4s);
    ASSERT_TRUE(rf) << "no Rflush for a request still queued";
    EXPECT_TRUE(holds<Rflush>(*rf));
    fuse->release();
    for (uint16_t t : {20, 21}) EXPECT_TRUE(p.wait(t)) << "tag " << t;
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(p.count(22), 0u) << "the flushed request ran after its Rflush";
}
