// How a Fid reaches its file without holding it open: a file handle
// (name_to_handle_at), opened again (open_by_handle_at, O_PATH) for each
// request that needs a descriptor, as virtiofsd's --inode-file-handles and
// libfuse's passthrough_hp do.
//
// Why: the peer's kernel keeps a fid per cached inode. Were each fid an open
// descriptor, a file deleted on the exporting disk would keep its blocks
// until the peer's kernel forgets it (19 MiB of a 20 MiB tmpfs stayed used),
// and `ls -l` of a large directory would run out of descriptors for the
// whole export. A handle holds neither: a deleted file's handle answers
// ESTALE (a deleted directory's only once it has left its mount's recent
// ones, MountRef::remember).
//
// Where handles cannot be used, a fid holds an O_PATH descriptor as before:
// when the process cannot open handles (no CAP_DAC_READ_SEARCH; checked once
// at start on the root), on a file system that makes no handles
// (name_to_handle_at fails: /proc, some FUSE file systems) or cannot open
// the ones it makes (checked once per mount).
//
// Confinement: open_by_handle_at reaches any file of a file system, so only
// handles this server made itself, of files it reached by walking below the
// root (or created there), are ever opened; none comes from the peer.
//
// open_by_handle_at needs a descriptor on the handle's mount (the result is
// attached to that mount, which matters to a later ".."): one MountRef per
// mount, shared by the handles made on it, closed with the last of them. It
// is a directory of that mount opened for reading (the first seen, or a
// file's parent; the kernel refuses an O_PATH one), never a file the
// exporting side may delete.
//
// Threads: any worker. A FileRef is immutable once made, but for what a
// FileHandle remembers under its own mutex (a pin, a recent descriptor);
// Handles::mu_ guards the mount table, MountRef::recent_mu_ its ring.
// Lock order: FileHandle::mu_ and MountRef::recent_mu_ are never held
// together; Handles::mu_ is taken with neither.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "base/fd.h"

namespace duct::exp {

struct MountRef {
    int id = -1;         // the mount id name_to_handle_at gave
    Fd fd;               // a directory on that mount (O_RDONLY): open_by_handle_at's mount_fd
    bool usable = false;  // open_by_handle_at works there (tried once)

    // The directories of this mount opened last (FileHandle::open_): a
    // walk, a create or a readdir's lookups work in a directory, and the
    // next request usually works in the same one (`ls -l`: every lookup in
    // one parent), so it is opened once, not per request. Bounded: it
    // holds kRecentDirs descriptors and pins as many (empty, if deleted)
    // directories, the oldest dropped first.
    static constexpr size_t kRecentDirs = 16;
    void remember(std::shared_ptr<const Fd> dir) const;

private:
    mutable std::mutex recent_mu_;  // guards recent_, next_ (a leaf lock)
    mutable std::shared_ptr<const Fd> recent_[kRecentDirs];
    mutable size_t next_ = 0;
};

struct FileHandle {
    std::shared_ptr<const MountRef> mnt;
    std::vector<unsigned char> buf;  // a struct file_handle and its f_handle bytes
    bool dir = false;                // a directory: its descriptor is shared while recent

    // A directory removed through this export while the peer still knows
    // it (a shell's cwd) has no name and nothing holding it: its handle
    // would be stale at once, where a local stat(".") still works. Such a
    // handle is pinned to an O_PATH descriptor of the removed directory
    // (an empty inode) until the fids sharing it are clunked.
    void pin(std::shared_ptr<const Fd> fd) const;
    std::shared_ptr<const Fd> pinned() const;
    // A directory's descriptor opened by a request still alive (in use, or
    // among its mount's recent ones), else nullptr; and the one just opened.
    std::shared_ptr<const Fd> recent() const;
    void opened(const std::shared_ptr<const Fd>& fd) const;

private:
    mutable std::atomic<bool> has_pin_{false};  // fast path: no lock unless pinned
    mutable std::mutex mu_;                      // guards pin_, open_ (a leaf lock)
    mutable std::shared_ptr<const Fd> pin_;
    mutable std::weak_ptr<const Fd> open_;
};

// What a Fid holds: exactly one of a handle and (the fallback) an O_PATH fd.
struct FileRef {
    std::shared_ptr<const FileHandle> fh;
    std::shared_ptr<const Fd> pfd;
    bool by_handle() const { return bool(fh); }
};

// An O_PATH descriptor for the length of one request: opened from the
// handle and closed at the end of the request, or a share of the fid's own
// fallback descriptor (so a racing clunk cannot close it under the request).
class PathFd {
public:
    PathFd() = default;
    explicit PathFd(Fd own) : own_(std::move(own)) {}
    explicit PathFd(std::shared_ptr<const Fd> held) : held_(std::move(held)) {}
    int get() const { return held_ ? held_->get() : own_.get(); }
    explicit operator bool() const { return get() >= 0; }

private:
    std::shared_ptr<const Fd> held_;
    Fd own_;
};

// Is `name` in directory `dir` (not followed) the very file h names? By the
// handle's bytes, which carry the inode's generation: once no descriptor
// holds a deleted file, its inode number can come back at once for a new
// one (a symlink replaced in place), which dev/ino alone cannot tell.
// True where the name's handle cannot be made (the caller has checked
// dev/ino already).
bool handle_names(const FileHandle& h, int dir, const char* name);

// Opens what r names (O_PATH, never following a symlink). err: ESTALE when
// the file is gone, EMFILE/ENFILE when out of descriptors.
PathFd open_ref(const FileRef& r, int& err);

class Handles {
public:
    // Once, at start, on the export root: do handles work in this process?
    void init(int root);
    bool enabled() const { return enabled_; }
    // A FileRef for the object `fd` (O_PATH) names: a handle if possible,
    // else fd itself. `parent` is a directory holding it on the same mount,
    // or -1; a new mount's MountRef pins that rather than a file.
    FileRef hold(Fd fd, int parent, bool dir);
    // The handle alone (nullptr where handles do not work); fd stays the
    // caller's.
    std::shared_ptr<const FileHandle> handle_of(int fd, int parent, bool dir);

private:
    std::shared_ptr<const MountRef> mount_of(int id, int fd, int parent, const void* handle);

    bool enabled_ = false;
    mutable std::mutex mu_;  // guards mounts_ (a leaf lock)
    std::unordered_map<int, std::weak_ptr<const MountRef>> mounts_;
};

}  // namespace duct::exp
