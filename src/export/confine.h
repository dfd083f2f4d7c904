// Internal to export/: the checks that keep a peer inside the export and
// keep one peer from exhausting the exporting process, each a small function
// the handlers call (issue 9):
//  - below_root: a directory reached by ".." is still below the export root
//    (a local program may have moved the peer's directory out of it);
//  - parent_of: a fid's remembered path still names the fid's own file
//    before a path-based call (remove, rename, symlink times and xattrs)
//    acts on it; a rename over it or a local rename makes it ESTALE;
//  - own_mount: a walk never enters this duct's own mount (exporting a
//    directory that holds our mount point would loop through both ducts);
//  - open_existing_or_create: Tlcreate of an existing name opens it as a
//    walk + Tlopen would (never blocking on a FIFO, never opening a device);
//  - ByteBudget: xattr buffers are bounded per session and per process.
//
// Threads: all are safe on any worker; the budgets are atomic counters.
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/fd.h"

namespace duct::exp {

struct Session;
struct Fid;

// 0 if `dir` is the export root or below it, ENOENT if climbing its ".."
// chain reaches the host's root without meeting the export root.
int below_root(const Session& s, int dir);

// The directory holding the fid's file under its remembered path, after
// checking that the name there is still that very file (dev, ino); ESTALE if
// it names another file or nothing. Empty Fd + err on failure. A race with a
// local rename between this check and the caller's *at() call remains (no
// syscall removes or renames by descriptor); the window is one syscall.
Fd parent_of(Session& s, const std::string& path, const Fid& f, int& err);

// ELOOP (logged once per session) if `fd` is on this duct's own mount, which
// uplink announces through ServerOptions::own_mount_dev. Asks the kernel
// with AT_STATX_DONT_SYNC, so our FUSE mount is not asked (no request goes
// round the loop to find it).
int own_mount(Session& s, int fd);

// Tlcreate's open: creates `name` (O_EXCL) or, if it exists and the client
// did not ask for O_EXCL, opens the existing file as Tlopen would: symlinks
// ELOOP, device nodes EPERM, directories EISDIR, FIFOs and sockets
// non-blocking. `created` says which. Empty Fd + err on failure.
Fd open_existing_or_create(int dir, const std::string& name, int flags, mode_t mode, bool& created,
                           int& err);

// A byte budget: take() fails instead of going over the cap.
class ByteBudget {
public:
    explicit ByteBudget(size_t cap) : cap_(cap) {}
    bool take(size_t n);
    void give(size_t n) { used_.fetch_sub(n); }
    size_t used() const { return used_.load(); }
    size_t cap() const { return cap_; }

private:
    const size_t cap_;
    std::atomic<size_t> used_{0};
};

// Xattr buffers: at most this much per session and for the whole process
// (a listener serves many peers), so 65,536 fids of 64 KiB cannot be asked.
constexpr size_t kXattrSessionBudget = 16u << 20;
constexpr size_t kXattrProcessBudget = 64u << 20;
ByteBudget& process_xattr_budget();

// Reserves n bytes of the session's and the process's xattr budgets; the
// bytes return when the last copy of the result is dropped (a Fid keeps it
// in Fid::xcharge). nullptr if either budget has no room.
std::shared_ptr<void> reserve_xattr(Session& s, size_t n);

}  // namespace duct::exp
