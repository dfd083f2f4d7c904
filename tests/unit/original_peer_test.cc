// A scripted peer that behaves exactly like the original Inferno duct (lab
// 104): it speaks first (Tversion tag NOTAG msize 8216 "9P2000"), its mount
// sends one request at a time with tag 1, its export answers plain 9P2000
// only (msize <= 8216, iounit 8168), it unmounts with Tclunk of its root and
// then the close frame, stops answering after our close frame, and never
// closes the channel itself. Runs the real `duct EXPORT MOUNTPOINT` on a
// socketpair and checks duct's replies byte by byte.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "base/fd.h"
#include "proto/codec.h"
#include "mount/mountpoint.h"

using namespace duct;
using namespace duct::p9;

namespace {

std::string duct_binary() {
    if (const char* b = getenv("DUCT_BUILD")) return std::string(b) + "/duct";
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::string self(buf, n > 0 ? size_t(n) : 0);
    return self.substr(0, self.rfind('/')) + "/../duct";
}

std::string hex(const std::string& s) {
    std::string o;
    char b[4];
    for (unsigned char c : s) { snprintf(b, sizeof b, "%02x ", c); o += b; }
    return o;
}

std::string bytes(std::initializer_list<int> v) {
    std::string s;
    for (int c : v) s.push_back(char(c));
    return s;
}

bool is_mounted(const std::string& path) { return !mnt::mounts_at(path).empty(); }

// The peer: one thread reads the channel; T-messages are served by a tiny
// in-memory 9P2000 file tree (a directory holding "greeting"), R-messages
// go to the scripted mount, which sends one request at a time.
class OriginalPeer {
public:
    explicit OriginalPeer(int fd) : fd_(fd) {}
    ~OriginalPeer() {  // a failed assertion returns early: never leave the reader running
        ::shutdown(fd_, SHUT_RDWR);
        join();
    }

    void start() { reader_ = std::thread([this] { read_loop(); }); }
    void join() { if (reader_.joinable()) reader_.join(); }

    // Sends one request with tag 1 (or NOTAG) and waits for its raw reply.
    std::string rpc(const Fcall& f) {
        std::unique_lock<std::mutex> g(mu_);
        reply_.clear();
        have_reply_ = false;
        g.unlock();
        send(encode(f, Dialect::P2000));
        g.lock();
        cv_.wait_for(g, std::chrono::seconds(10), [&] { return have_reply_ || eof_; });
        return reply_;
    }
    void send(const std::string& frame) {
        std::lock_guard<std::mutex> g(wmu_);
        ASSERT_EQ(::write(fd_, frame.data(), frame.size()), ssize_t(frame.size()));
    }
    bool wait_close_frame(int secs) {
        std::unique_lock<std::mutex> g(mu_);
        return cv_.wait_for(g, std::chrono::seconds(secs), [&] { return got_close_; });
    }
    bool wait_eof(int secs) {
        std::unique_lock<std::mutex> g(mu_);
        return cv_.wait_for(g, std::chrono::seconds(secs), [&] { return eof_; });
    }
    std::vector<std::string> served;      // trace of T-messages duct sent us
    std::vector<std::string> versions;    // the Tversion strings duct's mount offered
    std::atomic<bool> requests_after_close{false};
    std::atomic<int> max_msize_seen{0};

private:
    void read_loop() {
        std::string buf;
        char chunk[65536];
        for (;;) {
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n <= 0) break;
            buf.append(chunk, size_t(n));
            while (buf.size() >= 4 && buf.size() >= frame_size(buf)) {
                uint32_t sz = frame_size(buf);
                if (sz < 5) { buf.clear(); break; }
                std::string fr = buf.substr(0, sz);
                buf.erase(0, sz);
                if (sz == 5 && fr[4] == 0) {
                    std::lock_guard<std::mutex> g(mu_);
                    got_close_ = true;
                    cv_.notify_all();
                } else if (frame_type(fr) % 2 == 1) {
                    std::lock_guard<std::mutex> g(mu_);
                    reply_ = fr;
                    have_reply_ = true;
                    cv_.notify_all();
                } else {
                    serve(fr);
                }
            }
        }
        std::lock_guard<std::mutex> g(mu_);
        eof_ = true;
        cv_.notify_all();
    }

    // The original's export: 9P2000 only, msize <= 8216, iounit 8168.
    void serve(const std::string& fr) {
        if (got_close_) requests_after_close = true;
        Fcall t, r;
        std::string err = decode(fr, Dialect::P2000, 8216, t);
        r.tag = frame_tag(fr);
        served.push_back(err.empty() ? std::to_string(t.type()) : "bad:" + err);
        const std::string content = "hello from inferno\n";
        Qid root{QTDIR, 0, 1}, file{QTFILE, 0, 2};
        auto stat_of = [&](bool dir) {
            Stat s;
            s.qid = dir ? root : file;
            s.mode = dir ? (DMDIR | 0755) : 0644;
            s.length = dir ? 0 : content.size();
            s.name = dir ? "/" : "greeting";
            s.uid = s.gid = s.muid = "inferno";
            s.atime = s.mtime = 1249516800;
            return s;
        };
        if (!err.empty()) {
            r.msg = Rerror{"bad message"};
        } else if (auto* v = std::get_if<Tversion>(&t.msg)) {
            max_msize_seen = int(v->msize);
            {
                std::lock_guard<std::mutex> g(mu_);
                versions.push_back(v->version);
            }
            if (v->version.rfind("9P2000", 0) == 0) r.msg = Rversion{v->msize < 8216 ? v->msize : 8216, "9P2000"};
            else r.msg = Rversion{8216, "unknown"};
        } else if (auto* a = std::get_if<Tattach>(&t.msg)) {
            fids_[a->fid] = true;
            r.msg = Rattach{root};
        } else if (auto* w = std::get_if<Twalk>(&t.msg)) {
            bool from_dir = fids_.count(w->fid) ? fids_[w->fid] : true;
            if (w->wname.empty()) { fids_[w->newfid] = from_dir; r.msg = Rwalk{}; }
            else if (from_dir && w->wname.size() == 1 && w->wname[0] == "greeting") { fids_[w->newfid] = false; r.msg = Rwalk{{file}}; }
            else if (w->wname.size() == 1 && w->wname[0] == "..") { fids_[w->newfid] = true; r.msg = Rwalk{{root}}; }
            else r.msg = Rerror{"file does not exist"};
        } else if (auto* o = std::get_if<Topen>(&t.msg)) {
            bool dir = fids_[o->fid];
            if ((o->mode & 3) != OREAD) r.msg = Rerror{"permission denied"};
            else r.msg = Ropen{dir ? root : file, 8168};
        } else if (auto* rd = std::get_if<Tread>(&t.msg)) {
            std::string data;
            if (fids_[rd->fid]) {
                std::string all;
                append_stat(all, stat_of(false));
                if (rd->offset == 0) data = all;
            } else if (rd->offset < content.size()) {
                data = content.substr(size_t(rd->offset), rd->count);
            }
            r.msg = Rread{Data{data}};
        } else if (auto* st = std::get_if<Tstat>(&t.msg)) {
            r.msg = Rstat{stat_of(fids_[st->fid])};
        } else if (auto* c = std::get_if<Tclunk>(&t.msg)) {
            fids_.erase(c->fid);
            r.msg = Rclunk{};
        } else if (std::get_if<Tflush>(&t.msg)) {
            r.msg = Rflush{};
        } else {
            r.msg = Rerror{"permission denied"};
        }
        send(encode(r, Dialect::P2000));
    }

    int fd_;
    std::thread reader_;
    std::mutex mu_, wmu_;
    std::condition_variable cv_;
    std::string reply_;
    bool have_reply_ = false, got_close_ = false, eof_ = false;
    std::map<uint32_t, bool> fids_;  // fid -> is the directory
};

// Kills duct and removes its mount if the test body returns early.
struct ChildGuard {
    pid_t& pid;
    std::string mnt;
    ~ChildGuard() {
        if (pid > 0) { kill(pid, SIGKILL); waitpid(pid, nullptr, 0); }
        if (is_mounted(mnt)) umount2(mnt.c_str(), MNT_DETACH);
    }
};

struct TempDir {
    std::string path;
    TempDir(const char* tag) {
        std::string t = std::string(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp") + "/duct-orig-" + tag + ".XXXXXX";
        path = mkdtemp(t.data());
    }
    ~TempDir() { std::string c = "rm -rf '" + path + "'"; (void)!system(c.c_str()); }
};

}  // namespace

TEST(OriginalPeer, BothDirectionsAndTheOriginalsLifecycle) {
    if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse: cannot mount";
    std::string duct = duct_binary();
    if (access(duct.c_str(), X_OK) != 0) GTEST_SKIP() << "duct binary not found at " << duct;
    TempDir exp("exp"), mnt("mnt");
    { std::ofstream(exp.path + "/hello") << "hi\n"; }

    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Fd ours(sv[0]);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        execl(duct.c_str(), "duct", exp.path.c_str(), mnt.path.c_str(), (char*)nullptr);
        _exit(127);
    }
    close(sv[1]);
    ChildGuard guard{pid, mnt.path};
    OriginalPeer peer(ours.get());
    peer.start();

    // It speaks first: Tversion tag NOTAG msize 8216 "9P2000".
    std::string rv = peer.rpc(Fcall{NOTAG, Tversion{8216, "9P2000"}});
    EXPECT_EQ(hex(rv), hex(bytes({0x13, 0, 0, 0, 101, 0xff, 0xff, 0x18, 0x20, 0, 0, 6, 0, '9', 'P', '2', '0', '0', '0'})));
    std::string ra = peer.rpc(Fcall{1, Tattach{0, NOFID, "inferno", "", {}}});
    ASSERT_EQ(ra.size(), 20u) << hex(ra);
    EXPECT_EQ(frame_type(ra), 105);
    EXPECT_EQ(frame_tag(ra), 1);
    EXPECT_EQ(uint8_t(ra[7]), QTDIR);
    std::string rw = peer.rpc(Fcall{1, Twalk{0, 1, {"hello"}}});
    ASSERT_EQ(rw.size(), 9u + 13u) << hex(rw);
    EXPECT_EQ(hex(rw.substr(0, 9)), hex(bytes({22, 0, 0, 0, 111, 1, 0, 1, 0})));
    std::string ro = peer.rpc(Fcall{1, Topen{1, OREAD}});
    ASSERT_EQ(ro.size(), 24u) << hex(ro);
    EXPECT_EQ(frame_type(ro), 113);
    uint32_t iounit = frame_size(ro.substr(20, 4));
    EXPECT_GT(iounit, 0u);
    EXPECT_LE(iounit, 8216u - IOHDRSZ);
    std::string rr = peer.rpc(Fcall{1, Tread{1, 0, 8168}});
    EXPECT_EQ(hex(rr), hex(bytes({14, 0, 0, 0, 117, 1, 0, 3, 0, 0, 0, 'h', 'i', '\n'})));
    std::string rs = peer.rpc(Fcall{1, Tstat{1}});
    Fcall st;
    ASSERT_EQ(decode(rs, Dialect::P2000, 8216, st), "") << hex(rs);
    ASSERT_TRUE(std::holds_alternative<Rstat>(st.msg));
    EXPECT_EQ(std::get<Rstat>(st.msg).stat.name, "hello");
    EXPECT_EQ(std::get<Rstat>(st.msg).stat.length, 3u);
    EXPECT_EQ(hex(peer.rpc(Fcall{1, Tclunk{1}})), hex(bytes({7, 0, 0, 0, 121, 1, 0})));
    std::string rbad = peer.rpc(Fcall{1, Twalk{0, 2, {"nonexistent"}}});
    Fcall e;
    ASSERT_EQ(decode(rbad, Dialect::P2000, 8216, e), "");
    ASSERT_TRUE(std::holds_alternative<Rerror>(e.msg)) << hex(rbad);
    EXPECT_EQ(std::get<Rerror>(e.msg).ename, "file does not exist");

    // Our mount of the peer: duct's mount offered its duct extension
    // ("9P2000.L.duct.1"), then 9P2000.L; the original answered 9P2000 to
    // both (Inferno cuts a version at its first '.'), so duct must have
    // fallen back to plain 9P2000 and sent none of the extension's messages.
    bool mounted = false;
    for (int i = 0; i < 100 && !mounted; i++) {
        mounted = is_mounted(mnt.path);
        if (!mounted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(mounted) << "duct did not mount the 9P2000-only peer";
    {
        std::vector<std::string> want = {duct_version(kDuctLevel), "9P2000.L"};
        EXPECT_EQ(peer.versions, want);
    }
    std::ifstream in(mnt.path + "/greeting");
    std::string got((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(got, "hello from inferno\n");
    EXPECT_LE(peer.max_msize_seen.load(), int((1u << 20) + 4096));

    // The original unmounts: Tclunk of its root, then the close frame.
    EXPECT_EQ(hex(peer.rpc(Fcall{1, Tclunk{0}})), hex(bytes({7, 0, 0, 0, 121, 1, 0})));
    peer.send(std::string("\x05\x00\x00\x00\x00", 5));
    // Our side's mount still works after the peer's mount closed.
    std::ifstream in2(mnt.path + "/greeting");
    std::string again((std::istreambuf_iterator<char>(in2)), {});
    EXPECT_EQ(again, "hello from inferno\n");

    // Files open on the mount would make the unmount below fail (EBUSY).
    in.close();
    in2.close();
    // Unmount ours: duct clunks and sends its close frame, then (both
    // directions done) shuts its write side; the original never closes first.
    ASSERT_EQ(system(("fusermount3 -u '" + mnt.path + "'").c_str()), 0);
    EXPECT_TRUE(peer.wait_close_frame(5)) << "duct sent no close frame after its mount closed";
    EXPECT_TRUE(peer.wait_eof(5)) << "duct did not shut its write side after both directions ended";
    EXPECT_FALSE(peer.requests_after_close.load()) << "duct sent a T-message after its close frame";
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) { pid = -1; break; }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid > 0) { kill(pid, SIGKILL); waitpid(pid, &status, 0); }
    EXPECT_EQ(pid, -1) << "duct did not exit within 5 s";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    ours.reset();
    peer.join();
    EXPECT_FALSE(is_mounted(mnt.path));
    // Everything duct's mount sent was plain 9P2000 (types 100..127).
    for (const std::string& t : peer.served) EXPECT_TRUE(t.rfind("bad:", 0) != 0 && std::stoi(t) >= 100) << t;
}
