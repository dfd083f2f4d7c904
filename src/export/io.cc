// File I/O handlers: Tlopen, Tlcreate, Tread, Twrite, Tfsync (Tread and
// Twrite serve both dialects; 9P2000 directory reads and xattr fids branch
// off to dir.cc and xattr.cc).
//
// Opening: a fid holds only a handle (or an O_PATH descriptor); to open it
// we take an O_PATH descriptor for the request (Fid::at) and reopen
// /proc/self/fd/N, which names that very inode without resolving any path.
// A symlink fid is refused with ELOOP (opening it would follow it), and
// device nodes are refused with EPERM: clients open device files on their
// own side, and a node a root peer made with Tmknod must never give it the
// host's disks. FIFOs and sockets open non-blocking so no worker waits
// forever for a peer that never comes.
//
// Threads: workers. Reads and writes copy the fid's shared open fd under
// Fid::mu, then do the I/O without it, so one fid serves many at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/session.h"

namespace duct::exp {

std::shared_ptr<Fid> fid_of_created(Session& s, Fd fd, int dir, int oflags, const User& u,
                                    struct stat& st, int& err) {
    if ((err = stat_fd(fd.get(), st))) return nullptr;
    auto nf = std::make_shared<Fid>();
    nf->ref.fh = s.handles.handle_of(fd.get(), dir, S_ISDIR(st.st_mode));
    if (!nf->ref.fh) {
        Fd pfd(open(proc_path(fd.get()).c_str(), O_PATH | O_CLOEXEC));
        if (!pfd) {
            err = errno;
            return nullptr;
        }
        nf->ref.pfd = std::make_shared<const Fd>(std::move(pfd));
    }
    nf->type = st.st_mode & S_IFMT;
    nf->dev = st.st_dev;
    nf->ino = st.st_ino;
    nf->user = u;
    nf->ofd = std::make_shared<Fd>(std::move(fd));
    nf->oflags = oflags;
    return nf;
}

Fd reopen_fid(const Fid& f, int flags, int& err) {
    if (f.is_symlink()) {
        err = ELOOP;
        return {};
    }
    if (S_ISCHR(f.type) || S_ISBLK(f.type)) {
        err = EPERM;
        return {};
    }
    if (S_ISFIFO(f.type) || S_ISSOCK(f.type)) flags |= O_NONBLOCK;
    flags &= ~(O_CREAT | O_EXCL);
    flags |= O_CLOEXEC | O_NOCTTY;
    if (f.is_dir()) flags |= O_DIRECTORY;
    PathFd p = f.at(err);
    if (!p) return {};
    Fd fd(open(proc_path(p.get()).c_str(), flags));
    if (!fd) err = errno;
    return fd;
}

Reply h_Tlopen(Ctx& c, const p9::Tlopen& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    std::lock_guard<std::mutex> g(f->mu);
    if (f->opened()) return fail(EBUSY);
    int flags = oflags_from_l(m.flags);
    int err = 0;
    Fd fd = reopen_fid(*f, flags, err);
    if (!fd) return fail(err);
    struct stat st;
    if (int e = stat_fd(fd.get(), st)) return fail(e);
    f->ofd = std::make_shared<Fd>(std::move(fd));
    f->oflags = flags;
    return p9::Rlopen{qid_of(c.s, st), c.s.iounit()};
}

// Tlcreate: create and open `name` in directory fid; the fid then names the
// new file (open). Tlcreateattr (duct extension) puts the open file in a new
// fid instead, leaving the directory fid as it is, and answers the file's
// attributes too.
namespace {
Reply create_open(Ctx& c, uint32_t dfid, uint32_t newfid, const std::string& name, uint32_t lflags,
                  uint32_t lmode, uint32_t gid, struct stat& st, uint32_t* xnone) {
    auto f = c.fid(dfid);
    if (!f) return fail(EBADF);
    if (newfid != dfid && c.s.fids.get(newfid)) return fail(EBADF);
    if (int e = check_name(name)) return fail(e);
    if (!f->is_dir()) return fail(ENOTDIR);
    if (newfid == dfid) {
        std::lock_guard<std::mutex> g(f->mu);
        if (f->opened()) return fail(EBUSY);
    }
    c.as_group(*f, gid);
    int flags = (oflags_from_l(lflags) & ~O_DIRECTORY) | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    mode_t mode = lmode & 07777;
    // An existing name opens as walk + Tlopen would (a FIFO must not block
    // this worker, a device node must not open): confine.h.
    int err = 0;
    PathFd dir = f->at(err);
    if (!dir) return fail(err);
    bool created = false;
    Fd fd = open_existing_or_create(dir.get(), name, flags, mode, created, err);
    if (!fd) return fail(err);
    if (created) fix_mode(dir.get(), name.c_str(), mode);
    if (xnone) *xnone = xattrs_absent(fd.get(), S_IFREG);
    auto nf = fid_of_created(c.s, std::move(fd), dir.get(), flags, f->user, st, err);
    if (!nf) return fail(err);
    std::string path = join(c.s.fids.path(dfid), name);
    if (newfid == dfid) {
        if (!c.s.fids.replace(dfid, f.get(), std::move(nf), path, c.gen)) return fail(EBADF);
        release_locks(c.s, *f);
    } else if (!c.s.fids.add(newfid, std::move(nf), path, err, c.gen)) {
        return fail(err);
    }
    return Reply(0, {});
}
}  // namespace

Reply h_Tlcreate(Ctx& c, const p9::Tlcreate& m) {
    struct stat st;
    Reply r = create_open(c, m.fid, m.fid, m.name, m.flags, m.mode, m.gid, st, nullptr);
    if (r.err) return r;
    return p9::Rlcreate{qid_of(c.s, st), c.s.iounit()};
}

Reply h_Tlcreateattr(Ctx& c, const p9::Tlcreateattr& m) {
    struct stat st;
    uint32_t xnone = 0;
    Reply r = create_open(c, m.dfid, m.newfid, m.name, m.flags, m.mode, m.gid, st, &xnone);
    if (r.err) return r;
    p9::Rlcreateattr out;
    out.iounit = c.s.iounit();
    out.xnone = xnone;
    p9::copy_attrs(getattr_of(c.s, st), out);
    return out;
}

Reply h_Tread(Ctx& c, const p9::Tread& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    uint32_t count = std::min(m.count, c.s.iounit());  // never more than msize allows
    std::shared_ptr<Fd> fd;
    {
        std::lock_guard<std::mutex> g(f->mu);
        if (f->xattr == Fid::Xattr::Read) return read_xattr(*f, m.offset, count);
        if (f->xattr == Fid::Xattr::Write) return fail(EBADF);
        if (!f->ofd) return fail(EBADF);
        if ((f->oflags & O_ACCMODE) == O_WRONLY) return fail(EBADF);
        if (f->is_dir() && c.s.plain()) return read_dir_plain(c, *f, m.offset, count);
        fd = f->ofd;
    }
    if (m.offset > uint64_t(INT64_MAX)) return fail(EINVAL);
    std::string buf(count, '\0');
    ssize_t n = pread(fd->get(), buf.data(), count, off_t(m.offset));
    if (n < 0) return fail_errno();
    buf.resize(size_t(n));
    c.s.n_read += uint64_t(n);
    return p9::Rread{p9::Data{std::move(buf)}};
}

Reply h_Twrite(Ctx& c, const p9::Twrite& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    std::shared_ptr<Fd> fd;
    bool append = false;
    {
        std::lock_guard<std::mutex> g(f->mu);
        if (f->xattr == Fid::Xattr::Write) return write_xattr(*f, m.offset, m.data.bytes);
        if (f->xattr == Fid::Xattr::Read) return fail(EBADF);
        if (!f->ofd) return fail(EBADF);
        if ((f->oflags & O_ACCMODE) == O_RDONLY) return fail(EBADF);
        fd = f->ofd;
        append = f->oflags & O_APPEND;
    }
    if (m.offset > uint64_t(INT64_MAX)) return fail(EINVAL);
    const std::string& d = m.data.bytes;
    // O_APPEND files ignore the offset (as pwrite does on Linux anyway).
    ssize_t n = append ? write(fd->get(), d.data(), d.size())
                       : pwrite(fd->get(), d.data(), d.size(), off_t(m.offset));
    if (n < 0) return fail_errno();
    c.s.n_written += uint64_t(n);
    return p9::Rwrite{uint32_t(n)};
}

Reply h_Tfsync(Ctx& c, const p9::Tfsync& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = f->open_fd();
    if (!fd) return fail(EBADF);
    int r = m.datasync.value ? fdatasync(fd->get()) : fsync(fd->get());
    if (r != 0) return fail_errno();
    return p9::Rfsync{};
}

}  // namespace duct::exp
