// The duct extension's handlers (table.h, the Duct rows): Tfallocate. They
// exist only in a session whose Tversion agreed on "9P2000.L.duct.N"
// (server.cc gives them slots in that session's table alone); the flock
// flag of Tlock is in lock.cc.
//
// Each does exactly the syscall the mounting side's caller made, on the
// fid's own open descriptor, and answers its errno unchanged: what the
// exported file system supports is what the mount supports.
//
// Threads: workers. The open fd is copied out under Fid::mu and used
// without it, as reads and writes do (io.cc).
#include <fcntl.h>

#include "export/session.h"

namespace duct::exp {

namespace {

// The open descriptor of an opened, non-xattr fid, or nullptr.
std::shared_ptr<Fd> opened_fd(Fid& f) {
    std::lock_guard<std::mutex> g(f.mu);
    if (f.xattr != Fid::Xattr::None) return nullptr;
    return f.ofd;
}

}  // namespace

// fallocate(2) on the fid's open file: every mode the exported file system
// has (allocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE/INSERT_RANGE
// ...), with its own errors (EOPNOTSUPP, EBADF for a read-only fid, EFBIG).
Reply h_Tfallocate(Ctx& c, const p9::Tfallocate& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = opened_fd(*f);
    if (!fd) return fail(EBADF);
    // off_t is signed: larger values are the negative ones fallocate(2)
    // refuses with EINVAL; say so without relying on the cast.
    if (m.offset > uint64_t(INT64_MAX) || m.length > uint64_t(INT64_MAX)) return fail(EINVAL);
    if (fallocate(fd->get(), int(m.mode), off_t(m.offset), off_t(m.length)) != 0) return fail_errno();
    return p9::Rfallocate{};
}

}  // namespace duct::exp
