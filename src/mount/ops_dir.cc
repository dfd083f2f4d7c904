// FUSE ops on directories: opendir (clone + Tlopen O_RDONLY), readdir
// (Treaddir; the entries' offsets are the server's cookies, so a FUSE buffer
// that fills up simply resumes at the last cookie), releasedir (Tclunk),
// fsyncdir, mkdir (Tmkdir), rmdir/unlink (Tunlinkat), rename (Trenameat);
// servers without the *at messages (diod) get Tremove / Trename instead.
// rename with RENAME_NOREPLACE/EXCHANGE: Trenameat2 when the peer is a duct
// that negotiated the extension (table.h), else EINVAL (Trenameat has no
// flags, and emulating NOREPLACE by a lookup first would be racy).
// readdirplus (Treaddirplus, between two ducts): ops_readdirplus.cc.
// Runs on FUSE workers; each op blocks in rpc.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mount/fs.h"
#include "proto/codec.h"

namespace duct::mnt {

using namespace duct::p9;

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    if (int e = open_clone(fs, req, nfid, O_RDONLY, fi->fh)) return (void)fuse_reply_err(req, e);
    // The feed reports its entries: the kernel may keep the listing it
    // read (dropped by the feed's invalidation of the directory).
    if (keep_pages(fs, ino)) {
        fi->cache_readdir = 1;
        fi->keep_cache = 1;
    }
    if (fuse_reply_open(req, fi) == -ENOENT) {
        fs.untrack(fh_fid(fi->fh));
        fs.c.clunk_async(fh_fid(fi->fh));
    }
}

// One Treaddir's entries in the kernel's format: plain (readdir) or, for a
// readdirplus from a peer without Treaddirplus, readdirplus entries with no
// node (ino 0: the name and type only).
void reply_treaddir(Fs& fs, fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
    uint32_t count = uint32_t(std::min<size_t>(size, io_chunk(fs, fi->fh)));
    Rreaddir r;
    if (int e = fs.c.call(Treaddir{fh_fid(fi->fh), uint64_t(off), count}, r, req))
        return (void)fuse_reply_err(req, e);
    std::string out(size, '\0');
    size_t used = 0, pos = 0;
    const std::string& b = r.data.bytes;
    Dirent d;
    while (pos < b.size()) {
        if (!parse_dirent(b, pos, d)) return (void)fuse_reply_err(req, EIO);
        fuse_entry_param e = {};
        e.attr.st_ino = d.qid.path;
        e.attr.st_mode = mode_t(d.type) << 12;  // DT_* -> S_IF*
        size_t n = plus ? fuse_add_direntry_plus(req, out.data() + used, size - used, d.name.c_str(), &e,
                                                 off_t(d.offset))
                        : fuse_add_direntry(req, out.data() + used, size - used, d.name.c_str(), &e.attr,
                                            off_t(d.offset));
        if (n > size - used) break;  // full: the kernel asks again from d.offset
        used += n;
    }
    fuse_reply_buf(req, out.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    reply_treaddir(fs_of(req), req, size, off, fi, false);
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    op_release(req, ino, fi);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
    op_fsync(req, ino, datasync, fi);
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    Rmkdir r;
    if (int e = fs.c.call(Tmkdir{dfid, name, create_mode(fs, req, parent, mode), create_gid(fs, req)}, r, req))
        return (void)fuse_reply_err(req, e);
    set_owner(fs, req, parent, name);
    fuse_entry_param e;
    if (int err = lookup_entry(fs, req, parent, name, e)) return (void)fuse_reply_err(req, err);
    fuse_reply_entry(req, &e);
}

static void unlinkat(fuse_req_t req, fuse_ino_t parent, const char* name, uint32_t flags) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    if (!fs.no_unlinkat.load()) {
        Runlinkat r;
        int e = fs.c.call(Tunlinkat{dfid, name, flags}, r, req);
        if (e != EOPNOTSUPP) return (void)fuse_reply_err(req, e);
        fs.no_unlinkat = true;
    }
    // Tremove of a walked fid (remove(5): the fid is clunked even on error).
    // It cannot tell unlink from rmdir, so check the type first.
    uint32_t fid;
    if (int e = walk(fs, dfid, name, fid, req)) return (void)fuse_reply_err(req, e);
    Rgetattr a;
    int e = getattr(fs, fid, a, req);
    if (!e && bool(flags & AT_REMOVEDIR_9P) != S_ISDIR(a.mode)) e = flags ? ENOTDIR : EISDIR;
    if (e) {
        fs.c.clunk_async(fid);
        return (void)fuse_reply_err(req, e);
    }
    Rremove r;
    e = fs.c.call(Tremove{fid}, r, req);
    if (!fs.c.is_lost()) fs.c.free_fid(fid);
    fuse_reply_err(req, e);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    unlinkat(req, parent, name, AT_REMOVEDIR_9P);
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    unlinkat(req, parent, name, 0);
}

// After a rename the kernel keeps the node that moved: give it a fid walked
// to its new name (fids of path-based servers stay at the old name).
static void refresh_node(Fs& fs, fuse_req_t req, uint32_t dirfid, const char* name) {
    uint32_t fid;
    Rgetattr a;
    if (walk(fs, dirfid, name, fid, req) == 0) {
        if (getattr(fs, fid, a, req) == 0) fs.nodes.refresh(fid, a.qid, a.gen);
        else fs.c.clunk_async(fid);
    }
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned flags) {
    Fs& fs = fs_of(req);
    // Only the extension carries flags: without it NOREPLACE/EXCHANGE
    // cannot be honoured (the kernel gives the caller EINVAL, as for a
    // file system without renameat2).
    if (flags && !fs.c.duct_ext()) return (void)fuse_reply_err(req, EINVAL);
    NodeFid ofid, nfid;
    if (int e = node_fid(fs, parent, ofid)) return (void)fuse_reply_err(req, e);
    if (int e = node_fid(fs, newparent, nfid)) return (void)fuse_reply_err(req, e);
    int e = EOPNOTSUPP;
    if (flags) {
        Rrenameat2 r;
        e = fs.c.call(Trenameat2{ofid, name, nfid, newname, uint32_t(flags)}, r, req);
        if (e) return (void)fuse_reply_err(req, e);
    } else if (!fs.no_renameat.load()) {
        Rrenameat r;
        e = fs.c.call(Trenameat{ofid, name, nfid, newname}, r, req);
        if (e == EOPNOTSUPP) fs.no_renameat = true;  // e.g. diod: Trename for good
    }
    if (e == EOPNOTSUPP) {
        // Trename moves the file a fid names (Linux v9fs falls back the same way).
        uint32_t fid;
        if ((e = walk(fs, ofid, name, fid, req)) == 0) {
            Rrename r;
            e = fs.c.call(Trename{fid, nfid, newname}, r, req);
            fs.c.clunk_async(fid);
        }
    }
    if (e) return (void)fuse_reply_err(req, e);
    refresh_node(fs, req, nfid, newname);
    if (flags & RENAME_EXCHANGE) refresh_node(fs, req, ofid, name);  // both moved
    fuse_reply_err(req, 0);
}

}  // namespace duct::mnt
