// Handlers that make and drop fids: Tauth, Tattach, Twalk, Tclunk, Tremove
// (both dialects). Confinement lives in h_Twalk: every step is one openat()
// with O_PATH|O_NOFOLLOW on the previous step's descriptor, names with '/'
// are refused, and ".." at the root stays at the root (compared by st_dev
// and st_ino, not by path). A ".." elsewhere must land below the root
// (confine.h below_root: a local program may have moved the directory out),
// and no step may enter our own mount (confine.h own_mount). The new fid
// keeps a handle of where the walk ended (handle.h); the descriptors of the
// walk close with the request. Runs on worker threads.
#include <fcntl.h>
#include <pwd.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "export/creds.h"
#include "export/session.h"

#include <string_view>

namespace duct::exp {

namespace {

// Who a 9P2000.L Tattach speaks for: n_uname (the kernel and our FUSE
// client put the caller's uid there), else uname looked up by name or as a
// number. A name we do not know acts as the server process itself: a peer
// can claim any uid anyway, so mapping unknown names to "nobody" would add
// no safety, only break things.
User user_of(const p9::Tattach& m) {
    User u;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (m.n_uname.value != p9::NONUNAME) {
        u.uid = m.n_uname.value;
        u.gid = u.uid;
        if (getpwuid_r(u.uid, &pw, buf, sizeof buf, &res) == 0 && res) u.gid = pw.pw_gid;
        u.known = true;
        return u;
    }
    if (getpwnam_r(m.uname.c_str(), &pw, buf, sizeof buf, &res) == 0 && res) {
        u = {pw.pw_uid, pw.pw_gid, true};
        return u;
    }
    if (!m.uname.empty() && m.uname.find_first_not_of("0123456789") == std::string::npos &&
        m.uname.size() < 10) {
        u.uid = uid_t(std::stoul(m.uname));
        u.gid = u.uid;
        u.known = true;
    }
    return u;
}

}  // namespace

// attach(5) with diod's convention: no authentication, so Tauth is refused.
Reply h_Tauth(Ctx& c, const p9::Tauth& m) {
    return fail(ECONNREFUSED, "authentication not required");
}

Reply h_Tattach(Ctx& c, const p9::Tattach& m) {
    if (m.afid != p9::NOFID) return fail(EINVAL, "authentication not required");
    // limits.h: a login name and a path at most; a NUL inside would make
    // getpwnam read a shorter name than the peer sent.
    if (m.uname.size() > kMaxUname)
        return fail(ENAMETOOLONG, "uname of " + std::to_string(m.uname.size()) + " bytes (at most " +
                                      std::to_string(kMaxUname) + ")");
    if (m.aname.size() > kMaxAname)
        return fail(ENAMETOOLONG, "aname of " + std::to_string(m.aname.size()) + " bytes (at most " +
                                      std::to_string(kMaxAname) + ")");
    if (m.uname.find('\0') != std::string::npos || m.aname.find('\0') != std::string::npos)
        return fail(EINVAL, "uname or aname with a NUL byte");
    // A plain 9P2000 peer (Plan 9, Inferno, the kernel's legacy mode) names
    // users of its own world ("glenda", "nobody"): matching them against
    // our passwd would be chance, so such a session acts with the server's
    // own rights, as the original Inferno export did.
    // --as USER overrides both: every attach acts as that one user.
    User u = c.s.plain() ? User{} : user_of(m);
    if (c.s.opts.as_uid >= 0) u = {uid_t(c.s.opts.as_uid), gid_t(c.s.opts.as_gid), true};
    become_server();  // no fid yet: do not act with a previous request's rights
    struct stat st;
    int err = 0;
    auto f = fid_at(c.s, c.s.root.get(), ".", u, st, err);  // "." of an O_PATH dir: the root itself
    if (!f) return fail(err);
    if (!c.s.fids.add(m.fid, f, "", err, c.gen)) return fail(err);
    return p9::Rattach{qid_of(c.s, st)};
}

// walk(5): nwname 0 clones; a walk that fails at the first name is an error,
// one that fails later returns the qids walked and leaves newfid unused;
// newfid must be unused unless it equals fid.
Reply h_Twalk(Ctx& c, const p9::Twalk& m) { return walk_fid(c, m.fid, m.newfid, m.wname, nullptr); }

// The xattrs of the file at O_PATH descriptor fd that it provably lacks
// (Rwalkattr xnone): one listxattr through /proc/self/fd, which names the
// inode itself. A symlink would be followed there, so it gets 0 (unknown),
// as does any error: the mount then asks as before.
uint32_t xattrs_absent(int fd, mode_t type) {
    if (S_ISLNK(type)) return 0;
    char buf[4096];
    ssize_t n = listxattr(proc_path(fd).c_str(), buf, sizeof buf);
    if (n < 0) return errno == ENOTSUP ? p9::XNONE_SELINUX | p9::XNONE_ACL_ACCESS |
                                             p9::XNONE_ACL_DEFAULT | p9::XNONE_CAPABILITY
                                       : 0;  // ERANGE (a long list) too: unknown
    uint32_t none = p9::XNONE_SELINUX | p9::XNONE_ACL_ACCESS | p9::XNONE_ACL_DEFAULT |
                    p9::XNONE_CAPABILITY;
    for (ssize_t i = 0; i < n;) {
        std::string_view name(buf + i);
        if (name == "security.selinux") none &= ~p9::XNONE_SELINUX;
        else if (name == "system.posix_acl_access") none &= ~p9::XNONE_ACL_ACCESS;
        else if (name == "system.posix_acl_default") none &= ~p9::XNONE_ACL_DEFAULT;
        else if (name == "security.capability") none &= ~p9::XNONE_CAPABILITY;
        i += ssize_t(name.size()) + 1;
    }
    return none;
}

Reply walk_fid(Ctx& c, uint32_t fid, uint32_t newfid, const p9::WNames& wname, WalkEnd* end) {
    auto f = c.fid(fid);
    if (!f) return fail(EBADF);
    if (newfid != fid && c.s.fids.get(newfid)) return fail(EBADF);
    if (newfid == fid) {
        // walk(5) forbids walking an open fid. Cloning one is harmless (the
        // new fid starts unopened) and the Linux client may clone a fid it
        // has open, so only moving an open fid, which would lose its open
        // state, is refused.
        std::lock_guard<std::mutex> g(f->mu);
        if (f->opened()) return fail(EBUSY);
    }
    std::string path = c.s.fids.path(fid);
    auto nf = std::make_shared<Fid>();
    nf->user = f->user;
    nf->type = f->type;
    nf->dev = f->dev;
    nf->ino = f->ino;
    p9::WQids qids;
    if (wname.empty()) {
        nf->ref = f->ref;  // a clone shares the reference: no syscall at all
        if (end) {
            int err = 0;
            PathFd p = f->at(err);
            if (!p) return fail(err);
            if (int e = stat_fd(p.get(), end->st)) return fail(e);
            end->xnone = xattrs_absent(p.get(), end->st.st_mode);
        }
    } else {
        int err = 0;
        PathFd start = f->at(err);
        if (!start) return fail(err);
        // cur: the file walked to so far (start before the first step);
        // prev: the directory cur was reached from.
        Fd cur, prev;
        for (size_t i = 0; i < wname.size(); i++) {
            const std::string& name = wname[i];
            const int dir = cur ? cur.get() : start.get();
            err = check_name(name, true);
            Fd next;
            std::string npath = path;
            if (!err && !S_ISDIR(nf->type)) err = ENOTDIR;
            if (!err) {
                if (name == ".") {
                    next.reset(fcntl(dir, F_DUPFD_CLOEXEC, 0));
                } else if (name == "..") {
                    if (nf->dev == c.s.root_dev && nf->ino == c.s.root_ino) {
                        next.reset(fcntl(dir, F_DUPFD_CLOEXEC, 0));  // the root is its own parent
                    } else {
                        next.reset(openat(dir, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                        npath = dirname_of(path);
                        if (next) err = below_root(c.s, next.get());
                    }
                } else {
                    // Watched before the step: the mount caches what it finds (feed.h).
                    c.s.feed.watch_dir(dir, nf->dev, nf->ino);
                    next.reset(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
                    npath = join(path, name);
                    if (next) err = own_mount(c.s, next.get());
                }
                if (!next && !err) err = errno;
            }
            struct stat nst;
            if (!err) err = stat_fd(next.get(), nst);
            if (err) {
                if (i == 0) return fail(err);
                return p9::Rwalk{qids};
            }
            if (name != "." && name != "..") c.s.feed.saw_child(nf->dev, nf->ino, nst);
            if (end && i + 1 == wname.size() && S_ISDIR(nst.st_mode) && c.s.feed.active()) {
                // A directory looked up: watched before the stat that answers.
                c.s.feed.watch_dir(next.get(), nst.st_dev, nst.st_ino);
                if (int e = stat_fd(next.get(), nst)) {
                    if (i == 0) return fail(e);
                    return p9::Rwalk{qids};
                }
            }
            qids.push_back(qid_of(c.s, nst));
            if (end && i + 1 == wname.size()) {
                end->st = nst;
                end->xnone = xattrs_absent(next.get(), nst.st_mode);
            }
            prev = std::move(cur);
            cur = std::move(next);
            nf->type = nst.st_mode & S_IFMT;
            nf->dev = nst.st_dev;
            nf->ino = nst.st_ino;
            path = std::move(npath);
        }
        nf->ref = c.s.handles.hold(std::move(cur), prev ? prev.get() : start.get(), nf->is_dir());
    }
    if (newfid == fid) {
        if (!c.s.fids.replace(fid, f.get(), std::move(nf), path, c.gen)) return fail(EBADF);
        release_locks(c.s, *f);  // the replaced Fid is gone as if clunked
    } else {
        int err = 0;
        if (!c.s.fids.add(newfid, std::move(nf), path, err, c.gen)) return fail(err);
    }
    return p9::Rwalk{qids};
}

// clunk(5): the fid is gone whatever happens; a pending Txattrcreate is
// committed here and its error (if any) is the clunk's.
Reply h_Tclunk(Ctx& c, const p9::Tclunk& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    std::string path = c.s.fids.path(m.fid);
    if (!c.s.fids.remove(m.fid)) return fail(EBADF);  // a racing clunk won
    if (int e = finish_fid(c.s, *f, path)) return fail(e);
    return p9::Rclunk{};
}

// remove(5): remove the file and clunk the fid, even if the remove fails.
Reply h_Tremove(Ctx& c, const p9::Tremove& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    std::string path = c.s.fids.path(m.fid);
    if (!c.s.fids.remove(m.fid)) return fail(EBADF);
    release_locks(c.s, *f);
    if (int e = remove_path(c.s, path, *f)) return fail(e);
    return p9::Rremove{};
}

}  // namespace duct::exp
