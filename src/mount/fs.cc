// The helpers shared by the FUSE ops (see fs.h). Each may block in rpc on a
// FUSE worker thread; none holds a lock across an rpc.
#include "mount/fs.h"

#include <sys/sysmacros.h>

#include <cerrno>

#include "proto/oflags.h"

namespace duct::mnt {

using namespace duct::p9;

Fs& fs_of(fuse_req_t req) { return *static_cast<Fs*>(fuse_req_userdata(req)); }

uint32_t io_chunk(Fs& fs, uint64_t fh) {
    uint32_t n = fs.c.iosize();
    uint32_t iou = fh_iounit(fh);
    if (iou && iou < n) n = iou;
    // Whole pages, so one page-aligned FUSE request is one Tread/Twrite.
    return n > 4096 ? n & ~4095u : n;
}

void stat_from(const Rgetattr& a, struct stat& st) {
    st = {};
    st.st_ino = a.qid.path;
    st.st_mode = a.mode;
    st.st_nlink = a.nlink;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = a.rdev;
    st.st_size = off_t(a.size);
    st.st_blksize = blksize_t(a.blksize);
    st.st_blocks = blkcnt_t(a.blocks);
    st.st_atim = {time_t(a.atime_sec), long(a.atime_nsec)};
    st.st_mtim = {time_t(a.mtime_sec), long(a.mtime_nsec)};
    st.st_ctim = {time_t(a.ctime_sec), long(a.ctime_nsec)};
}

// A lazy node (inodes.h) gets its fid here, on first use: a walk of its
// name from its parent, kept only if it reached the same file. Another file
// at that name now (renamed or replaced on the exporting disk), or none:
// ESTALE, and the kernel looks the name up afresh (or the caller sees it).
static int attach_lazy(Fs& fs, fuse_ino_t ino, const InodeTable::Origin& o, int depth) {
    NodeFid dfid;
    if (int e = node_fid(fs, o.parent, dfid, depth + 1)) return e;
    uint32_t fid = p9::NOFID;
    Rgetattr a;
    int e = ENOSYS;
    if (!fs.no_walkattr.load()) {
        fid = fs.c.alloc_fid();
        Rwalkattr w;
        e = fs.c.call(Twalkattr{dfid, fid, {o.name}}, w, nullptr);
        if (!e && w.wqid.size() != 1) e = ENOENT;  // walk(5): no newfid
        if (e) fs.c.free_fid(fid);
        else copy_attrs(w, a);
        if (e == ENOSYS) fs.no_walkattr = true;
    }
    if (e == ENOSYS) {  // an older duct: walk, then getattr
        if (!(e = walk(fs, dfid, o.name.c_str(), fid, nullptr)) && (e = getattr(fs, fid, a, nullptr)))
            fs.c.clunk_async(fid);
    }
    if (e) return e == ENOENT ? ESTALE : e;
    return fs.nodes.attach(ino, fid, a.qid, a.gen) ? 0 : ESTALE;
}

int node_fid(Fs& fs, fuse_ino_t ino, NodeFid& fid, int depth) {
    InodeTable::Origin lazy;
    if (!fs.nodes.pin(ino, fid, &lazy)) return ESTALE;
    if (fid.fid() != p9::NOFID) return 0;
    // A chain of lazy parents is as deep as the directories listed without
    // being looked up; the kernel looks up before it descends, so a long
    // one is a bug somewhere, not a reason to recurse without end.
    if (depth > 64) return ESTALE;
    if (int e = attach_lazy(fs, ino, lazy, depth)) return e;
    if (!fs.nodes.pin(ino, fid)) return ESTALE;
    return fid.fid() != p9::NOFID ? 0 : ESTALE;
}

int walk(Fs& fs, uint32_t dfid, const char* name, uint32_t& newfid, fuse_req_t req) {
    newfid = fs.c.alloc_fid();
    Twalk t{dfid, newfid, {}};
    if (name) t.wname.push_back(name);
    Rwalk r;
    int e = fs.c.call(t, r, req);
    // walk(5): a partial walk (fewer qids than names) makes no newfid.
    if (!e && r.wqid.size() != t.wname.size()) e = ENOENT;
    if (e) fs.c.free_fid(newfid);
    return e;
}

int getattr(Fs& fs, uint32_t fid, Rgetattr& a, fuse_req_t req) {
    int e = fs.c.call(Tgetattr{fid, GETATTR_BASIC}, a, req);
    if (!e) map_ids(fs, a);
    return e;
}

uint32_t create_gid(Fs& fs, fuse_req_t req) {
    uint32_t g;
    // A group with no remote id: the attach user's.
    return fs.ids.gid_out(fuse_req_ctx(req)->gid, g) ? g : fs.attach_gid;
}

int lookup_entry(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name,
                 fuse_entry_param& e) {
    NodeFid dfid;
    uint32_t fid;
    if (int err = node_fid(fs, parent, dfid)) return err;
    const uint64_t gen0 = fs.c.feed_gen();
    if (fs.c.duct_ext() && !fs.no_walkattr.load()) {
        // One round trip: the walk and the attributes (duct extension).
        fid = fs.c.alloc_fid();
        Rwalkattr w;
        int err = fs.c.call(Twalkattr{dfid, fid, {name}}, w, req);
        if (err != ENOSYS) {
            if (!err && w.wqid.size() != 1) err = ENOENT;  // walk(5): no newfid
            if (err) {
                fs.c.free_fid(fid);
                // ENOENT in a directory whose entries the feed reports: the
                // kernel may remember the name is absent (e.ino 0).
                if (err == ENOENT && !negative_entry(fs, parent, name, gen0, e)) e = {};
                return err;
            }
            Rgetattr a;
            copy_attrs(w, a);
            map_ids(fs, a);
            entry_from(fs, fid, a, e);
            entry_times(fs, parent, name, a, gen0, e);
            // The xattrs it has none of: believed as long as its attributes
            // (an xattr set on the exporting side is an IN_ATTRIB event).
            if (w.xnone) fs.xnone.put(e.ino, w.xnone, e.attr_timeout);
            else fs.xnone.forget(e.ino);
            return 0;
        }
        fs.c.free_fid(fid);
        fs.no_walkattr = true;
    }
    if (int err = walk(fs, dfid, name, fid, req)) return err;
    Rgetattr a;
    if (int err = getattr(fs, fid, a, req)) {
        fs.c.clunk_async(fid);
        return err;
    }
    entry_from(fs, fid, a, e);
    return 0;
}

void map_ids(Fs& fs, Rgetattr& a) {
    a.uid = fs.ids.uid_in(a.uid);
    a.gid = fs.ids.gid_in(a.gid);
}

void entry_from(Fs& fs, uint32_t fid, const Rgetattr& a, fuse_entry_param& e) {
    e = {};
    e.ino = fs.nodes.add(fid, a.qid, a.gen);
    stat_from(a, e.attr);
    e.attr_timeout = fs.timeout;
    e.entry_timeout = fs.timeout;
}

bool set_owner(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    uint32_t uid, gid;
    // The attach user made it already; an unmappable caller keeps that owner.
    if (!fs.ids.uid_out(ctx->uid, uid) || uid == fs.attach_uid) return false;
    if (!fs.ids.gid_out(ctx->gid, gid)) gid = NONUNAME;
    NodeFid dfid;
    uint32_t fid;
    if (node_fid(fs, parent, dfid) || walk(fs, dfid, name, fid, req)) return false;
    Tsetattr t{};
    t.fid = fid;
    t.valid = gid == NONUNAME ? SETATTR_UID : SETATTR_UID | SETATTR_GID;
    t.uid = uid;
    t.gid = gid;
    // In a setgid directory the new name takes the directory's group (the
    // export's file system gave it already): keep it, change only the owner.
    Rgetattr pa;
    if (getattr(fs, dfid, pa, req) == 0 && (pa.mode & S_ISGID)) t.valid = SETATTR_UID;
    Rsetattr r;
    fs.c.call(t, r, req);
    fs.c.clunk_async(fid);
    return true;
}

uint32_t wire_oflags(int flags) {
    // Creation is Tlcreate's job; O_NOCTTY means nothing to the server;
    // the kernel resolved the path already (NOFOLLOW); O_DIRECT stays here
    // (direct_io_of): the exporting side's buffers are not aligned for it.
    flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_DIRECT);
    return oflags_to_l(flags);
}

void direct_io_of(fuse_file_info* fi) {
    if (fi->flags & O_DIRECT) fi->direct_io = 1;
}

int open_clone(Fs& fs, fuse_req_t req, uint32_t nodefid, int flags, uint64_t& fh) {
    uint32_t fid;
    if (int e = walk(fs, nodefid, nullptr, fid, req)) return e;
    Rlopen r;
    if (int e = fs.c.call(Tlopen{fid, wire_oflags(flags)}, r, req)) {
        fs.c.clunk_async(fid);
        return e;
    }
    fs.track(fid);
    fh = make_fh(fid, r.iounit);
    return 0;
}

}  // namespace duct::mnt
