// Metadata handlers: Tgetattr, Tsetattr, Tstatfs, Treadlink (9P2000.L).
//
// Everything works on an O_PATH descriptor of the fid's file, taken for the
// request (Fid::at; ESTALE once the file is gone): fstatat/fchownat/
// readlinkat with AT_EMPTY_PATH, and /proc/self/fd/N (which names the inode
// itself) for the calls that have no *at form. A symlink fid never goes
// through /proc for a call that would follow it: its times are set through
// its parent directory with AT_SYMLINK_NOFOLLOW, and chmod/truncate of a
// symlink are refused as Linux refuses them.
//
// Threads: workers; no Fid::mu is needed (nothing here touches open state
// except truncate's choice of fd, copied under it).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <climits>
#include <cstring>
#include <unistd.h>

#include "export/session.h"

namespace duct::exp {

Reply h_Tgetattr(Ctx& c, const p9::Tgetattr& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    int err = 0;
    PathFd p = f->at(err);
    if (!p) return fail(err);
    struct stat st;
    if (int e = stat_fd(p.get(), st)) return fail(e);
    return getattr_of(c.s, st);
}

p9::Rgetattr getattr_of(Session& s, const struct stat& st) {
    p9::Rgetattr r;
    r.valid = p9::GETATTR_BASIC;  // all but btime/gen/data_version
    r.qid = qid_of(s, st);
    r.mode = st.st_mode;
    r.uid = st.st_uid;
    r.gid = st.st_gid;
    r.nlink = st.st_nlink;
    r.rdev = st.st_rdev;
    r.size = uint64_t(st.st_size);
    r.blksize = uint64_t(st.st_blksize);
    r.blocks = uint64_t(st.st_blocks);
    r.atime_sec = uint64_t(st.st_atim.tv_sec);
    r.atime_nsec = uint64_t(st.st_atim.tv_nsec);
    r.mtime_sec = uint64_t(st.st_mtim.tv_sec);
    r.mtime_nsec = uint64_t(st.st_mtim.tv_nsec);
    r.ctime_sec = uint64_t(st.st_ctim.tv_sec);
    r.ctime_nsec = uint64_t(st.st_ctim.tv_nsec);
    if (s.duct() && s.feed.active() && !s.feed.covered(st)) r.valid |= p9::GETATTR_DUCT_UNWATCHED;
    return r;
}

// Tsetattr: mode, then owner, then size, then times (the order diod and the
// kernel's own notify_change use), stopping at the first failure.
Reply h_Tsetattr(Ctx& c, const p9::Tsetattr& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    int err = 0;
    PathFd p = f->at(err);
    if (!p) return fail(err);
    const int pfd = p.get();
    const std::string proc = proc_path(pfd);
    if (m.valid & p9::SETATTR_MODE) {
        if (f->is_symlink()) return fail(EOPNOTSUPP);
        if (chmod(proc.c_str(), m.mode & 07777) != 0) return fail_errno();
    }
    if (m.valid & (p9::SETATTR_UID | p9::SETATTR_GID)) {
        uid_t uid = (m.valid & p9::SETATTR_UID) ? uid_t(m.uid) : uid_t(-1);
        gid_t gid = (m.valid & p9::SETATTR_GID) ? gid_t(m.gid) : gid_t(-1);
        if (fchownat(pfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return fail_errno();
    }
    if (m.valid & p9::SETATTR_SIZE) {
        if (f->is_dir()) return fail(EISDIR);
        if (!S_ISREG(f->type)) return fail(EINVAL);
        if (m.size > uint64_t(INT64_MAX)) return fail(EFBIG);
        // An fd opened for writing truncates without a permission re-check
        // (ftruncate after open, as POSIX allows the opener).
        auto fd = f->open_fd();
        int r = fd && (fcntl(fd->get(), F_GETFL) & O_ACCMODE) != O_RDONLY
                    ? ftruncate(fd->get(), off_t(m.size))
                    : truncate(proc.c_str(), off_t(m.size));
        if (r != 0) return fail_errno();
    }
    if (m.valid & (p9::SETATTR_ATIME | p9::SETATTR_MTIME)) {
        struct timespec ts[2];
        ts[0].tv_nsec = ts[1].tv_nsec = UTIME_OMIT;
        ts[0].tv_sec = ts[1].tv_sec = 0;
        if (m.valid & p9::SETATTR_ATIME) {
            if (m.valid & p9::SETATTR_ATIME_SET) ts[0] = {time_t(m.atime_sec), long(m.atime_nsec)};
            else ts[0].tv_nsec = UTIME_NOW;
        }
        if (m.valid & p9::SETATTR_MTIME) {
            if (m.valid & p9::SETATTR_MTIME_SET) ts[1] = {time_t(m.mtime_sec), long(m.mtime_nsec)};
            else ts[1].tv_nsec = UTIME_NOW;
        }
        int r;
        if (f->is_symlink()) {
            std::string path = c.s.fids.path(m.fid);
            Fd dir = parent_of(c.s, path, *f, err);  // ESTALE if the name is another file now
            if (!dir) return fail(err);
            r = utimensat(dir.get(), basename_of(path).c_str(), ts, AT_SYMLINK_NOFOLLOW);
        } else {
            r = utimensat(AT_FDCWD, proc.c_str(), ts, 0);
        }
        if (r != 0) return fail_errno();
    } else if ((m.valid & p9::SETATTR_CTIME) && !(m.valid & ~p9::SETATTR_CTIME)) {
        // A bare ctime update: a no-op chown touches ctime and nothing else.
        if (fchownat(pfd, "", uid_t(-1), gid_t(-1), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
            return fail_errno();
    }
    return p9::Rsetattr{};
}

Reply h_Tstatfs(Ctx& c, const p9::Tstatfs& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    int err = 0;
    PathFd p = f->at(err);
    if (!p) return fail(err);
    struct statfs sf;
    if (fstatfs(p.get(), &sf) != 0) return fail_errno();
    p9::Rstatfs r;
    r.type = uint32_t(sf.f_type);
    r.bsize = uint32_t(sf.f_bsize);
    r.blocks = sf.f_blocks;
    r.bfree = sf.f_bfree;
    r.bavail = sf.f_bavail;
    r.files = sf.f_files;
    r.ffree = sf.f_ffree;
    uint64_t fsid;
    static_assert(sizeof fsid == sizeof sf.f_fsid);
    memcpy(&fsid, &sf.f_fsid, sizeof fsid);
    r.fsid = fsid;
    r.namelen = uint32_t(sf.f_namelen);
    return r;
}

Reply h_Treadlink(Ctx& c, const p9::Treadlink& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    if (!f->is_symlink()) return fail(EINVAL);
    int err = 0;
    PathFd p = f->at(err);
    if (!p) return fail(err);
    char buf[PATH_MAX + 1];
    ssize_t n = readlinkat(p.get(), "", buf, sizeof buf);
    if (n < 0) return fail_errno();
    if (size_t(n) >= sizeof buf) return fail(ENAMETOOLONG);
    return p9::Rreadlink{std::string(buf, size_t(n))};
}

}  // namespace duct::exp
