// POSIX byte-range locks (9P2000.L Tlock/Tgetlock) as open-file-description
// locks (F_OFD_SETLK) on the fid's open fd: each open fid is its own lock
// owner, as each open of the file is on the client, and closing the fid (the
// clunk) drops its locks.
//
// Tlock never blocks a worker: F_OFD_SETLK (not SETLKW) even when the client
// asks for LOCK_FLAGS_BLOCK; contention answers LOCK_BLOCKED and the kernel
// client waits and retries, as with diod. Otherwise a peer could pin every
// worker on locks it holds itself.
// Threads: workers; the fd is copied out under Fid::mu.
#include <fcntl.h>

#include "export/session.h"

namespace duct::exp {

namespace {

int ltype(uint8_t t) {
    switch (t) {
    case p9::LOCK_TYPE_RDLCK: return F_RDLCK;
    case p9::LOCK_TYPE_WRLCK: return F_WRLCK;
    case p9::LOCK_TYPE_UNLCK: return F_UNLCK;
    default: return -1;
    }
}

// 9P ranges are start+length with 0 meaning "to the end", like flock's.
bool range(uint64_t start, uint64_t length, struct flock& fl) {
    if (start > uint64_t(INT64_MAX)) return false;
    fl.l_whence = SEEK_SET;
    fl.l_start = off_t(start);
    fl.l_len = length > uint64_t(INT64_MAX) - start ? 0 : off_t(length);
    return true;
}

}  // namespace

Reply h_Tlock(Ctx& c, const p9::Tlock& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = f->open_fd();
    if (!fd) return fail(EBADF);
    struct flock fl = {};
    fl.l_type = short(ltype(m.type));
    if (fl.l_type < 0 || !range(m.start, m.length, fl)) return fail(EINVAL);
    if (fcntl(fd->get(), F_OFD_SETLK, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) return p9::Rlock{p9::LOCK_BLOCKED};
        return fail_errno();
    }
    return p9::Rlock{p9::LOCK_SUCCESS};
}

Reply h_Tgetlock(Ctx& c, const p9::Tgetlock& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = f->open_fd();
    if (!fd) return fail(EBADF);
    struct flock fl = {};
    fl.l_type = short(ltype(m.type));
    if (fl.l_type < 0 || fl.l_type == F_UNLCK || !range(m.start, m.length, fl)) return fail(EINVAL);
    if (fcntl(fd->get(), F_OFD_GETLK, &fl) != 0) return fail_errno();
    p9::Rgetlock r;
    r.client_id = m.client_id;
    if (fl.l_type == F_UNLCK) {
        r.type = p9::LOCK_TYPE_UNLCK;
        r.start = m.start;
        r.length = m.length;
        r.proc_id = m.proc_id;
        return r;
    }
    r.type = fl.l_type == F_RDLCK ? p9::LOCK_TYPE_RDLCK : p9::LOCK_TYPE_WRLCK;
    r.start = uint64_t(fl.l_start);
    r.length = uint64_t(fl.l_len);
    // OFD lock holders have no pid (-1); a process-lock holder's pid is
    // only meaningful on this machine, but it is all there is to tell.
    r.proc_id = fl.l_pid > 0 ? uint32_t(fl.l_pid) : 0;
    return r;
}

}  // namespace duct::exp
