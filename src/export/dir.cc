// Directory reads in both dialects.
//
// 9P2000.L Treaddir: offsets are the kernel's own cookies (d_off from
// getdents64), so every request seeks to the peer's offset and reads from
// there: stable across calls, no per-fid cursor to keep in step, and an
// entry that does not fit in `count` is simply read again next time.
//
// 9P2000 Tread on a directory (read(5), stat(5)): the data is whole stat
// records; the offset must be 0 (start again) or the end of the previous
// read, and a record is never split. The records read from the directory but
// not yet sent wait in Fid::dir_pending.
//
// Treaddirplus (duct extension, table.h) is Treaddir whose entries carry
// what a Twalkattr of each name would answer (one openat O_PATH, fstat and
// listxattr per entry, under the same confinement as a walk).
//
// Threads: workers; a directory fid's reads hold its Fid::mu throughout,
// because seeking and reading share the one open file description.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "export/confine.h"
#include "export/session.h"
#include "proto/codec.h"

namespace duct::exp {

namespace {

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

constexpr size_t kDentsBuf = 32768;

// Calls fn(entry) for each entry of one getdents64 batch; returns bytes read
// (0 at the end, -1 with errno on error).
template <class Fn>
ssize_t dents(int fd, Fn&& fn) {
    alignas(8) static thread_local char buf[kDentsBuf];
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) return n;
    for (long pos = 0; pos < n;) {
        auto* d = reinterpret_cast<linux_dirent64*>(buf + pos);
        pos += d->d_reclen;
        if (!fn(*d)) break;
    }
    return n;
}

uint8_t qtype_of_dtype(unsigned char t) {
    if (t == DT_DIR) return p9::QTDIR;
    if (t == DT_LNK) return p9::QTSYMLINK;
    return p9::QTFILE;
}

// Treaddirplus: what a Twalkattr of the entry's name would answer, found
// the way walk_fid finds it (O_PATH|O_NOFOLLOW from the directory, never
// into our own mount, own_mount before any stat so our FUSE mount is not
// asked). Anything else leaves valid 0 and the mount looks the name up.
void attrs_of_entry(Ctx& c, int dirfd, dev_t ddev, ino_t dino, const char* name, p9::DirentPlus& e) {
    if (!strcmp(name, ".") || !strcmp(name, "..")) return;
    Fd fd(openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd || own_mount(c.s, fd.get())) return;
    struct stat st;
    if (stat_fd(fd.get(), st)) return;
    c.s.feed.saw_child(ddev, dino, st);  // before getattr_of asks covered()
    e.attr = getattr_of(c.s, st);
    e.xnone = xattrs_absent(fd.get(), st.st_mode);
}

// Treaddir and Treaddirplus (plus: each entry with its attributes).
Reply read_entries(Ctx& c, uint32_t fid, uint64_t offset, uint32_t want, bool plus) {
    auto f = c.fid(fid);
    if (!f) return fail(EBADF);
    std::lock_guard<std::mutex> g(f->mu);
    if (!f->ofd) return fail(EBADF);
    if (!f->is_dir()) return fail(ENOTDIR);
    int fd = f->ofd->get();
    // Before the read: the mount may cache the listing and, from a
    // readdirplus, each entry's attributes (feed.h). Every call, not only
    // at offset 0: a listing may be resumed on another open.
    c.s.feed.watch_dir(fd, f->dev, f->ino);
    uint32_t count = std::min(want, c.s.iounit());
    if (offset > uint64_t(INT64_MAX)) return fail(EINVAL);
    if (lseek(fd, off_t(offset), SEEK_SET) < 0) return fail_errno();
    std::string out;
    bool full = false;
    while (!full) {
        ssize_t n = dents(fd, [&](const linux_dirent64& d) {
            p9::DirentPlus ep;
            p9::Dirent& e = ep.d;
            e.name = d.d_name;
            e.offset = uint64_t(d.d_off);
            e.type = d.d_type;
            if (e.type == DT_UNKNOWN) {
                struct stat st;
                if (fstatat(fd, d.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) e.type = IFTODT(st.st_mode);
            }
            e.qid.type = qtype_of_dtype(e.type);
            // d_ino is on the directory's own device (for a mount point:
            // the covered directory's, as a local readdir shows it).
            e.qid.path = c.s.qids.path(f->dev, d.d_ino);
            size_t size = plus ? p9::direntplus_size(ep) : p9::dirent_size(e);
            if (out.size() + size > count) {
                full = true;
                return false;
            }
            if (plus) {
                attrs_of_entry(c, fd, f->dev, f->ino, d.d_name, ep);
                p9::append_direntplus(out, ep);
            } else {
                p9::append_dirent(out, e);
            }
            return true;
        });
        if (n < 0) return fail_errno();
        if (n == 0) break;
    }
    // Nothing fits but entries remain: an empty reply would read as the end.
    if (out.empty() && full) return fail(EINVAL);
    if (plus) return p9::Rreaddirplus{p9::Data{std::move(out)}};
    return p9::Rreaddir{p9::Data{std::move(out)}};
}

}  // namespace

Reply h_Treaddir(Ctx& c, const p9::Treaddir& m) {
    return read_entries(c, m.fid, m.offset, m.count, false);
}

Reply h_Treaddirplus(Ctx& c, const p9::Treaddirplus& m) {
    return read_entries(c, m.fid, m.offset, m.count, true);
}

Reply read_dir_plain(Ctx& c, Fid& f, uint64_t offset, uint32_t count) {
    int fd = f.ofd->get();
    if (offset == 0) {
        if (lseek(fd, 0, SEEK_SET) < 0) return fail_errno();
        f.dir_pending.clear();
        f.dir_eof = false;
        f.dir_offset = 0;
    } else if (offset != f.dir_offset) {
        return fail(EINVAL, "bad offset in directory read");
    }
    std::string out;
    while (true) {
        if (f.dir_pending.empty()) {
            if (f.dir_eof) break;
            ssize_t n = dents(fd, [&](const linux_dirent64& d) {
                std::string name = d.d_name;
                if (name == "." || name == "..") return true;
                struct stat st;
                if (fstatat(fd, d.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return true;  // gone meanwhile
                std::string rec;
                p9::append_stat(rec, stat_plain(c.s, st, name));
                f.dir_pending.push_back(std::move(rec));
                return true;
            });
            if (n < 0) return fail_errno();
            if (n == 0) f.dir_eof = true;
            continue;
        }
        const std::string& rec = f.dir_pending.front();
        if (out.size() + rec.size() > count) break;
        out += rec;
        f.dir_pending.pop_front();
    }
    if (out.empty() && !f.dir_pending.empty())
        return fail(EINVAL, "read count too small for a directory entry");
    f.dir_offset += out.size();
    return p9::Rread{p9::Data{std::move(out)}};
}

}  // namespace duct::exp
