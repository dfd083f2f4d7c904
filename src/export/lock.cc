// POSIX byte-range locks (9P2000.L Tlock/Tgetlock) as open-file-description
// locks (F_OFD_SETLK). The owner of a lock is the peer's process, named by
// (client_id, proc_id), not the fid: each owner gets one open file
// description of the file of its own (Session::locks, see session.h), so two
// fids of one remote process never conflict with each other, as two
// descriptors of one local process do not. An owner's description is closed
// when it unlocks the whole file (what a client sends on close) or when the
// last fid that locked through it is clunked.
//
// Tlock never blocks a worker: F_OFD_SETLK (not SETLKW) even when the client
// asks for LOCK_FLAGS_BLOCK; contention answers LOCK_BLOCKED and the kernel
// client waits and retries, as with diod. Otherwise a peer could pin every
// worker on locks it holds itself.
// Threads: workers; the fd is copied out under Fid::mu, owners under
// LockOwners::mu (held across the owner's open and fcntl: both are quick,
// local and never wait on another lock holder).
//
// flock (the duct extension, table.h): a Tlock with LOCK_FLAGS_FLOCK is a
// BSD flock(2) on the fid's OWN open descriptor. flock belongs to an open
// file description, and each open on the mounting side is its own fid with
// its own description here, so two opens conflict, a dup or fork shares,
// and the exporting side's own flock(2) callers see it. It is released by
// LOCK_UN or when the fid is clunked (release: its descriptor closes).
// LOCK_NB always, for the reason above: contention is LOCK_BLOCKED.
#include <fcntl.h>
#include <sys/file.h>

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

namespace {

Reply flock_fid(Fid& f, uint8_t type) {
    int op;
    switch (type) {
    case p9::LOCK_TYPE_RDLCK: op = LOCK_SH; break;
    case p9::LOCK_TYPE_WRLCK: op = LOCK_EX; break;
    case p9::LOCK_TYPE_UNLCK: op = LOCK_UN; break;
    default: return fail(EINVAL);
    }
    auto fd = f.open_fd();
    if (!fd) return fail(EBADF);
    if (flock(fd->get(), op | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) return p9::Rlock{p9::LOCK_BLOCKED};
        return fail_errno();
    }
    return p9::Rlock{p9::LOCK_SUCCESS};
}

}  // namespace

Reply h_Tlock(Ctx& c, const p9::Tlock& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    if (m.flags & p9::LOCK_FLAGS_FLOCK) {
        // Only a duct that negotiated the extension means flock by this
        // bit; from anyone else it is a flag 9P2000.L does not define.
        if (!c.s.duct()) return fail(EINVAL);
        return flock_fid(*f, m.type);
    }
    int oflags;
    {
        std::lock_guard<std::mutex> g(f->mu);
        if (!f->ofd) return fail(EBADF);
        oflags = f->oflags;
    }
    struct flock fl = {};
    fl.l_type = short(ltype(m.type));
    if (fl.l_type < 0 || !range(m.start, m.length, fl)) return fail(EINVAL);
    // fcntl(2): a read lock needs a descriptor open for reading, a write
    // lock one open for writing — the fid's, whatever the owner's is.
    int acc = oflags & O_ACCMODE;
    if ((fl.l_type == F_RDLCK && acc == O_WRONLY) || (fl.l_type == F_WRLCK && acc == O_RDONLY)) return fail(EBADF);
    // A key of the owner table (limits.h): bounded like the table itself.
    if (m.client_id.size() > kMaxLockClient) return fail(ENAMETOOLONG);
    LockOwners& lo = c.s.locks;
    LockOwners::Key key{f->dev, f->ino, m.client_id, m.proc_id};
    std::lock_guard<std::mutex> g(lo.mu);
    auto it = lo.map.find(key);
    if (it == lo.map.end()) {
        if (fl.l_type == F_UNLCK) return p9::Rlock{p9::LOCK_SUCCESS};  // holds nothing
        if (lo.map.size() >= kMaxLockOwners) return fail(ENOLCK);
        int err = 0;
        Fd ofd = reopen_fid(*f, O_RDWR, err);  // read and write locks alike
        if (!ofd.valid()) ofd = reopen_fid(*f, acc, err);
        if (!ofd.valid()) return fail(err);
        it = lo.map.emplace(key, LockOwners::Owner{std::make_shared<Fd>(std::move(ofd)), {}}).first;
    }
    if (fcntl(it->second.fd->get(), F_OFD_SETLK, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) return p9::Rlock{p9::LOCK_BLOCKED};
        return fail_errno();
    }
    if (fl.l_type == F_UNLCK && fl.l_start == 0 && fl.l_len == 0) {
        lo.map.erase(it);  // holds nothing now
    } else {
        it->second.fids.insert(f->serial);
        // A clunk (or a replace) that ran meanwhile has already released
        // this Fid's owners: undo, or the owner would never be closed.
        if (c.s.fids.get(m.fid) != f) {
            it->second.fids.erase(f->serial);
            if (it->second.fids.empty()) lo.map.erase(it);
        }
    }
    return p9::Rlock{p9::LOCK_SUCCESS};
}

void release_locks(Session& s, const Fid& f) {
    std::lock_guard<std::mutex> g(s.locks.mu);
    for (auto it = s.locks.map.begin(); it != s.locks.map.end();) {
        it->second.fids.erase(f.serial);
        if (it->second.fids.empty()) it = s.locks.map.erase(it);
        else ++it;
    }
}

Reply h_Tgetlock(Ctx& c, const p9::Tgetlock& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = f->open_fd();
    if (!fd) return fail(EBADF);
    struct flock fl = {};
    fl.l_type = short(ltype(m.type));
    if (fl.l_type < 0 || fl.l_type == F_UNLCK || !range(m.start, m.length, fl)) return fail(EINVAL);
    if (m.client_id.size() > kMaxLockClient) return fail(ENAMETOOLONG);  // as Tlock
    {
        // Asked through the owner's own description, its own locks do not
        // count as conflicts (F_GETLK semantics); the fid's description
        // never holds locks, so it sees every owner's.
        std::lock_guard<std::mutex> g(c.s.locks.mu);
        auto it = c.s.locks.map.find(LockOwners::Key{f->dev, f->ino, m.client_id, m.proc_id});
        if (it != c.s.locks.map.end()) fd = it->second.fd;
    }
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
