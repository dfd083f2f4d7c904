// export: the 9P server over a local directory (9P2000.L, and plain 9P2000
// for Plan 9 / Inferno peers). One Server serves one channel's peer mount.
//
// Threads: handle() is called by the mux reader thread and never blocks on
// the disk: it decodes, records the tag and queues the request to a pool of
// worker threads, which do the syscalls and call `send` with the reply
// frame (send is thread-safe; it queues to the channel writer).
//
// Confinement: nothing outside the export root is reachable: not by ".."
// (even from a directory a local program moved out of the export), not
// through a symlink (walks never follow symlinks; O_PATH fds + *at()
// syscalls with O_NOFOLLOW), not by a name containing '/', and never into
// this duct's own mount (own_mount_dev). See confine.h.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace duct::exp {

struct ServerOptions {
    std::string root;               // directory to export
    uint32_t max_msize = 1u << 20 | 4096;  // largest msize we agree to (plus header room)
    int threads = 8;                // worker pool size
    bool trace = false;             // -D: log every request and reply
    // st_dev of this duct's own mount, 0 until it is up: set by uplink once
    // mounted. A walk into it is refused (ELOOP): an export that holds our
    // own mount point would otherwise loop through both ducts (issue 9).
    std::shared_ptr<std::atomic<uint64_t>> own_mount_dev;
    // Hold fids by file handle where the process and file system allow
    // (handle.h); false: by an O_PATH descriptor each, as without them.
    bool file_handles = true;
    // --read-only: every request that would change a file answers EROFS
    // (policy.h), whatever the dialect.
    bool read_only = false;
    // --as USER: every attach acts as this uid (with its gid and groups),
    // whatever user the peer names; -1: as the peer names (walk.cc).
    int64_t as_uid = -1;
    uint32_t as_gid = 0;
};

struct ServerStats {
    uint64_t requests = 0, errors = 0, bytes_read = 0, bytes_written = 0;
};

class Server {
public:
    using Send = std::function<void(std::string frame)>;
    // Opens root (must be a directory). On failure returns nullptr and sets err.
    static std::unique_ptr<Server> create(const ServerOptions& opts, Send send, std::string& err);
    virtual ~Server() = default;

    // One complete inbound T-message frame (size[4] type tag ...), from the
    // mux reader thread. Malformed frames are answered with an error (or,
    // if not even a tag can be read, logged and dropped).
    virtual void handle(std::string frame) = 0;
    // The peer's mount has closed (control frame): finish in-flight
    // requests, clunk every fid, release every resource. A later Tversion
    // may start a new session.
    virtual void teardown() = 0;
    // True while the peer holds any fid (its mount is in use).
    virtual bool in_use() const = 0;
    // Stop the workers (after teardown or when the channel ends); blocks
    // until every worker has exited. No send() happens after it returns.
    virtual void stop() = 0;
    virtual ServerStats stats() const = 0;
};

}  // namespace duct::exp
