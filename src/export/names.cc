// Handlers that change names in directories (9P2000.L): Tmkdir, Tsymlink,
// Tmknod, Tlink, Trename, Trenameat, Tunlinkat.
//
// Each works on directory fids' O_PATH descriptors with one *at() call and a
// single checked name, so none can reach outside the root, and none follows
// a symlink: a symlink's target is stored, never resolved here. New files
// are owned by the attaching user and the request's gid through the
// worker's fsuid/fsgid (creds.h).
//
// Renames fix up the paths remembered by fids at or below the old name
// (FidTable::rename_paths), which later parent+name operations rely on.
// Threads: workers; only FidTable's own lock is taken.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "export/session.h"

namespace duct::exp {

namespace {

// The directory fid a create-like request works in, acting as its user,
// and in `at` an O_PATH descriptor of that directory for the request.
std::shared_ptr<Fid> dir_fid(Ctx& c, uint32_t id, const std::string& name, PathFd& at, int& err) {
    auto d = c.fid(id);
    if (!d) err = EBADF;
    else if (!d->is_dir()) err = ENOTDIR;
    else err = check_name(name);
    if (!err) at = d->at(err);
    return err ? nullptr : d;
}

int stat_qid(Session& s, int dir, const std::string& name, p9::Qid& q) {
    struct stat st;
    if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
    q = qid_of(s, st);
    return 0;
}

}  // namespace

Reply h_Tmkdir(Ctx& c, const p9::Tmkdir& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.dfid, m.name, dp, err);
    if (!d) return fail(err);
    c.as_group(*d, m.gid);
    if (mkdirat(dp.get(), m.name.c_str(), m.mode & 07777) != 0) return fail_errno();
    fix_mode(dp.get(), m.name.c_str(), m.mode & 07777);
    p9::Qid q;
    if (int e = stat_qid(c.s, dp.get(), m.name, q)) return fail(e);
    return p9::Rmkdir{q};
}

Reply h_Tsymlink(Ctx& c, const p9::Tsymlink& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.fid, m.name, dp, err);
    if (!d) return fail(err);
    if (m.symtgt.empty()) return fail(ENOENT);
    if (m.symtgt.find('\0') != std::string::npos) return fail(EINVAL);
    c.as_group(*d, m.gid);
    if (symlinkat(m.symtgt.c_str(), dp.get(), m.name.c_str()) != 0) return fail_errno();
    p9::Qid q;
    if (int e = stat_qid(c.s, dp.get(), m.name, q)) return fail(e);
    return p9::Rsymlink{q};
}

Reply h_Tmknod(Ctx& c, const p9::Tmknod& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.dfid, m.name, dp, err);
    if (!d) return fail(err);
    mode_t type = m.mode & S_IFMT;
    if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR && type != S_IFBLK)
        return fail(EINVAL);
    c.as_group(*d, m.gid);
    mode_t mode = type | (m.mode & 07777);
    if (mknodat(dp.get(), m.name.c_str(), mode, makedev(m.major, m.minor)) != 0)
        return fail_errno();
    fix_mode(dp.get(), m.name.c_str(), m.mode & 07777);
    p9::Qid q;
    if (int e = stat_qid(c.s, dp.get(), m.name, q)) return fail(e);
    return p9::Rmknod{q};
}

// Tlink dfid fid name: a new name in dfid for the file fid names. linkat
// through /proc/self/fd/N links that very inode (AT_EMPTY_PATH would need
// CAP_DAC_READ_SEARCH, which an ordinary user lacks).
Reply h_Tlink(Ctx& c, const p9::Tlink& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.dfid, m.name, dp, err);
    if (!d) return fail(err);
    auto f = c.s.fids.get(m.fid);
    if (!f) return fail(EBADF);
    if (f->is_dir()) return fail(EPERM);
    PathFd fp = f->at(err);
    if (!fp) return fail(err);
    if (linkat(AT_FDCWD, proc_path(fp.get()).c_str(), dp.get(), m.name.c_str(),
               AT_SYMLINK_FOLLOW) != 0)
        return fail_errno();
    return p9::Rlink{};
}

// Trename fid dfid name: move the file fid names into dfid as name.
Reply h_Trename(Ctx& c, const p9::Trename& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.dfid, m.name, dp, err);
    if (!d) return fail(err);
    auto f = c.s.fids.get(m.fid);
    if (!f) return fail(EBADF);
    std::string from = c.s.fids.path(m.fid);
    if (from.empty()) return fail(EBUSY);  // the root
    Fd parent = parent_of(c.s, from, *f, err);  // ESTALE if the name is another file now
    if (!parent) return fail(err);
    if (renameat(parent.get(), basename_of(from).c_str(), dp.get(), m.name.c_str()) != 0)
        return fail_errno();
    c.s.fids.rename_paths(from, join(c.s.fids.path(m.dfid), m.name));
    return p9::Rrename{};
}

Reply h_Trenameat(Ctx& c, const p9::Trenameat& m) {
    int err = 0;
    PathFd op, np;
    auto od = dir_fid(c, m.olddirfid, m.oldname, op, err);
    if (!od) return fail(err);
    auto nd = dir_fid(c, m.newdirfid, m.newname, np, err);
    if (!nd) return fail(err);
    if (renameat(op.get(), m.oldname.c_str(), np.get(), m.newname.c_str()) != 0)
        return fail_errno();
    c.s.fids.rename_paths(join(c.s.fids.path(m.olddirfid), m.oldname),
                          join(c.s.fids.path(m.newdirfid), m.newname));
    return p9::Rrenameat{};
}

Reply h_Tunlinkat(Ctx& c, const p9::Tunlinkat& m) {
    int err = 0;
    PathFd dp;
    auto d = dir_fid(c, m.dirfid, m.name, dp, err);
    if (!d) return fail(err);
    if (m.flags & p9::AT_REMOVEDIR_9P) {
        if (int e = remove_dir(c.s, dp.get(), m.name, join(c.s.fids.path(m.dirfid), m.name))) return fail(e);
        return p9::Runlinkat{};
    }
    if (unlinkat(dp.get(), m.name.c_str(), 0) != 0) return fail_errno();
    return p9::Runlinkat{};
}

}  // namespace duct::exp
