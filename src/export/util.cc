// Confinement and small file helpers shared by the handlers. Everything here
// works on descriptors with *at() calls and O_NOFOLLOW; the only path strings
// are single names (checked by check_name) and /proc/self/fd/N, which names
// an already-opened object without re-resolving anything.
// Threads: pure functions of their arguments; safe on any worker.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/creds.h"
#include "export/session.h"
#include "proto/oflags.h"

namespace duct::exp {

void act_as(const User& u) {
    if (u.known) become(u.uid, u.gid);
    else become_server();
}

std::shared_ptr<Fid> Ctx::fid(uint32_t id) {
    auto f = s.fids.get(id);
    if (f) act_as(f->user);
    return f;
}

void Ctx::as_group(const Fid& f, uint32_t gid) {
    // Under --as the peer does not choose the group either.
    if (s.opts.as_uid >= 0) gid = p9::NONUNAME;
    if (f.user.known) become(f.user.uid, gid == p9::NONUNAME ? f.user.gid : gid);
}

int check_name(const std::string& name, bool allow_dots) {
    if (name.empty() || name.find('/') != std::string::npos) return EINVAL;
    if (name.find('\0') != std::string::npos) return EINVAL;
    if (!allow_dots && (name == "." || name == "..")) return EINVAL;
    if (name.size() > kNameMax) return ENAMETOOLONG;
    return 0;
}

p9::Qid qid_of(Session& s, const struct stat& st) {
    p9::Qid q;
    q.path = s.qids.path(st.st_dev, st.st_ino);
    // The version changes whenever the contents do; the kernel client uses
    // it to notice stale caches.
    q.version = uint32_t(st.st_mtim.tv_sec) ^ uint32_t(st.st_mtim.tv_nsec) << 8;
    if (S_ISDIR(st.st_mode)) q.type = p9::QTDIR;
    else if (S_ISLNK(st.st_mode)) q.type = p9::QTSYMLINK;
    else q.type = p9::QTFILE;
    return q;
}

int stat_fd(int fd, struct stat& st) {
    return fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

std::string join(const std::string& dir, const std::string& name) {
    return dir.empty() ? name : dir + "/" + name;
}
std::string dirname_of(const std::string& path) {
    auto p = path.rfind('/');
    return p == std::string::npos ? std::string() : path.substr(0, p);
}
std::string basename_of(const std::string& path) {
    auto p = path.rfind('/');
    return p == std::string::npos ? path : path.substr(p + 1);
}

Fd open_dir_below(const Session& s, const std::string& rel, int& err) {
    Fd cur(fcntl(s.root.get(), F_DUPFD_CLOEXEC, 0));
    if (!cur) {
        err = errno;
        return {};
    }
    size_t pos = 0;
    while (pos < rel.size()) {
        size_t end = rel.find('/', pos);
        if (end == std::string::npos) end = rel.size();
        std::string comp = rel.substr(pos, end - pos);
        pos = end + 1;
        if (comp.empty()) continue;
        Fd next(openat(cur.get(), comp.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
        if (!next) {
            err = errno;
            return {};
        }
        cur = std::move(next);
    }
    return cur;
}

std::shared_ptr<Fid> fid_at(Session& s, int dir, const std::string& name, const User& u,
                            struct stat& st, int& err) {
    auto f = std::make_shared<Fid>();
    Fd fd(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        err = errno;
        return nullptr;
    }
    if ((err = stat_fd(fd.get(), st))) return nullptr;
    f->ref = s.handles.hold(std::move(fd), dir, S_ISDIR(st.st_mode));
    f->type = st.st_mode & S_IFMT;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->user = u;
    return f;
}

int oflags_from_l(uint32_t l) {
    // The fid names the file already (NOFOLLOW on its /proc/self/fd path
    // would be ELOOP); O_ASYNC means nothing to open(2). O_DIRECT (a v9fs
    // peer opening with it) is the peer's own page cache: our buffers are
    // not aligned for it here, so reads and writes would fail EINVAL.
    return p9::oflags_from_l(l) & ~(O_NOFOLLOW | O_ASYNC | O_DIRECT);
}

void fix_mode(int dir, const char* name, mode_t mode) {
    if (thread_has_private_umask() || !(mode & process_umask() & 07777)) return;
    // NOFOLLOW: a symlink raced into the name must not lead the chmod outside.
    fchmodat(dir, name, mode & 07777, AT_SYMLINK_NOFOLLOW);
}

int remove_path(Session& s, const std::string& path, const Fid& f) {
    if (path.empty()) return EBUSY;  // the root cannot be removed
    int err = 0;
    Fd parent = parent_of(s, path, f, err);  // ESTALE if the name is another file now
    if (!parent) return err;
    std::string name = basename_of(path);
    if (f.is_dir()) return remove_dir(s, parent.get(), name, path);
    if (unlinkat(parent.get(), name.c_str(), 0) != 0) return errno;
    return 0;
}

int remove_dir(Session& s, int dir, const std::string& name, const std::string& path) {
    Fd d(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0) return errno;
    struct stat st;
    if (!d || stat_fd(d.get(), st) != 0) return 0;  // removed; no fid to keep it for
    auto fd = std::make_shared<const Fd>(std::move(d));
    // Only fids of that very directory: the path may have named another
    // one when they walked it.
    for (auto& f : s.fids.at_path(path))
        if (f->ref.fh && f->dev == st.st_dev && f->ino == st.st_ino) f->ref.fh->pin(fd);
    return 0;
}

int finish_fid(Session& s, Fid& f, const std::string& path) {
    std::lock_guard<std::mutex> g(f.mu);
    // Teardown finishes fids on whatever thread calls it: act as their user.
    act_as(f.user);
    int err = 0;
    release_locks(s, f);
    if (f.xattr == Fid::Xattr::Write) err = commit_xattr(s, f, path);
    f.xattr = Fid::Xattr::None;
    f.xbuf = std::string();
    f.xcharge.reset();  // the buffer's bytes go back to the budgets
    if (f.rclose) {
        f.rclose = false;
        f.ofd.reset();  // close before removing (Plan 9 semantics)
        if (int e = remove_path(s, path, f); e && !err) err = e;
    }
    return err;
}

}  // namespace duct::exp
