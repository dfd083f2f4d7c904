// Fid and FidTable: the per-session map from the peer's fid numbers to what
// they name on disk.
//
// A Fid reaches its file through a FileRef (handle.h): a file handle that
// each request opens again as an O_PATH descriptor (Fid::at), or where
// handles do not work an O_PATH|O_NOFOLLOW descriptor it holds. Either way
// every request works relative to the object itself, never re-resolving a
// path through a symlink. It also knows its path relative to the export root
// (needed only where POSIX wants parent+name: rename, remove, xattrs on
// symlinks). Its open state (an opened fd, directory read position, xattr
// buffer) is guarded by Fid::mu.
//
// Threads: any worker may look up, add or remove fids concurrently. The
// table hands out shared_ptr<Fid>, so a request that already holds a fid keeps
// it alive while another request clunks it; the descriptors close when the
// last holder lets go (a request's PathFd is its own).
//
// Lock order: FidTable::mu_ before Fid::mu (in practice neither is held while
// taking the other, except rename's path fix-up, which takes only mu_).
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/fd.h"
#include "export/handle.h"

namespace duct::exp {

// Who the peer said it is at attach; inherited by every fid walked from it.
struct User {
    uid_t uid = 0;
    gid_t gid = 0;
    bool known = false;  // false: act as the server process itself
};

uint64_t next_fid_serial();

struct Fid {
    // ---- fixed at creation (a walk onto the same fid makes a new Fid) ----
    // Names this Fid for its life and is never reused (lock owners keep it,
    // session.h: an address could be reused by a later Fid).
    const uint64_t serial = next_fid_serial();
    FileRef ref;      // how to reach the file (a handle, or O_PATH|O_NOFOLLOW)
    mode_t type = 0;  // S_IFMT bits of the file when walked
    dev_t dev = 0;
    ino_t ino = 0;
    User user;

    // ---- guarded by Fid::mu: open state ----
    std::mutex mu;
    // Set once opened (lopen/lcreate/open/create). Shared so I/O can copy it
    // under mu and then run without mu: reads and writes on one fid proceed
    // concurrently, and a racing clunk cannot close the fd under them.
    std::shared_ptr<Fd> ofd;
    int oflags = -1;      // the flags ofd was opened with
    bool rclose = false;  // 9P2000 ORCLOSE: remove on clunk
    // 9P2000 directory reads: the next valid offset and whole stat records
    // read from the directory but not yet returned (entries are never split).
    uint64_t dir_offset = 0;
    std::deque<std::string> dir_pending;
    bool dir_eof = false;
    // xattr fids: after Txattrwalk (reading) or Txattrcreate (writing).
    enum class Xattr { None, Read, Write } xattr = Xattr::None;
    std::string xname;
    std::string xbuf;
    uint64_t xsize = 0;
    int xflags = 0;
    std::shared_ptr<void> xcharge;  // xbuf's share of the xattr budgets (confine.h)

    // An O_PATH descriptor of the file for one request; ESTALE if it is gone.
    PathFd at(int& err) const { return open_ref(ref, err); }
    std::shared_ptr<Fd> open_fd() {
        std::lock_guard<std::mutex> g(mu);
        return ofd;
    }
    bool is_dir() const { return S_ISDIR(type); }
    bool is_symlink() const { return S_ISLNK(type); }
    bool opened() const { return ofd || xattr != Xattr::None; }  // call with mu held
};

class FidTable {
public:
    explicit FidTable(size_t cap) : cap_(cap) {}
    std::shared_ptr<Fid> get(uint32_t id) const;
    // Inserts; false if id is taken or the table is full (err says which).
    // With `gen` (a request's Ctx::gen), also false (EBADF) once clear()
    // has ended that generation: a request still running when a Tversion
    // came cannot put a fid into the new session.
    bool add(uint32_t id, std::shared_ptr<Fid> f, std::string path, int& err, uint64_t gen = kAnyGen);
    // Replaces the Fid under id (walk onto itself, lcreate, create) if id
    // still holds `expect` (and `gen` is current); false if a racing clunk,
    // walk or Tversion got there first.
    bool replace(uint32_t id, const Fid* expect, std::shared_ptr<Fid> f, std::string path,
                 uint64_t gen = kAnyGen);
    static constexpr uint64_t kAnyGen = ~uint64_t(0);
    // Starts at 0; every clear() starts the next generation.
    uint64_t generation() const { return gen_.load(); }
    // Removes id; returns the Fid (nullptr if it did not exist).
    std::shared_ptr<Fid> remove(uint32_t id);
    std::string path(uint32_t id) const;  // "" for the root or unknown fids
    // The fids whose path is exactly `path`.
    std::vector<std::shared_ptr<Fid>> at_path(const std::string& path) const;
    // After a rename: every fid at `from` or below it now lives under `to`.
    void rename_paths(const std::string& from, const std::string& to);
    // After RENAME_EXCHANGE: fids at or below a now live under b and those
    // at or below b under a, in one step (neither may contain the other).
    void exchange_paths(const std::string& a, const std::string& b);
    // Drops every fid; returns them (with their paths) so the caller can
    // finish each like a clunk (ORCLOSE, pending xattr) and decide where
    // the descriptors close.
    std::vector<std::pair<std::shared_ptr<Fid>, std::string>> clear();
    size_t size() const { return count_.load(std::memory_order_relaxed); }

private:
    struct Entry {
        std::shared_ptr<Fid> fid;
        std::string path;  // relative to the root, no leading '/', "" = root
    };
    const size_t cap_;
    mutable std::mutex mu_;  // guards map_
    std::unordered_map<uint32_t, Entry> map_;
    std::atomic<size_t> count_{0};
    std::atomic<uint64_t> gen_{0};  // written under mu_, read anywhere
};

}  // namespace duct::exp
