// The plain-9P2000 FUSE operations (see p2000.h for the role and threads).
//
// The 9P2000 rules this file follows (Plan 9 section 5):
//  - walk(5): a fid is cloned by a walk of no names before it is opened or
//    created on, because open and create turn the fid itself into the open
//    file; the node's own fid is never opened.
//  - open(5): modes OREAD/OWRITE/ORDWR (+OTRUNC); create(5) always fails on
//    an existing name; DMDIR in perm makes a directory.
//  - read(5) on a directory: whole stat records; each offset must be 0 or
//    the previous offset plus the bytes returned. So the listing is read to
//    its end in one go (offset 0 again on rewinddir) and kept per open
//    directory; FUSE offsets are indexes into it.
//  - stat(5): Twstat changes all the fields it names or none; ~0 and ""
//    mean "don't touch"; a Twstat that touches nothing asks the server to
//    commit the file to stable storage (our fsync); a rename changes only
//    the name within the directory.
//  - remove(5): the fid is clunked even when the remove fails.
// What 9P2000 cannot express answers a clear errno (see ops_table.cc).
#include "mount/p2000.h"

#include <grp.h>
#include <pwd.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "mount/readahead.h"
#include "proto/codec.h"

namespace duct::mnt::p2000 {

using namespace duct::p9;

namespace {

// ---- names <-> ids ----
// 9P2000 carries owners as names. A name known here maps to its id; a
// number (our export sends numbers for ids without a name) maps to itself;
// anything else (an Inferno user) becomes our own uid/gid, as 9pfuse does,
// so the mounting user can use what it mounted under default_permissions.
std::mutex g_ids_mu;  // guards g_uids, g_gids (leaf lock)
std::unordered_map<std::string, uid_t> g_uids;
std::unordered_map<std::string, gid_t> g_gids;

bool numeric(const std::string& s) {
    return !s.empty() && s.size() < 10 && s.find_first_not_of("0123456789") == std::string::npos;
}

// Name -> id through the cache; `lookup` asks the system (false: unknown),
// a numeric name is taken as the number, anything else maps to `fallback`.
template <class Id, class Lookup>
Id cached_id(std::unordered_map<std::string, Id>& cache, const std::string& name, Id fallback, Lookup lookup) {
    std::lock_guard<std::mutex> g(g_ids_mu);
    auto it = cache.find(name);
    if (it != cache.end()) return it->second;
    Id id = fallback;
    if (!lookup(id) && numeric(name)) id = Id(std::stoul(name));
    if (cache.size() > 4096) cache.clear();
    return cache[name] = id;
}

uid_t uid_of(const std::string& name) {
    return cached_id<uid_t>(g_uids, name, getuid(), [&](uid_t& id) {
        struct passwd pw, *res = nullptr;
        char buf[4096];
        if (getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res) return false;
        id = pw.pw_uid;
        return true;
    });
}

gid_t gid_of(const std::string& name) {
    return cached_id<gid_t>(g_gids, name, getgid(), [&](gid_t& id) {
        struct group gr, *res = nullptr;
        char buf[4096];
        if (getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res) return false;
        id = gr.gr_gid;
        return true;
    });
}

std::string user_name(uid_t uid) {
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) return pw.pw_name;
    return std::to_string(uid);
}

std::string group_name(gid_t gid) {
    struct group gr, *res = nullptr;
    char buf[4096];
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res) return gr.gr_name;
    return std::to_string(gid);
}

// ---- stat records -> struct stat ----
mode_t type_of(u32 dmode) {
    if (dmode & DMDIR) return S_IFDIR;
    if (dmode & DMSYMLINK) return S_IFLNK;
    if (dmode & DMDEVICE) return S_IFCHR;  // 9P2000 cannot say block or char
    if (dmode & DMNAMEDPIPE) return S_IFIFO;
    if (dmode & DMSOCKET) return S_IFSOCK;
    return S_IFREG;
}

// qid.path 0 is common (the root of many Plan 9 servers); st_ino 0 reads as
// "no file" to some tools, so it gets a value no real path is likely to use.
ino_t ino_of(const Qid& q) { return q.path ? ino_t(q.path) : ~ino_t(0); }

void stat_from(Fs& fs, const Stat& d, struct stat& st) {
    st = {};
    st.st_ino = ino_of(d.qid);
    st.st_mode = type_of(d.mode) | (d.mode & 0777);
    if (d.mode & DMSETUID) st.st_mode |= S_ISUID;
    if (d.mode & DMSETGID) st.st_mode |= S_ISGID;
    st.st_nlink = 1;  // unknown; 1 also stops find(1) from counting subdirs by nlink
    st.st_uid = uid_of(d.uid);
    st.st_gid = gid_of(d.gid);
    st.st_size = off_t(d.length);
    st.st_blksize = blksize_t(std::max<u32>(4096, fs.c.iosize() & ~4095u));
    st.st_blocks = blkcnt_t((d.length + 511) / 512);
    st.st_atim = {time_t(d.atime), 0};
    st.st_mtim = {time_t(d.mtime), 0};
    st.st_ctim = st.st_mtim;  // 9P2000 has no ctime
}

int fstat9(Fs& fs, u32 fid, Stat& d, fuse_req_t req) {
    Rstat r;
    if (int e = fs.c.call(Tstat{fid}, r, req)) return e;
    d = std::move(r.stat);
    return 0;
}

int wstat9(Fs& fs, u32 fid, const Stat& d, fuse_req_t req) {
    Rwstat r;
    return fs.c.call(Twstat{fid, d}, r, req);
}

// Walks one name (nullptr: clone) and returns the qid it reached.
int walk_qid(Fs& fs, u32 dfid, const char* name, u32& newfid, Qid& qid, fuse_req_t req) {
    newfid = fs.c.alloc_fid();
    Twalk t{dfid, newfid, {}};
    if (name) t.wname.push_back(name);
    Rwalk r;
    int e = fs.c.call(t, r, req);
    if (!e && r.wqid.size() != t.wname.size()) e = ENOENT;  // partial walk: no newfid
    if (e) {
        fs.c.free_fid(newfid);
        return e;
    }
    if (!r.wqid.empty()) qid = r.wqid.back();
    return 0;
}

int lookup9(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name, fuse_entry_param& e) {
    NodeFid dfid;
    u32 fid;
    Qid q;
    if (int err = node_fid(fs, parent, dfid)) return err;
    if (int err = walk_qid(fs, dfid, name, fid, q, req)) return err;
    Stat d;
    if (int err = fstat9(fs, fid, d, req)) {
        fs.c.clunk_async(fid);
        return err;
    }
    e = {};
    e.ino = fs.nodes.add(fid, d.qid, 0);
    stat_from(fs, d, e.attr);
    e.attr_timeout = fs.timeout;
    e.entry_timeout = fs.timeout;
    return 0;
}

u8 omode_of(int flags) {
    u8 m;
    switch (flags & O_ACCMODE) {
    case O_WRONLY: m = OWRITE; break;
    case O_RDWR: m = ORDWR; break;
    default: m = OREAD; break;
    }
    if (flags & O_TRUNC) m |= OTRUNC;
    return m;
}

// Clones nodefid and opens the clone (open(5)); fh gets fid and iounit.
int open9(Fs& fs, fuse_req_t req, u32 nodefid, u8 mode, uint64_t& fh) {
    u32 fid;
    Qid q;
    if (int e = walk_qid(fs, nodefid, nullptr, fid, q, req)) return e;
    Ropen r;
    if (int e = fs.c.call(Topen{fid, mode}, r, req)) {
        fs.c.clunk_async(fid);
        return e;
    }
    fs.track(fid);
    fh = make_fh(fid, r.iounit);
    return 0;
}

void reply_attr(fuse_req_t req, Fs& fs, u32 fid) {
    Stat d;
    if (int e = fstat9(fs, fid, d, req)) return (void)fuse_reply_err(req, e);
    struct stat st;
    stat_from(fs, d, st);
    fuse_reply_attr(req, &st, fs.timeout);
}

void release_open(Fs& fs, u32 fid) {
    fs.untrack(fid);
    fs.c.clunk_async(fid);
}

// ---- open directories ----
// One listing per open directory fid, read whole on the first readdir at
// offset 0. Keyed by (Fs, fid) so two mounts in one process never meet.
struct Listing {
    std::mutex mu;  // guards entries, loaded; leaf lock, but held across the
                    // Treads that fill it (only this directory's readers wait)
    bool loaded = false;
    std::vector<Stat> entries;
};
std::mutex g_dirs_mu;  // guards g_dirs (leaf lock)
std::map<std::pair<const Fs*, u32>, std::shared_ptr<Listing>> g_dirs;

std::shared_ptr<Listing> listing(Fs& fs, u32 fid, bool create) {
    std::lock_guard<std::mutex> g(g_dirs_mu);
    auto& slot = g_dirs[{&fs, fid}];
    if (!slot || create) slot = std::make_shared<Listing>();
    return slot;
}

void drop_listing(Fs& fs, u32 fid) {
    std::lock_guard<std::mutex> g(g_dirs_mu);
    g_dirs.erase({&fs, fid});
}

// Reads the open directory fid from offset 0 to its end (read(5) offsets).
int read_listing(Fs& fs, fuse_req_t req, uint64_t fh, std::vector<Stat>& out) {
    out.clear();
    u32 fid = fh_fid(fh);
    u32 count = fs.c.iosize();
    if (fh_iounit(fh) && fh_iounit(fh) < count) count = fh_iounit(fh);
    uint64_t off = 0;
    for (;;) {
        Rread r;
        if (int e = fs.c.call(Tread{fid, off, count}, r, req)) return e;
        const std::string& b = r.data.bytes;
        if (b.empty()) return 0;
        size_t pos = 0;
        while (pos < b.size()) {
            Stat d;
            if (!parse_stat(b, pos, d)) return EIO;
            if (d.name.empty() || d.name == "." || d.name == ".." || d.name.find('/') != std::string::npos)
                continue;  // not a name FUSE can show
            out.push_back(std::move(d));
        }
        off += b.size();
    }
}

int remove_child(Fs& fs, fuse_req_t req, u32 dfid, const char* name, bool want_dir) {
    u32 fid;
    Qid q;
    if (int e = walk_qid(fs, dfid, name, fid, q, req)) return e;
    // Tremove removes either kind; unlink and rmdir must not.
    bool is_dir = q.type & QTDIR;
    if (is_dir != want_dir) {
        fs.c.clunk_async(fid);
        return want_dir ? ENOTDIR : EISDIR;
    }
    Rremove r;
    int e = fs.c.call(Tremove{fid}, r, req);
    if (!fs.c.is_lost()) fs.c.free_fid(fid);  // remove(5): clunked even on error
    return e;
}

}  // namespace

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    fuse_entry_param e;
    if (int err = lookup9(fs_of(req), req, parent, name, e)) return (void)fuse_reply_err(req, err);
    fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    if (fi) return reply_attr(req, fs, fh_fid(fi->fh));
    NodeFid fid;
    if (int e = node_fid(fs, ino, fid)) return (void)fuse_reply_err(req, e);
    reply_attr(req, fs, fid);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* st, int to_set, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    u32 fid;
    if (fi) fid = fh_fid(fi->fh);
    else if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    else fid = nfid;
    Stat w = stat_keep();
    bool any = false;
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
        // The type bits (DMDIR, DMAPPEND, ...) must be sent back unchanged,
        // and an owner the file already has is not a change (cp -p chowns
        // to the same ids; a server may refuse any uid in a Twstat).
        Stat cur;
        if (int e = fstat9(fs, fid, cur, req)) return (void)fuse_reply_err(req, e);
        if (to_set & FUSE_SET_ATTR_MODE) {
            w.mode = (cur.mode & ~0777u) | (st->st_mode & 0777);
            any = true;
        }
        if ((to_set & FUSE_SET_ATTR_UID) && st->st_uid != uid_of(cur.uid)) {
            w.uid = user_name(st->st_uid);
            any = true;
        }
        if ((to_set & FUSE_SET_ATTR_GID) && st->st_gid != gid_of(cur.gid)) {
            w.gid = group_name(st->st_gid);
            any = true;
        }
    }
    if (to_set & FUSE_SET_ATTR_SIZE) { w.length = uint64_t(st->st_size); any = true; }
    // 9P2000 times are seconds; "now" is this machine's clock.
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) { w.atime = u32(time(nullptr)); any = true; }
    else if (to_set & FUSE_SET_ATTR_ATIME) { w.atime = u32(st->st_atim.tv_sec); any = true; }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) { w.mtime = u32(time(nullptr)); any = true; }
    else if (to_set & FUSE_SET_ATTR_MTIME) { w.mtime = u32(st->st_mtim.tv_sec); any = true; }
    // An all-"don't touch" Twstat would mean sync, not "change nothing".
    if (any) {
        if (int e = wstat9(fs, fid, w, req)) return (void)fuse_reply_err(req, e);
    }
    reply_attr(req, fs, fid);
}

// No Tstatfs in 9P2000: report a large, plausible file system rather than an
// error (statvfs failing breaks df and some installers), as sshfs does for
// servers without its statvfs extension.
void op_statfs(fuse_req_t req, fuse_ino_t) {
    struct statvfs s = {};
    s.f_bsize = s.f_frsize = 4096;
    s.f_blocks = s.f_bfree = s.f_bavail = 1ull << 30;  // 4 TiB, all free
    s.f_files = s.f_ffree = s.f_favail = 1000000000;
    s.f_namemax = 255;
    fuse_reply_statfs(req, &s);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    apply_readahead(fs_of(req));  // once per mount (readahead.h)
    Fs& fs = fs_of(req);
    NodeFid nfid;
    if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    if (int e = open9(fs, req, nfid, omode_of(fi->flags), fi->fh)) return (void)fuse_reply_err(req, e);
    direct_io_of(fi);
    if (fuse_reply_open(req, fi) == -ENOENT) release_open(fs, fh_fid(fi->fh));  // the caller went away
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    u32 fid;
    Qid q;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    if (int e = walk_qid(fs, dfid, nullptr, fid, q, req)) return (void)fuse_reply_err(req, e);
    Rcreate r;
    int e = fs.c.call(Tcreate{fid, name, u32(mode & 0777), u8(omode_of(fi->flags) & ~OTRUNC)}, r, req);
    fuse_entry_param ent;
    if (e == EEXIST && !(fi->flags & O_EXCL)) {
        // create(5) never opens an existing file; O_CREAT without O_EXCL
        // does (another client made the name since the kernel's lookup).
        fs.c.clunk_async(fid);
        if ((e = lookup9(fs, req, parent, name, ent))) return (void)fuse_reply_err(req, e);
        NodeFid nfid;
        if (fs.nodes.pin(ent.ino, nfid) && (e = open9(fs, req, nfid, omode_of(fi->flags), fi->fh)) == 0) {
            direct_io_of(fi);
            if (fuse_reply_create(req, &ent, fi) == -ENOENT) release_open(fs, fh_fid(fi->fh));
            return;
        }
        nfid.reset();
        fs.nodes.forget(ent.ino, 1);
        return (void)fuse_reply_err(req, e ? e : ESTALE);
    }
    if (e) {
        fs.c.clunk_async(fid);
        return (void)fuse_reply_err(req, e);
    }
    // create turned fid into the open new file; the node walks its own.
    fs.track(fid);
    fi->fh = make_fh(fid, r.iounit);
    if ((e = lookup9(fs, req, parent, name, ent))) {
        release_open(fs, fid);
        return (void)fuse_reply_err(req, e);
    }
    direct_io_of(fi);
    if (fuse_reply_create(req, &ent, fi) == -ENOENT) release_open(fs, fid);
}

// O_APPEND: 9P2000 has no append open mode (DMAPPEND is a property of the
// file), and the kernel's offset is its cached size. Write at the size the
// server reports now: right for one writer, best effort for several.
void op_write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off,
              fuse_file_info* fi) {
    if (fi->flags & O_APPEND) {
        Stat d;
        if (int e = fstat9(fs_of(req), fh_fid(fi->fh), d, req)) return (void)fuse_reply_err(req, e);
        off = off_t(d.length);
    }
    mnt::op_write(req, ino, data, size, off, fi);
}

// No locks travel in 9P2000, so nothing to release on close.
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

// stat(5): a Twstat with every field "don't touch" asks for the file to be
// committed to stable storage. Servers that refuse it have nothing more to
// commit (every write was answered already): that is not a failed fsync.
static int sync_fid(Fs& fs, u32 fid, fuse_req_t req) {
    int e = wstat9(fs, fid, stat_keep(), req);
    if (e == EPERM || e == EACCES || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP) e = 0;
    return e;
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
    fuse_reply_err(req, sync_fid(fs_of(req), fh_fid(fi->fh), req));
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    if (int e = open9(fs, req, nfid, OREAD, fi->fh)) return (void)fuse_reply_err(req, e);
    listing(fs, fh_fid(fi->fh), true);
    if (fuse_reply_open(req, fi) == -ENOENT) {
        drop_listing(fs, fh_fid(fi->fh));
        release_open(fs, fh_fid(fi->fh));
    }
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    auto l = listing(fs, fh_fid(fi->fh), false);
    std::lock_guard<std::mutex> g(l->mu);
    // Offset 0 is a fresh start (opendir or rewinddir): read the directory
    // again from 9P offset 0, which read(5) always allows.
    if (off == 0 || !l->loaded) {
        l->loaded = false;
        if (int e = read_listing(fs, req, fi->fh, l->entries)) return (void)fuse_reply_err(req, e);
        l->loaded = true;
    }
    std::string out(size, '\0');
    size_t used = 0;
    for (size_t i = size_t(off); i < l->entries.size(); i++) {
        const Stat& d = l->entries[i];
        struct stat st = {};
        st.st_ino = ino_of(d.qid);
        st.st_mode = type_of(d.mode);
        size_t n = fuse_add_direntry(req, out.data() + used, size - used, d.name.c_str(), &st, off_t(i + 1));
        if (n > size - used) break;  // full: the kernel asks again from i
        used += n;
    }
    fuse_reply_buf(req, out.data(), used);
}

void op_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    drop_listing(fs_of(req), fh_fid(fi->fh));
    mnt::op_release(req, ino, fi);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
    fuse_reply_err(req, sync_fid(fs_of(req), fh_fid(fi->fh), req));
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    u32 fid;
    Qid q;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    if (int e = walk_qid(fs, dfid, nullptr, fid, q, req)) return (void)fuse_reply_err(req, e);
    // create(5) with DMDIR makes a directory, opened for reading: clunk it.
    Rcreate r;
    if (int e = fs.c.call(Tcreate{fid, name, DMDIR | u32(mode & 0777), OREAD}, r, req)) {
        fs.c.clunk_async(fid);
        return (void)fuse_reply_err(req, e);
    }
    fs.c.clunk_async(fid);
    fuse_entry_param e;
    if (int err = lookup9(fs, req, parent, name, e)) return (void)fuse_reply_err(req, err);
    fuse_reply_entry(req, &e);
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    fuse_reply_err(req, remove_child(fs, req, dfid, name, true));
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    fuse_reply_err(req, remove_child(fs, req, dfid, name, false));
}

// stat(5): a Twstat can change only the name within its directory, and
// Plan 9 never lets it replace an existing name. Across directories: EXDEV,
// so mv(1) copies and removes. Replacing (what rename(2) promises and
// editors rely on) is done as remove-then-rename: NOT atomic — a crash
// between the two loses the old target. RENAME_NOREPLACE is what the wire
// does anyway; RENAME_EXCHANGE cannot be expressed.
void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned flags) {
    if (flags & ~unsigned(RENAME_NOREPLACE)) return (void)fuse_reply_err(req, EINVAL);
    if (parent != newparent) return (void)fuse_reply_err(req, EXDEV);
    if (std::string(name) == newname) return (void)fuse_reply_err(req, 0);
    Fs& fs = fs_of(req);
    NodeFid dfid;
    u32 fid;
    Qid q;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    if (int e = walk_qid(fs, dfid, name, fid, q, req)) return (void)fuse_reply_err(req, e);
    Stat w = stat_keep();
    w.name = newname;
    int e = wstat9(fs, fid, w, req);
    if (e == EEXIST && !(flags & RENAME_NOREPLACE)) {
        // rename(2) rules: a directory replaces only an (empty) directory,
        // a file only a non-directory; the server's remove refuses a
        // non-empty directory itself.
        u32 tfid;
        Qid tq;
        e = walk_qid(fs, dfid, newname, tfid, tq, req);
        if (!e) {
            bool src_dir = q.type & QTDIR, dst_dir = tq.type & QTDIR;
            if (src_dir != dst_dir) {
                fs.c.clunk_async(tfid);
                e = src_dir ? ENOTDIR : EISDIR;
            } else {
                Rremove rr;
                e = fs.c.call(Tremove{tfid}, rr, req);
                if (!fs.c.is_lost()) fs.c.free_fid(tfid);
                if (!e) e = wstat9(fs, fid, w, req);
            }
        } else if (e == ENOENT) {
            e = wstat9(fs, fid, w, req);  // the target went away meanwhile
        }
    }
    // The node keeps its fid: in 9P2000 a fid names the file, not the path.
    fs.c.clunk_async(fid);
    fuse_reply_err(req, e);
}

// 9P2000 has no readlink, and its stat has no field for a link's target
// (that is 9P2000.u's extension). A server that marks a file DMSYMLINK in
// plain 9P2000 can only carry the target as the file's contents: read it.
// Anything else is not a link (EINVAL, as readlink(2) says).
void op_readlink(fuse_req_t req, fuse_ino_t ino) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    Stat d;
    if (int e = fstat9(fs, nfid, d, req)) return (void)fuse_reply_err(req, e);
    if (!(d.mode & DMSYMLINK)) return (void)fuse_reply_err(req, EINVAL);
    uint64_t fh;
    if (int e = open9(fs, req, nfid, OREAD, fh)) return (void)fuse_reply_err(req, e);
    Rread r;
    int e = fs.c.call(Tread{fh_fid(fh), 0, std::min<u32>(PATH_MAX - 1, fs.c.iosize())}, r, req);
    release_open(fs, fh_fid(fh));
    if (e) return (void)fuse_reply_err(req, e);
    if (r.data.bytes.empty() || r.data.bytes.find('\0') != std::string::npos)
        return (void)fuse_reply_err(req, EIO);
    fuse_reply_readlink(req, r.data.bytes.c_str());
}

// symlink(2) and link(2) document EPERM for "this file system cannot make
// one"; 9P2000 has neither message.
void op_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }
void op_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) { fuse_reply_err(req, EPERM); }

// Regular files through Tcreate; fifos, sockets and devices have no
// portable 9P2000 form (DMNAMEDPIPE etc. are 9P2000.u, and a plain server
// would make a regular file of them): EPERM, as mknod(2) documents.
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
    if (!S_ISREG(mode)) return (void)fuse_reply_err(req, EPERM);
    Fs& fs = fs_of(req);
    NodeFid dfid;
    u32 fid;
    Qid q;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    if (int e = walk_qid(fs, dfid, nullptr, fid, q, req)) return (void)fuse_reply_err(req, e);
    Rcreate r;
    int e = fs.c.call(Tcreate{fid, name, u32(mode & 0777), OREAD}, r, req);
    fs.c.clunk_async(fid);
    if (e) return (void)fuse_reply_err(req, e);
    fuse_entry_param ent;
    if ((e = lookup9(fs, req, parent, name, ent))) return (void)fuse_reply_err(req, e);
    fuse_reply_entry(req, &ent);
}

// No locks in 9P2000 (Plan 9 has only DMEXCL files). Answering ENOSYS would
// make the kernel grant locks locally, which other machines would not see:
// a clear EOPNOTSUPP is safer.
void op_getlk(fuse_req_t req, fuse_ino_t, fuse_file_info*, struct flock*) {
    fuse_reply_err(req, EOPNOTSUPP);
}
void op_setlk(fuse_req_t req, fuse_ino_t, fuse_file_info*, struct flock*, int) {
    fuse_reply_err(req, EOPNOTSUPP);
}

}  // namespace duct::mnt::p2000
