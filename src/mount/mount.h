// mount: the 9P client and the FUSE file system in front of it, seen from
// uplink as one object. The peer's export appears at the mount point.
//
// Threads: deliver() is called by the mux reader thread with R-message
// frames and only hands each reply to the waiting caller (never blocks on
// FUSE or the disk). FUSE runs its own multithreaded loop; each FUSE worker
// sends T-messages through `send` (thread-safe) and waits for its reply.
// An interrupted FUSE request sends Tflush for its tag.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace duct::mnt {

struct MountOptions {
    std::string mountpoint;
    std::string dialect = "9P2000.L";      // offered in Tversion; peer may answer "9P2000"
    uint32_t msize = (1u << 20) + 4096;    // offered msize: 1 MiB of data plus headers
    std::string uname;                     // Tattach uname (default: our user name)
    std::string aname;                     // Tattach aname
    bool trace = false;                    // -D
    std::string fsname = "duct";           // shown in /proc/mounts
    std::string kernel_options;            // extra -o options for the kernel backend (e.g. cache=loose)
    std::string idmap = "none";            // none, user or file:PATH (idmap.h); FUSE backend only
    int cache_timeout = 0;                 // --cache-timeout: seconds, with the peer's change feed; 0 = no feed
    int timeout = 0;                       // --timeout: a request this many seconds overdue fails (EIO); 0 = never
};

struct MountStats {
    uint64_t requests = 0, errors = 0, bytes_read = 0, bytes_written = 0;
};

class Mount {
public:
    using Send = std::function<void(std::string frame)>;
    static std::unique_ptr<Mount> create(const MountOptions& opts, Send send);
    // The kernel's v9fs as the backend (mount -t 9p -o trans=fd over a
    // socketpair the mux feeds); see kernel_mount.cc.
    static std::unique_ptr<Mount> create_kernel(const MountOptions& opts, Send send);
    // True when this kernel has (or can load) the 9p file system.
    static bool kernel_available();
    virtual ~Mount() = default;

    // An inbound R-message frame, from the mux reader thread.
    virtual void deliver(std::string frame) = 0;
    // Tversion + Tattach, then the FUSE mount. Blocks until mounted or
    // failed (err says why: peer refused, bad mount point, no FUSE, ...).
    // Needs the mux reader running, since replies arrive through deliver().
    virtual bool start(std::string& err) = 0;
    // Blocks while the mount is in use; returns once it is gone: unmounted
    // by the user (fusermount3 -u / umount), by unmount(), or by
    // channel_lost(). After a user unmount the root fid has been clunked,
    // so the caller may send the close frame.
    virtual void wait() = 0;
    // The channel is gone: every waiting and later request fails with EIO
    // at once, the mount is detached (lazy unmount), wait() returns.
    virtual void channel_lost() = 0;
    // Orderly unmount (SIGINT/SIGTERM): what write(2) wrote is already with
    // the peer (no write-back caching); dirty pages of shared mmaps are
    // flushed first (syncfs, bounded). Then unmount (detach, if files are
    // still open) and make wait() return. Only our own mount is removed:
    // one that someone stacked on top of ours is left alone.
    virtual void unmount() = 0;
    // Sends one cheap request the peer must answer at once (a Tflush that
    // names no request), for uplink's silent-peer watchdog: its reply shows
    // the peer is alive. Fire and forget; false if nothing was sent (not
    // mounted, channel lost, or the backend cannot probe).
    virtual bool probe() { return false; }
    virtual MountStats stats() const = 0;
    // After wait(): how many files were still open when unmount() had to
    // detach the mount (they were cut off: their processes get errors), and
    // whether our mount had to be left in place because another mount was
    // stacked on top of it (umount2 would have removed that one instead).
    virtual size_t files_cut_off() const { return 0; }
    virtual bool left_covered() const { return false; }
};

}  // namespace duct::mnt
