// Plain 9P2000 handlers (Plan 9, Inferno, the original duct): Topen,
// Tcreate, Tstat, Twstat, and the stat record every 9P2000 directory read
// and Rstat carries. (Twalk, Tread, Twrite, Tclunk, Tremove are shared with
// 9P2000.L; errors become Rerror strings in server.cc.)
//
// The 9P2000 rules followed here, from open(5) and stat(5):
//  - open modes OREAD/OWRITE/ORDWR/OEXEC, OTRUNC, ORCLOSE; a directory opens
//    only for reading;
//  - create refuses an existing name; perm is masked by the directory's
//    (perm & (~0666 | dir&0666)) for files, 0777 for directories; DMDIR makes
//    a directory; DMAPPEND opens for append; the new file takes the
//    directory's group;
//  - wstat's "don't touch" values are ~0 and ""; a rename is only within
//    the directory and never replaces; the uid cannot change.
// uid/gid/muid travel as names (the local databases, numbers otherwise).
//
// Threads: workers. The id -> name cache has its own (leaf) mutex.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "export/session.h"

namespace duct::exp {

namespace {

std::mutex g_names_mu;  // guards g_users, g_groups (leaf lock)
std::map<uid_t, std::string> g_users;
std::map<gid_t, std::string> g_groups;

std::string user_name(uid_t uid) {
    std::lock_guard<std::mutex> g(g_names_mu);
    auto it = g_users.find(uid);
    if (it != g_users.end()) return it->second;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    std::string n = getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res ? pw.pw_name
                                                                             : std::to_string(uid);
    if (g_users.size() > 4096) g_users.clear();
    return g_users[uid] = n;
}

std::string group_name(gid_t gid) {
    std::lock_guard<std::mutex> g(g_names_mu);
    auto it = g_groups.find(gid);
    if (it != g_groups.end()) return it->second;
    struct group gr, *res = nullptr;
    char buf[4096];
    std::string n = getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res ? gr.gr_name
                                                                            : std::to_string(gid);
    if (g_groups.size() > 4096) g_groups.clear();
    return g_groups[gid] = n;
}

bool group_id(const std::string& name, gid_t& gid) {
    struct group gr, *res = nullptr;
    char buf[4096];
    if (getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) == 0 && res) {
        gid = gr.gr_gid;
        return true;
    }
    if (!name.empty() && name.size() < 10 && name.find_first_not_of("0123456789") == std::string::npos) {
        gid = gid_t(std::stoul(name));
        return true;
    }
    return false;
}

int oflags_from_plain(uint8_t mode, bool dir, int& err) {
    if (mode & ~(3 | p9::OTRUNC | p9::ORCLOSE)) {
        err = EINVAL;
        return 0;
    }
    int o = 0;
    switch (mode & 3) {
    case p9::OREAD:
    case p9::OEXEC: o = O_RDONLY; break;
    case p9::OWRITE: o = O_WRONLY; break;
    default: o = O_RDWR; break;
    }
    if (mode & p9::OTRUNC) o |= O_TRUNC;
    if (dir && (o != O_RDONLY)) err = EISDIR;
    return o;
}

}  // namespace

p9::Stat stat_plain(Session& ss, const struct stat& st, const std::string& name) {
    p9::Stat s;
    s.qid = qid_of(ss, st);
    s.mode = st.st_mode & 0777;
    if (S_ISDIR(st.st_mode)) s.mode |= p9::DMDIR;
    s.atime = uint32_t(st.st_atim.tv_sec);
    s.mtime = uint32_t(st.st_mtim.tv_sec);
    s.length = S_ISDIR(st.st_mode) ? 0 : uint64_t(st.st_size);
    s.name = name;
    s.uid = user_name(st.st_uid);
    s.gid = group_name(st.st_gid);
    s.muid = s.uid;  // Unix does not record who last modified a file
    return s;
}

Reply h_Topen(Ctx& c, const p9::Topen& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    int err = 0;
    int flags = oflags_from_plain(m.mode, f->is_dir(), err);
    if (err) return fail(err);
    if ((m.mode & 3) == p9::OEXEC && !f->is_dir()) {
        PathFd p = f->at(err);
        if (!p) return fail(err);
        if (faccessat(AT_FDCWD, proc_path(p.get()).c_str(), X_OK, AT_EACCESS) != 0) return fail_errno();
    }
    std::lock_guard<std::mutex> g(f->mu);
    if (f->opened()) return fail(EBUSY);
    Fd fd = reopen_fid(*f, flags, err);
    if (!fd) return fail(err);
    struct stat st;
    if (int e = stat_fd(fd.get(), st)) return fail(e);
    f->ofd = std::make_shared<Fd>(std::move(fd));
    f->oflags = flags;
    f->rclose = m.mode & p9::ORCLOSE;
    f->dir_offset = 0;
    f->dir_pending.clear();
    f->dir_eof = false;
    return p9::Ropen{qid_of(c.s, st), c.s.iounit()};
}

Reply h_Tcreate(Ctx& c, const p9::Tcreate& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    if (!f->is_dir()) return fail(ENOTDIR);
    if (int e = check_name(m.name)) return fail(e);
    {
        std::lock_guard<std::mutex> g(f->mu);
        if (f->opened()) return fail(EBUSY);
    }
    int err = 0;
    PathFd dp = f->at(err);
    if (!dp) return fail(err);
    struct stat dst;
    if (int e = stat_fd(dp.get(), dst)) return fail(e);
    bool mkdir_ = m.perm & p9::DMDIR;
    int flags = oflags_from_plain(m.mode, mkdir_, err);
    if (err) return fail(err);
    c.as_group(*f, dst.st_gid);  // the new file takes the directory's group
    const int dir = dp.get();
    Fd fd;
    mode_t mode;
    if (mkdir_) {
        mode = m.perm & (~0777u | (dst.st_mode & 0777)) & 0777;
        if (mkdirat(dir, m.name.c_str(), mode) != 0) return fail_errno();
        fd.reset(openat(dir, m.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    } else {
        mode = m.perm & (~0666u | (dst.st_mode & 0666)) & 0777;
        if (m.perm & p9::DMAPPEND) flags |= O_APPEND;
        fd.reset(openat(dir, m.name.c_str(), flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                        mode));
    }
    if (!fd) return fail_errno();
    fix_mode(dir, m.name.c_str(), mode);
    struct stat st;
    auto nf = fid_of_created(c.s, std::move(fd), dir, mkdir_ ? O_RDONLY : flags, f->user, st, err);
    if (!nf) return fail(err);
    nf->rclose = m.mode & p9::ORCLOSE;
    if (!c.s.fids.replace(m.fid, f.get(), std::move(nf), join(c.s.fids.path(m.fid), m.name), c.gen))
        return fail(EBADF);
    release_locks(c.s, *f);
    return p9::Rcreate{qid_of(c.s, st), c.s.iounit()};
}

Reply h_Tstat(Ctx& c, const p9::Tstat& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    int err = 0;
    PathFd p = f->at(err);
    if (!p) return fail(err);
    struct stat st;
    if (int e = stat_fd(p.get(), st)) return fail(e);
    std::string path = c.s.fids.path(m.fid);
    return p9::Rstat{stat_plain(c.s, st, path.empty() ? "/" : basename_of(path))};
}

// wstat(5): check every requested change first, then apply them, the rename
// last (it changes the path the others might need).
Reply h_Twstat(Ctx& c, const p9::Twstat& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    const p9::Stat& w = m.stat;
    int perr = 0;
    PathFd p = f->at(perr);
    if (!p) return fail(perr);
    struct stat st;
    if (int e = stat_fd(p.get(), st)) return fail(e);
    std::string path = c.s.fids.path(m.fid);
    const std::string proc = proc_path(p.get());
    bool is_dir = S_ISDIR(st.st_mode);

    bool rename = !w.name.empty() && w.name != basename_of(path);
    if (rename) {
        if (path.empty()) return fail(EPERM);  // the root has no name to change
        if (int e = check_name(w.name)) return fail(e);
    }
    if (w.mode != p9::STAT_KEEP32 && bool(w.mode & p9::DMDIR) != is_dir)
        return fail(EPERM, "can't change directory bit");
    if (w.length != p9::STAT_KEEP64) {
        if (is_dir) return fail(EISDIR);
        if (!S_ISREG(st.st_mode)) return fail(EINVAL);
        if (w.length > uint64_t(INT64_MAX)) return fail(EFBIG);
    }
    if (!w.uid.empty() && w.uid != user_name(st.st_uid)) return fail(EPERM, "can't change uid");
    gid_t gid = gid_t(-1);
    if (!w.gid.empty() && !group_id(w.gid, gid)) return fail(EINVAL, "unknown group");
    if ((w.mode != p9::STAT_KEEP32 || w.length != p9::STAT_KEEP64) && f->is_symlink())
        return fail(EOPNOTSUPP);

    if (w.mode != p9::STAT_KEEP32 && chmod(proc.c_str(), (st.st_mode & 07000) | (w.mode & 0777)) != 0)
        return fail_errno();
    if (gid != gid_t(-1) && gid != st.st_gid &&
        fchownat(p.get(), "", uid_t(-1), gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
        return fail_errno();
    if (w.length != p9::STAT_KEEP64 && truncate(proc.c_str(), off_t(w.length)) != 0) return fail_errno();
    if ((w.mtime != p9::STAT_KEEP32 || w.atime != p9::STAT_KEEP32) && !f->is_symlink()) {
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
        if (w.atime != p9::STAT_KEEP32) ts[0] = {time_t(w.atime), 0};
        if (w.mtime != p9::STAT_KEEP32) ts[1] = {time_t(w.mtime), 0};
        if (utimensat(AT_FDCWD, proc.c_str(), ts, 0) != 0) return fail_errno();
    }
    if (rename) {
        int err = 0;
        Fd parent = parent_of(c.s, path, *f, err);  // ESTALE if the name is another file now
        if (!parent) return fail(err);
        std::string old = basename_of(path);
        // Never replace an existing file (Plan 9 refuses); RENAME_NOREPLACE
        // makes the check and the rename one step.
        if (renameat2(parent.get(), old.c_str(), parent.get(), w.name.c_str(), RENAME_NOREPLACE) != 0) {
            if (errno != EINVAL) return fail_errno();
            struct stat x;
            if (fstatat(parent.get(), w.name.c_str(), &x, AT_SYMLINK_NOFOLLOW) == 0) return fail(EEXIST);
            if (renameat(parent.get(), old.c_str(), parent.get(), w.name.c_str()) != 0) return fail_errno();
        }
        c.s.fids.rename_paths(path, join(dirname_of(path), w.name));
    }
    return p9::Rwstat{};
}

}  // namespace duct::exp
