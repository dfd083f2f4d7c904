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
// Threads: workers; a directory fid's reads hold its Fid::mu throughout,
// because seeking and reading share the one open file description.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

}  // namespace

Reply h_Treaddir(Ctx& c, const p9::Treaddir& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    std::lock_guard<std::mutex> g(f->mu);
    if (!f->ofd) return fail(EBADF);
    if (!f->is_dir()) return fail(ENOTDIR);
    int fd = f->ofd->get();
    // Before the read: the mount may cache the listing (feed.h).
    if (m.offset == 0) c.s.feed.watch_dir(fd, f->dev, f->ino);
    uint32_t count = std::min(m.count, c.s.iounit());
    if (m.offset > uint64_t(INT64_MAX)) return fail(EINVAL);
    if (lseek(fd, off_t(m.offset), SEEK_SET) < 0) return fail_errno();
    std::string out;
    bool full = false;
    while (!full) {
        ssize_t n = dents(fd, [&](const linux_dirent64& d) {
            p9::Dirent e;
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
            if (out.size() + p9::dirent_size(e) > count) {
                full = true;
                return false;
            }
            p9::append_dirent(out, e);
            return true;
        });
        if (n < 0) return fail_errno();
        if (n == 0) break;
    }
    // Nothing fits but entries remain: an empty reply would read as the end.
    if (out.empty() && full) return fail(EINVAL);
    return p9::Rreaddir{p9::Data{std::move(out)}};
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
