// FUSE ops on names and attributes: lookup (Twalk of one name + Tgetattr),
// forget (Tclunk of the node's fid when the kernel's count reaches 0),
// getattr, setattr (Tsetattr, incl. UTIME_NOW via *_NOW and ftruncate via
// fi), statfs. Runs on FUSE workers; each op blocks in rpc.
#include <sys/statvfs.h>

#include <cerrno>

#include "mount/fs.h"

namespace duct::mnt {

using namespace duct::p9;

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    fuse_entry_param e{};
    int err = lookup_entry(fs_of(req), req, parent, name, e);
    if (err == ENOENT && e.ino == 0 && e.entry_timeout > 0) fuse_reply_entry(req, &e);  // negative, cached
    else if (err) fuse_reply_err(req, err);
    else fuse_reply_entry(req, &e);
}

static void forget_one(Fs& fs, fuse_ino_t ino, uint64_t n) { fs.nodes.forget(ino, n); }

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    forget_one(fs_of(req), ino, nlookup);
    fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* f) {
    Fs& fs = fs_of(req);
    for (size_t i = 0; i < count; i++) forget_one(fs, f[i].ino, f[i].nlookup);
    fuse_reply_none(req);
}

static void reply_attr_of(fuse_req_t req, fuse_ino_t ino, uint32_t fid) {
    Fs& fs = fs_of(req);
    Rgetattr a;
    const uint64_t gen0 = fs.c.feed_gen();
    if (int e = getattr(fs, fid, a, req)) return (void)fuse_reply_err(req, e);
    struct stat st;
    stat_from(a, st);
    fuse_reply_attr(req, &st, attr_time(fs, ino, a, gen0));
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    if (fi) return reply_attr_of(req, ino, fh_fid(fi->fh));
    NodeFid fid;
    if (int e = node_fid(fs_of(req), ino, fid)) return (void)fuse_reply_err(req, e);
    reply_attr_of(req, ino, fid);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* st, int to_set, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    uint32_t fid;
    if (fi) fid = fh_fid(fi->fh);
    else if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    else fid = nfid;
    Tsetattr t{};
    t.fid = fid;
    if (to_set & FUSE_SET_ATTR_MODE) { t.valid |= SETATTR_MODE; t.mode = st->st_mode; }
    // An id with no remote id under --idmap: EOVERFLOW, as an idmapped
    // Linux mount answers.
    if (to_set & FUSE_SET_ATTR_UID) {
        t.valid |= SETATTR_UID;
        if (!fs.ids.uid_out(st->st_uid, t.uid)) return (void)fuse_reply_err(req, EOVERFLOW);
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        t.valid |= SETATTR_GID;
        if (!fs.ids.gid_out(st->st_gid, t.gid)) return (void)fuse_reply_err(req, EOVERFLOW);
    }
    if (to_set & FUSE_SET_ATTR_SIZE) { t.valid |= SETATTR_SIZE; t.size = uint64_t(st->st_size); }
    // Linux 9p: ATIME alone means "now"; with ATIME_SET the given time.
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
        t.valid |= SETATTR_ATIME;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
        t.valid |= SETATTR_ATIME | SETATTR_ATIME_SET;
        t.atime_sec = uint64_t(st->st_atim.tv_sec);
        t.atime_nsec = uint64_t(st->st_atim.tv_nsec);
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
        t.valid |= SETATTR_MTIME;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
        t.valid |= SETATTR_MTIME | SETATTR_MTIME_SET;
        t.mtime_sec = uint64_t(st->st_mtim.tv_sec);
        t.mtime_nsec = uint64_t(st->st_mtim.tv_nsec);
    }
    if (to_set & FUSE_SET_ATTR_CTIME) t.valid |= SETATTR_CTIME;
    if (t.valid) {
        Rsetattr r;
        if (int e = fs.c.call(t, r, req)) return (void)fuse_reply_err(req, e);
    }
    reply_attr_of(req, ino, fid);
}

void op_statfs(fuse_req_t req, fuse_ino_t ino) {
    Fs& fs = fs_of(req);
    NodeFid fid;
    if (node_fid(fs, ino, fid)) node_fid(fs, InodeTable::ROOT, fid);
    Rstatfs r;
    if (int e = fs.c.call(Tstatfs{fid}, r, req)) return (void)fuse_reply_err(req, e);
    struct statvfs s = {};
    s.f_bsize = r.bsize;
    s.f_frsize = r.bsize;
    s.f_blocks = r.blocks;
    s.f_bfree = r.bfree;
    s.f_bavail = r.bavail;
    s.f_files = r.files;
    s.f_ffree = r.ffree;
    s.f_favail = r.ffree;
    s.f_fsid = r.fsid;
    s.f_namemax = r.namelen;
    fuse_reply_statfs(req, &s);
}

}  // namespace duct::mnt
