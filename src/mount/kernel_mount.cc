// KernelMount: the Linux kernel's own 9P client (v9fs) as the mount
// backend. We make a socketpair, mount -t 9p with trans=fd on one end, and
// relay the other end to the channel: the kernel speaks 9P itself (tags,
// fids, flush, caching) and FUSE is out of the path. The kernel's tags are
// the only ones in our mount's direction, so they cannot collide.
//
// Threads: start() runs mount(2) on the caller's thread (it blocks until the
// kernel's Tversion/Tattach have been answered through the relay); the relay
// thread reads the kernel's T-messages and calls `send`; deliver() runs on
// the mux reader thread and writes R-messages to the kernel's socket (the
// kernel reads promptly, so this blocks only briefly). When the kernel
// unmounts, it clunks its fids and closes its end: the relay sees EOF and
// wait() returns, so uplink sends the close frame as with FUSE.
//
// Teardown removes only our own mount: unmount() and channel_lost() check
// in mountinfo (mountpoint.h) that the top mount at the mount point is
// still ours before umount2, which removes whatever is on top. One stacked
// over ours is left alone; ours is then cut off from the kernel (the relay
// socket shut down: its calls fail) and stays below it. unmount() first
// flushes dirty pages (syncfs, bounded), as the FUSE backend does; a mount
// still busy then is detached and cut off the same way, and the files
// processes held on it are counted (files_cut_off) for uplink to report.
//
// Probes (uplink's silent-peer watchdog): the kernel owns the tags of this
// direction, but it allocates them lowest-free-first (idr_alloc), so it
// never reaches kProbeTag while fewer than 65534 requests are in flight; a
// probe is Tflush(tag kProbeTag, oldtag kProbeOld), answered by any 9P
// server with Rflush at once, and its reply is swallowed here, never shown
// to the kernel.
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "mount/mount.h"
#include "mount/mountpoint.h"
#include "proto/codec.h"
#include "proto/trace.h"

namespace duct::mnt {

namespace {

constexpr uint16_t kProbeTag = 0xFFFE, kProbeOld = 0xFFFD;

class KernelMount final : public Mount {
public:
    KernelMount(const MountOptions& o, Send send) : opts_(o), send_(std::move(send)) {}
    ~KernelMount() override {
        if (relay_.joinable()) {
            ::shutdown(ours_.get(), SHUT_RDWR);
            relay_.join();
        }
    }

    void deliver(std::string frame) override {
        if (opts_.trace) trace("<-", frame);
        if (frame.size() >= 7 && p9::frame_tag(frame) == kProbeTag) {
            probing_ = false;  // the answer to our probe, not the kernel's
            return;
        }
        std::lock_guard<std::mutex> g(write_mu_);
        const char* p = frame.data();
        size_t n = frame.size();
        while (n > 0) {
            ssize_t w = ::write(ours_.get(), p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return;  // the kernel closed its end: the relay notices
            p += w;
            n -= size_t(w);
        }
        replies_++;
    }

    bool start(std::string& err) override {
        if (!opts_.idmap.empty() && opts_.idmap != "none") {
            err = "--idmap needs the FUSE backend: the kernel's v9fs maps no ids";
            return false;
        }
        if (!check_mountpoint(opts_.mountpoint, mp_, err)) return false;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            err = std::string("socketpair: ") + strerror(errno);
            return false;
        }
        ours_.reset(sv[0]);
        Fd kernel_end(sv[1]);
        relay_ = std::thread([this] { relay(); });
        std::string version = opts_.dialect == "9P2000" ? "9p2000" : "9p2000.L";
        uint32_t msize = opts_.msize > (1u << 20) ? (1u << 20) : opts_.msize;  // trans=fd's limit
        std::string o = "trans=fd,rfdno=" + std::to_string(kernel_end.get()) +
                        ",wfdno=" + std::to_string(kernel_end.get()) + ",version=" + version +
                        ",msize=" + std::to_string(msize);
        if (!opts_.aname.empty()) o += ",aname=" + opts_.aname;
        if (!opts_.uname.empty()) o += ",uname=" + opts_.uname;
        if (!opts_.kernel_options.empty()) o += "," + opts_.kernel_options;
        if (::mount(opts_.fsname.c_str(), mp_.c_str(), "9p", 0, o.c_str()) < 0) {
            int e = errno;
            err = "mount -t 9p -o " + o + " on " + opts_.mountpoint + ": " + strerror(e);
            if (e == ENODEV) err += " (this kernel has no 9p file system; use --mount-with fuse)";
            ::shutdown(ours_.get(), SHUT_RDWR);
            relay_.join();
            return false;
        }
        auto here = mounts_at(mp_);  // ours is the newest (check_mountpoint found none)
        if (!here.empty() && here.back().fstype == "9p") {
            dev_ = here.back().dev;
            mnt_id_ = here.back().id;
        }
        mounted_ = true;
        // kernel_end closes here: the kernel holds its own references.
        return true;
    }

    void wait() override {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return relay_done_; });
    }

    void channel_lost() override {
        // Detach first so nothing new enters, then cut the kernel's
        // connection: its waiting requests fail with EIO at once.
        if (mounted_ && where() == Place::Top) umount2(mp_.c_str(), MNT_DETACH);
        ::shutdown(ours_.get(), SHUT_RDWR);
    }

    void unmount() override {
        if (!mounted_) return;
        Place w = where();
        if (!flush_within(mp_, w, 10)) log_error("flushing %s took more than 10 s; unmounting it anyway", mp_.c_str());
        if (w == Place::Covered) {
            covered_ = true;
            log_error("another mount is on top of ours at %s; leaving it alone: ours below it is disconnected "
                      "and stays until unmounted (umount %s, twice)",
                      mp_.c_str(), mp_.c_str());
            ::shutdown(ours_.get(), SHUT_RDWR);
            return;
        }
        if (w == Place::Top && umount2(mp_.c_str(), 0) < 0) {
            int e = errno;
            if (e != EBUSY) log_error("unmount %s: %s; detaching it instead", mp_.c_str(), strerror(e));
            size_t held = e == EBUSY && mnt_id_ ? files_held_on(mnt_id_, dev_) : 0;
            umount2(mp_.c_str(), MNT_DETACH);
            if (e == EBUSY) {
                // Still in use: a detached v9fs lives on while anything
                // holds it, and wait() would wait for the last close. Cut
                // it off instead (its calls fail from now on), as the FUSE
                // backend aborts its connection.
                cut_off_ = held;
                ::shutdown(ours_.get(), SHUT_RDWR);
            }
        }
    }

    bool left_covered() const override { return covered_.load(); }
    size_t files_cut_off() const override { return cut_off_.load(); }

    bool probe() override {
        if (!mounted_ || probing_.exchange(true)) return false;
        // Tflush: size[4] type[1]=108 tag[2] oldtag[2], the same in every dialect.
        std::string f(9, '\0');
        const uint8_t b[9] = {9, 0, 0, 0, 108, kProbeTag & 0xFF, kProbeTag >> 8, kProbeOld & 0xFF, kProbeOld >> 8};
        f.assign(reinterpret_cast<const char*>(b), sizeof b);
        if (opts_.trace) trace("->", f);
        send_(std::move(f));
        return true;
    }

    MountStats stats() const override {
        MountStats s;
        s.requests = requests_;
        return s;
    }

private:
    // Where our mount is (no device known: assume on top, as before).
    Place where() const { return dev_.empty() ? Place::Top : place_of(mp_, dev_); }

    void trace(const char* dir, const std::string& frame) {
        p9::Fcall f;
        p9::Dialect d = opts_.dialect == "9P2000" ? p9::Dialect::P2000 : p9::Dialect::L;
        std::string e = p9::decode(frame, d, 0, f);
        log_trace_line(std::string(dir) + " " + (e.empty() ? p9::format(f) : "(undecodable: " + e + ")"));
    }

    // Reads whole frames from the kernel and forwards them.
    void relay() {
        std::string buf;
        char chunk[65536];
        for (;;) {
            ssize_t n = ::read(ours_.get(), chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            buf.append(chunk, size_t(n));
            while (buf.size() >= 4) {
                uint32_t size = p9::frame_size(buf);
                if (size < 7 || size > opts_.msize + 4096) {
                    log_error("kernel 9P client sent a frame of %u bytes; dropping the mount", size);
                    goto out;
                }
                if (buf.size() < size) break;
                std::string frame = buf.substr(0, size);
                buf.erase(0, size);
                if (opts_.trace) trace("->", frame);
                requests_++;
                send_(std::move(frame));
            }
        }
    out:
        std::lock_guard<std::mutex> g(mu_);
        relay_done_ = true;
        cv_.notify_all();
    }

    MountOptions opts_;
    Send send_;
    std::string mp_;   // absolute mount point
    std::string dev_;  // our mount's "major:minor" in mountinfo
    int mnt_id_ = 0;   // and its mount id
    std::atomic<size_t> cut_off_{0};
    std::atomic<bool> covered_{false};
    Fd ours_;
    std::thread relay_;
    std::mutex write_mu_;  // one frame at a time into the kernel's socket
    std::mutex mu_;        // guards relay_done_
    std::condition_variable cv_;
    bool relay_done_ = false;
    std::atomic<bool> mounted_{false};
    std::atomic<bool> probing_{false};  // a probe is on its way (one at a time)
    std::atomic<uint64_t> requests_{0}, replies_{0};
};

}  // namespace

bool Mount::kernel_available() {
    std::ifstream fs("/proc/filesystems");
    std::string line;
    while (std::getline(fs, line))
        if (line.size() >= 3 && line.substr(line.size() - 3) == "\t9p") return true;
    // Not loaded yet: loading it needs modprobe, which root can run.
    return getuid() == 0 && system("modprobe -q 9p 2>/dev/null && modprobe -q 9pnet_fd 2>/dev/null") == 0;
}

std::unique_ptr<Mount> Mount::create_kernel(const MountOptions& opts, Send send) {
    return std::make_unique<KernelMount>(opts, std::move(send));
}

}  // namespace duct::mnt
