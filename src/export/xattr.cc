// Extended attributes (9P2000.L): Txattrwalk makes a new fid whose reads
// return one attribute's value (or, for the name "", the NUL-separated list
// of names); Txattrcreate turns a fid into a buffer that Twrites fill and
// whose Tclunk sets the attribute (flags XATTR_CREATE/XATTR_REPLACE pass
// through; a size of 0 removes it, which is how the kernel client sends
// removexattr).
//
// There are no *at() xattr calls before Linux 6.13, so the target is
// /proc/self/fd/N (N: an O_PATH descriptor of the fid's file for the
// request) with the following variants, or
// for a symlink fid /proc/self/fd/<parent>/<name> with the l* variants, so a
// symlink is never followed.
//
// Memory: a value or list is at most 64 KiB (XATTR_SIZE_MAX), whatever the
// peer asks for, and every buffer is charged to the session's and the
// process's xattr budgets (confine.h) while its fid lives: over budget,
// Txattrcreate answers ENOSPC and Txattrwalk E2BIG.
// Threads: workers; the buffer is guarded by Fid::mu.
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "export/session.h"

namespace duct::exp {

namespace {

constexpr size_t kXattrMax = 65536;

struct Target {
    PathFd file;  // the file itself, for any other fid
    Fd hold;  // the parent directory, for a symlink fid
    std::string path;
    bool follow = true;
};

int target_of(Session& s, const Fid& f, const std::string& rel, Target& t) {
    int err = 0;
    if (!f.is_symlink()) {
        t.file = f.at(err);
        if (!t.file) return err;
        t.path = proc_path(t.file.get());
        return 0;
    }
    t.hold = parent_of(s, rel, f, err);  // ESTALE if the name is another file now
    if (!t.hold) return err;
    t.path = proc_path(t.hold.get()) + "/" + basename_of(rel);
    t.follow = false;
    return 0;
}

// getxattr/listxattr into a buffer, sized by asking first; retried if the
// attribute grew in between.
int fetch(const Target& t, const std::string& name, std::string& out) {
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n = name.empty()
                        ? (t.follow ? listxattr(t.path.c_str(), nullptr, 0)
                                    : llistxattr(t.path.c_str(), nullptr, 0))
                        : (t.follow ? getxattr(t.path.c_str(), name.c_str(), nullptr, 0)
                                    : lgetxattr(t.path.c_str(), name.c_str(), nullptr, 0));
        if (n < 0) return errno;
        if (size_t(n) > kXattrMax) return E2BIG;
        out.resize(size_t(n));
        if (n == 0) return 0;
        n = name.empty() ? (t.follow ? listxattr(t.path.c_str(), out.data(), out.size())
                                     : llistxattr(t.path.c_str(), out.data(), out.size()))
                         : (t.follow ? getxattr(t.path.c_str(), name.c_str(), out.data(), out.size())
                                     : lgetxattr(t.path.c_str(), name.c_str(), out.data(), out.size()));
        if (n >= 0) {
            out.resize(size_t(n));
            return 0;
        }
        if (errno != ERANGE) return errno;
    }
    return ERANGE;
}

}  // namespace

Reply h_Txattrwalk(Ctx& c, const p9::Txattrwalk& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    if (m.name.size() > kNameMax) return fail(ENAMETOOLONG);
    if (m.name.find('\0') != std::string::npos) return fail(EINVAL);
    std::string rel = c.s.fids.path(m.fid);
    Target t;
    if (int e = target_of(c.s, *f, rel, t)) return fail(e);
    auto nf = std::make_shared<Fid>();
    nf->ref = f->ref;
    nf->type = f->type;
    nf->dev = f->dev;
    nf->ino = f->ino;
    nf->user = f->user;
    if (int e = fetch(t, m.name, nf->xbuf)) return fail(e);
    nf->xcharge = reserve_xattr(c.s, nf->xbuf.size());
    if (!nf->xcharge) return fail(E2BIG);
    nf->xattr = Fid::Xattr::Read;
    nf->xname = m.name;
    uint64_t size = nf->xbuf.size();
    int err = 0;
    if (m.newfid == m.fid) {
        if (!c.s.fids.replace(m.fid, f.get(), std::move(nf), rel, c.gen)) return fail(EBADF);
        release_locks(c.s, *f);  // the replaced Fid (maybe open and locked) is gone
    } else if (!c.s.fids.add(m.newfid, std::move(nf), rel, err, c.gen)) {
        return fail(err);
    }
    return p9::Rxattrwalk{size};
}

Reply h_Txattrcreate(Ctx& c, const p9::Txattrcreate& m) {
    auto f = c.fid(m.fid);
    if (!f) return fail(EBADF);
    if (m.name.empty() || m.name.find('\0') != std::string::npos) return fail(EINVAL);
    if (m.name.size() > kNameMax) return fail(ENAMETOOLONG);
    if (m.attr_size > kXattrMax) return fail(E2BIG);
    if (m.flags & ~uint32_t(XATTR_CREATE | XATTR_REPLACE)) return fail(EINVAL);
    std::lock_guard<std::mutex> g(f->mu);
    if (f->opened()) return fail(EBUSY);
    // The announced size is reserved now, so a peer cannot announce more
    // than the budgets hold and fill it later.
    auto charge = reserve_xattr(c.s, size_t(m.attr_size));
    if (!charge) return fail(ENOSPC);
    f->xcharge = std::move(charge);
    f->xattr = Fid::Xattr::Write;
    f->xname = m.name;
    f->xsize = m.attr_size;
    f->xflags = int(m.flags);
    f->xbuf.clear();
    return p9::Rxattrcreate{};
}

Reply read_xattr(Fid& f, uint64_t offset, uint32_t count) {
    if (offset >= f.xbuf.size()) return p9::Rread{};
    return p9::Rread{p9::Data{f.xbuf.substr(size_t(offset), count)}};
}

// The value arrives in order; anything else (a gap, a rewrite, more than
// the announced size) is refused rather than buffered.
Reply write_xattr(Fid& f, uint64_t offset, const std::string& data) {
    if (offset != f.xbuf.size()) return fail(EINVAL);
    if (f.xbuf.size() + data.size() > f.xsize) return fail(ENOSPC);
    f.xbuf += data;
    return p9::Rwrite{uint32_t(data.size())};
}

int commit_xattr(Session& s, Fid& f, const std::string& rel) {
    act_as(f.user);
    Target t;
    if (int e = target_of(s, f, rel, t)) return e;
    const char* p = t.path.c_str();
    const char* n = f.xname.c_str();
    int r;
    // removexattr arrives as size 0 with XATTR_REPLACE (the Linux VFS calls the
    // handler's set with value NULL, flags XATTR_REPLACE; v9fs and our mount
    // pass that on). Size 0 with other flags is setxattr of an empty value,
    // which is legal and common (e.g. markers); QEMU removes in both cases,
    // which loses empty values. The only ambiguous case, an empty value set
    // with XATTR_REPLACE, is taken as a removal as QEMU does.
    if (f.xsize == 0 && (f.xflags & XATTR_REPLACE)) {
        r = t.follow ? removexattr(p, n) : lremovexattr(p, n);
    } else {
        if (f.xbuf.size() != f.xsize) return EINVAL;  // the peer wrote less than it announced
        r = t.follow ? setxattr(p, n, f.xbuf.data(), f.xbuf.size(), f.xflags)
                     : lsetxattr(p, n, f.xbuf.data(), f.xbuf.size(), f.xflags);
    }
    return r == 0 ? 0 : errno;
}

}  // namespace duct::exp
