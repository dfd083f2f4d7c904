// Confinement checks and resource budgets of the export (see confine.h).
// Everything works on descriptors: ".." chains by openat(fd, ".."), names by
// fstatat(dir, name, AT_SYMLINK_NOFOLLOW), never by resolving a path string.
// Threads: workers; no locks (the budgets are atomics, the loop warning an
// atomic flag).
#include "export/confine.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/log.h"
#include "export/session.h"

namespace duct::exp {

// ".." is rare (the kernel resolves it itself; only plain 9P clients and
// programs like Plan 9's walk send it), so climbing the whole chain is
// cheap enough and exact. Walks down from a directory are not checked: a
// directory a local program moved out of the export still holds only what
// it held (like a process whose cwd was moved), and checking every step
// would cost a climb per name looked up. What matters is that ".." from it
// cannot reach the host's tree above the export.
int below_root(const Session& s, int dir) {
    struct stat st;
    if (int e = stat_fd(dir, st)) return e;
    Fd cur;
    int at = dir;
    for (int depth = 0; depth < 4096; depth++) {
        if (st.st_dev == s.root_dev && st.st_ino == s.root_ino) return 0;
        Fd up(openat(at, "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!up) return errno;
        struct stat ust;
        if (int e = stat_fd(up.get(), ust)) return e;
        if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino) return ENOENT;  // the host's root
        cur = std::move(up);
        at = cur.get();
        st = ust;
    }
    return ENOENT;
}

Fd parent_of(Session& s, const std::string& path, const Fid& f, int& err) {
    Fd dir = open_dir_below(s, dirname_of(path), err);
    if (!dir) return {};
    struct stat st;
    if (fstatat(dir.get(), basename_of(path).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        err = errno == ENOENT ? ESTALE : errno;
        return {};
    }
    if (st.st_dev != f.dev || st.st_ino != f.ino ||
        (f.ref.fh && !handle_names(*f.ref.fh, dir.get(), basename_of(path).c_str()))) {
        err = ESTALE;  // the name now belongs to another file
        return {};
    }
    return dir;
}

int own_mount(Session& s, int fd) {
    if (!s.opts.own_mount_dev) return 0;
    uint64_t own = s.opts.own_mount_dev->load(std::memory_order_acquire);
    if (own == 0) return 0;
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &stx) != 0) return 0;
    if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev_t(own)) return 0;
    if (!s.loop_logged.exchange(true))
        log_error("export: the peer walked into our own mount of its export (the exported directory "
                  "holds our mount point): refused with ELOOP, as following it would loop through both "
                  "ducts");
    return ELOOP;
}

Fd open_existing_or_create(int dir, const std::string& name, int flags, mode_t mode, bool& created,
                           int& err) {
    created = false;
    const int base = flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW);
    for (int tries = 0; tries < 8; tries++) {
        Fd fd(openat(dir, name.c_str(), base | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode));
        if (fd) {
            created = true;
            return fd;
        }
        if (errno != EEXIST || (flags & O_EXCL)) {
            err = errno;
            return {};
        }
        // It exists: hold it by O_PATH (which opens nothing) and look at its
        // kind before opening it for real.
        Fd p(openat(dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (!p) {
            if (errno == ENOENT) continue;  // removed meanwhile: create it after all
            err = errno;
            return {};
        }
        struct stat st;
        if ((err = stat_fd(p.get(), st))) return {};
        int open_flags = base | O_NOCTTY | O_CLOEXEC;
        if (S_ISLNK(st.st_mode)) err = ELOOP;  // what O_CREAT|O_NOFOLLOW says of a symlink
        else if (S_ISDIR(st.st_mode)) err = EISDIR;
        else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) err = EPERM;  // as reopen_fid
        if (err) return {};
        if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) open_flags |= O_NONBLOCK;
        fd.reset(open(proc_path(p.get()).c_str(), open_flags));
        if (!fd) err = errno;
        return fd;
    }
    err = EAGAIN;
    return {};
}

bool ByteBudget::take(size_t n) {
    size_t cur = used_.load();
    do {
        if (n > cap_ || cur > cap_ - n) return false;
    } while (!used_.compare_exchange_weak(cur, cur + n));
    return true;
}

ByteBudget& process_xattr_budget() {
    static ByteBudget* b = new ByteBudget(kXattrProcessBudget);  // never freed: fids may outlive statics
    return *b;
}

std::shared_ptr<void> reserve_xattr(Session& s, size_t n) {
    auto session = s.xattr_budget;
    ByteBudget& proc = process_xattr_budget();
    if (!session->take(n)) return nullptr;
    if (!proc.take(n)) {
        session->give(n);
        return nullptr;
    }
    // A token whose deleter gives the bytes back; it keeps the session's
    // budget alive, so a fid that outlives its session returns them safely.
    return std::shared_ptr<void>(static_cast<void*>(session.get()), [session, n, &proc](void*) {
        session->give(n);
        proc.give(n);
    });
}

}  // namespace duct::exp
