// The duct extension's handlers (table.h, the Duct rows): Tfallocate,
// Tlseek, Trenameat2, Twalkattr (a lookup in one round trip). They exist only in a session whose Tversion agreed on
// "9P2000.L.duct.N" (server.cc gives them slots in that session's table
// alone); the flock flag of Tlock is in lock.cc.
//
// Each does exactly the syscall the mounting side's caller made, on the
// fid's own open descriptor (fallocate, lseek) or O_PATH descriptors of the
// directory fids (renameat2), and answers its errno unchanged: what the
// exported file system supports is what the mount supports.
//
// Threads: workers. The open fd is copied out under Fid::mu and used
// without it, as reads and writes do (io.cc).
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

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

// lseek(2) on the fid's open file, for the whences that do not depend on a
// file position (9P has none: every Tread/Twrite names its offset): SEEK_SET,
// SEEK_END and, the reason for the message, SEEK_DATA/SEEK_HOLE, which only
// the exporting file system knows (ENXIO past the end, as it says).
// SEEK_CUR would read a position no client can see: EINVAL. Directories:
// EINVAL too, since their descriptor's position belongs to Treaddir.
Reply h_Tlseek(Ctx& c, const p9::Tlseek& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    auto fd = opened_fd(*f);
    if (!fd) return fail(EBADF);
    if (f->is_dir()) return fail(EINVAL);
    int whence = m.whence;
    if (whence != SEEK_SET && whence != SEEK_END && whence != SEEK_DATA && whence != SEEK_HOLE)
        return fail(EINVAL);
    if (m.offset > uint64_t(INT64_MAX)) return fail(EINVAL);  // a negative off_t: lseek says EINVAL
    off_t r = lseek(fd->get(), off_t(m.offset), whence);
    if (r < 0) return fail_errno();
    return p9::Rlseek{uint64_t(r)};
}

// renameat2(2): Trenameat plus its flags. RENAME_NOREPLACE is atomic here,
// where a lookup-then-rename on the mounting side could not be; after
// RENAME_EXCHANGE the fids at either name now name the other path.
Reply h_Trenameat2(Ctx& c, const p9::Trenameat2& m) {
    auto od = c.fid(m.olddirfid);
    if (!od) return fail(EBADF);
    if (!od->is_dir()) return fail(ENOTDIR);
    auto nd = c.fid(m.newdirfid);
    if (!nd) return fail(EBADF);
    if (!nd->is_dir()) return fail(ENOTDIR);
    if (int e = check_name(m.oldname)) return fail(e);
    if (int e = check_name(m.newname)) return fail(e);
    // Flags we do not know are the kernel's to refuse (EINVAL), as for a
    // local caller; RENAME_WHITEOUT needs CAP_MKNOD there as well.
    int err = 0;
    PathFd op = od->at(err);
    if (!op) return fail(err);
    PathFd np = nd->at(err);
    if (!np) return fail(err);
    if (renameat2(op.get(), m.oldname.c_str(), np.get(), m.newname.c_str(), m.flags) != 0)
        return fail_errno();
    std::string from = join(c.s.fids.path(m.olddirfid), m.oldname);
    std::string to = join(c.s.fids.path(m.newdirfid), m.newname);
    if (m.flags & RENAME_EXCHANGE) c.s.fids.exchange_paths(from, to);
    else c.s.fids.rename_paths(from, to);
    return p9::Rrenameat2{};
}

// Twalk + Tgetattr of where it ended, in one message: the walk is
// h_Twalk's own (confinement, "..", own-mount check, handles), and a
// complete one adds the final file's attributes and the xattrs it lacks.
// A partial walk answers only its qids, as Rwalk would.
Reply h_Twalkattr(Ctx& c, const p9::Twalkattr& m) {
    WalkEnd end;
    Reply r = walk_fid(c, m.fid, m.newfid, m.wname, &end);
    auto* w = std::get_if<p9::Rwalk>(&r.msg);
    if (r.err || !w) return r;
    p9::Rwalkattr out;
    out.wqid = std::move(w->wqid);
    if (out.wqid.size() != m.wname.size()) return out;
    out.xnone = end.xnone;
    p9::copy_attrs(getattr_of(c.s, end.st), out);
    return out;
}

}  // namespace duct::exp
