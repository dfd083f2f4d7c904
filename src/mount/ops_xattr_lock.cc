// FUSE ops for extended attributes and POSIX locks.
// xattrs (Linux fs/9p/xattr.c does the same): get/list = Txattrwalk to a
// new fid, then Tread its value; set = clone + Txattrcreate + Twrite, and the
// Tclunk commits (its error is the result); remove = Txattrcreate of size 0
// with XATTR_REPLACE. Locks: Tgetlock / Tlock; a blocking F_SETLKW that
// finds the lock taken (LOCK_BLOCKED) is handed to the mount's lock waiter
// (lock_wait.h), which retries it without holding a FUSE worker. The
// lock owner is FUSE's lock_owner (one per process's file table), folded into
// proc_id: the kernel's pid field is 0 in unlocks, so it cannot name the
// owner; the export keys locks by (client_id, proc_id). POSIX drops a
// process's locks when it closes ANY descriptor of the file: FUSE tells us
// by flush(lock_owner), and drop_locks sends that owner's whole-file unlock.
// flock: with a duct that negotiated the extension, Tlock with
// LOCK_FLAGS_FLOCK on the open fid (the exporting side takes a real flock(2)
// on that fid's own open file, so processes there see it); with any other
// peer op_init turns FUSE's flock off and the kernel keeps flock locally.
// Runs on FUSE workers; each op blocks in rpc, never in a lock wait.
#include <sys/file.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>
#include <atomic>

#include "mount/ext_ops.h"
#include "mount/fs.h"

namespace duct::mnt {

using namespace duct::p9;

// Reads the whole value behind an xattr fid of `len` bytes.
static int read_all(Fs& fs, fuse_req_t req, uint32_t fid, uint64_t len, std::string& out) {
    out.clear();
    while (out.size() < len) {
        uint32_t want = uint32_t(std::min<uint64_t>(fs.c.iosize(), len - out.size()));
        Rread r;
        if (int e = fs.c.call(Tread{fid, out.size(), want}, r, req)) return e;
        if (r.data.bytes.empty()) break;
        out += r.data.bytes;
    }
    return 0;
}

// The kernel asks for security.capability before EVERY write (to drop file
// capabilities, as for setuid bits): remembering "this file has none" for
// the attribute timeout saves a round trip per write. Forgotten when the
// mount sets or removes that xattr; one set directly on the exporting side
// is seen within the timeout, like any attribute.
static constexpr char kCapability[] = "security.capability";

static void forget_capability(Fs& fs, fuse_ino_t ino, const char* name) {
    if (std::strcmp(name, kCapability) == 0) fs.no_capability.forget(ino);
    fs.xnone.forget(ino);  // whatever the name: the bits were one listing
}

// A lookup's Rwalkattr said the file has no such xattr (fs.xnone): the
// answer is ENODATA without a Txattrwalk. With FUSE_CAP_POSIX_ACL the
// kernel asks system.posix_acl_access of every file it stats for `ls -l`,
// and security.selinux for labels: two round trips a file otherwise.
static bool known_absent(Fs& fs, fuse_ino_t ino, const char* name) {
    uint32_t bit = std::strcmp(name, "security.selinux") == 0          ? XNONE_SELINUX
                   : std::strcmp(name, "system.posix_acl_access") == 0  ? XNONE_ACL_ACCESS
                   : std::strcmp(name, "system.posix_acl_default") == 0 ? XNONE_ACL_DEFAULT
                   : std::strcmp(name, kCapability) == 0                ? XNONE_CAPABILITY
                                                                        : 0;
    uint32_t none;
    return bit && fs.xnone.get(ino, none) && (none & bit);
}

static void get_or_list(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    Fs& fs = fs_of(req);
    bool cap = std::strcmp(name, kCapability) == 0;
    bool none;
    if (cap && fs.no_capability.get(ino, none)) return (void)fuse_reply_err(req, ENODATA);
    if (*name && known_absent(fs, ino, name)) return (void)fuse_reply_err(req, ENODATA);
    NodeFid fid;
    if (int e = node_fid(fs, ino, fid)) return (void)fuse_reply_err(req, e);
    uint32_t xfid = fs.c.alloc_fid();
    Rxattrwalk w;
    if (int e = fs.c.call(Txattrwalk{fid, xfid, name}, w, req)) {
        fs.c.free_fid(xfid);
        if (cap && e == ENODATA) fs.no_capability.put(ino, true, fs.timeout);
        // The kernel asks for ACLs to check permissions (FUSE_CAP_POSIX_ACL)
        // and takes any error but "none" as the check's result: an export
        // on a file system without ACLs simply has none.
        if (e == EOPNOTSUPP && std::strncmp(name, "system.posix_acl_", 17) == 0) e = ENODATA;
        return (void)fuse_reply_err(req, e);
    }
    if (size == 0) {
        fs.c.clunk_async(xfid);
        return (void)fuse_reply_xattr(req, size_t(w.size));
    }
    if (w.size > size) {
        fs.c.clunk_async(xfid);
        return (void)fuse_reply_err(req, ERANGE);
    }
    std::string v;
    int e = read_all(fs, req, xfid, w.size, v);
    fs.c.clunk_async(xfid);
    if (e) return (void)fuse_reply_err(req, e);
    fuse_reply_buf(req, v.data(), v.size());
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
    get_or_list(req, ino, name, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
    get_or_list(req, ino, "", size);  // xattrwalk of "" lists the names
}

static int set_xattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                     size_t size, int flags) {
    Fs& fs = fs_of(req);
    NodeFid nfid;
    uint32_t fid;
    if (int e = node_fid(fs, ino, nfid)) return e;
    if (int e = walk(fs, nfid, nullptr, fid, req)) return e;
    Rxattrcreate rc;
    if (int e = fs.c.call(Txattrcreate{fid, name, size, uint32_t(flags)}, rc, req)) {
        fs.c.clunk_async(fid);
        return e;
    }
    size_t done = 0;
    while (done < size) {
        uint32_t n = uint32_t(std::min<size_t>(fs.c.iosize(), size - done));
        Rwrite w;
        int e = fs.c.call(Twrite{fid, done, Data{std::string(value + done, n)}}, w, req);
        if (!e && w.count == 0) e = EIO;
        if (e) {
            fs.c.clunk_async(fid);
            return e;
        }
        done += w.count;
    }
    return fs.c.clunk(fid);  // the server sets the attribute on clunk
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value,
                 size_t size, int flags) {
    forget_default_acl(fs_of(req), ino, name);
    forget_capability(fs_of(req), ino, name);
    fuse_reply_err(req, set_xattr(req, ino, name, value, size, flags));
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
    forget_default_acl(fs_of(req), ino, name);
    forget_capability(fs_of(req), ino, name);
    fuse_reply_err(req, set_xattr(req, ino, name, nullptr, 0, XATTR_REPLACE));
}

static const char kClientId[] = "duct";

// Set once any lock was taken through this process's mounts: until then a
// close costs no extra round trip.
static std::atomic<bool> g_locks_used{false};

static uint32_t owner_id(uint64_t lock_owner) {
    uint32_t id = uint32_t(lock_owner ^ (lock_owner >> 32));
    return id ? id : 1;
}

void drop_locks(fuse_req_t req, fuse_file_info* fi) {
    if (!g_locks_used.load(std::memory_order_relaxed)) return;
    Fs& fs = fs_of(req);
    Tlock t{fh_fid(fi->fh), LOCK_TYPE_UNLCK, 0, 0, 0, owner_id(fi->lock_owner), kClientId};
    Rlock r;
    fs.c.call(t, r, req);  // best effort: close(2) must not fail for it
}

void op_getlk(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, struct flock* lk) {
    Fs& fs = fs_of(req);
    Tgetlock t{fh_fid(fi->fh), uint8_t(lk->l_type), uint64_t(lk->l_start),
               uint64_t(lk->l_len), owner_id(fi->lock_owner), kClientId};
    Rgetlock r;
    if (int e = fs.c.call(t, r, req)) return (void)fuse_reply_err(req, e);
    struct flock out = *lk;
    out.l_type = short(r.type);
    out.l_start = off_t(r.start);
    out.l_len = off_t(r.length);
    // The holder's proc_id names an owner on the exporting side or our
    // folded lock owner: no pid of this machine. 0 says "unknown" (as NFS).
    out.l_pid = 0;
    fuse_reply_lock(req, &out);
}

// Sends t once and answers req, or, for a blocking lock that is taken,
// hands req to the lock waiter. The server never blocks a worker
// (LOCK_BLOCKED instead), so a blocking lock is polled; lock_wait.h says
// why not here.
static void lock_or_wait(Fs& fs, fuse_req_t req, const Tlock& t, bool sleep) {
    Rlock r;
    if (int e = fs.c.call(t, r, req)) return (void)fuse_reply_err(req, e);
    if (r.status == LOCK_SUCCESS) return (void)fuse_reply_err(req, 0);
    if (r.status == LOCK_ERROR) return (void)fuse_reply_err(req, ENOLCK);
    // BLOCKED (or GRACE): a non-blocking lock fails, a blocking one waits.
    if (!sleep) return (void)fuse_reply_err(req, EAGAIN);  // == EWOULDBLOCK, what flock(2) says
    fs.locks.wait(req, t);
}

void op_setlk(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, struct flock* lk, int sleep) {
    Fs& fs = fs_of(req);
    Tlock t{fh_fid(fi->fh), uint8_t(lk->l_type), sleep ? LOCK_FLAGS_BLOCK : 0u,
            uint64_t(lk->l_start), uint64_t(lk->l_len), owner_id(fi->lock_owner), kClientId};
    if (lk->l_type != F_UNLCK) g_locks_used.store(true, std::memory_order_relaxed);
    lock_or_wait(fs, req, t, sleep);
}

// libfuse turns the kernel's FUSE_SETLK(W) with FUSE_LK_FLOCK into op =
// LOCK_SH/LOCK_EX/LOCK_UN, plus LOCK_NB unless the caller may wait. The
// lock belongs to the open file (fi->fh, one fid per open), which is what
// the exporting side locks; release clunks the fid, which drops it there.
void op_flock(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, int op) {
    Fs& fs = fs_of(req);
    // op_init turned FUSE's flock off for other peers; should the kernel
    // still ask, nothing on the wire can carry it.
    if (!fs.c.duct_ext()) return (void)fuse_reply_err(req, ENOSYS);
    uint8_t type;
    switch (op & (LOCK_SH | LOCK_EX | LOCK_UN)) {
    case LOCK_SH: type = LOCK_TYPE_RDLCK; break;
    case LOCK_EX: type = LOCK_TYPE_WRLCK; break;
    case LOCK_UN: type = LOCK_TYPE_UNLCK; break;
    default: return (void)fuse_reply_err(req, EINVAL);
    }
    bool sleep = !(op & LOCK_NB);
    Tlock t{fh_fid(fi->fh), type, LOCK_FLAGS_FLOCK | (sleep ? LOCK_FLAGS_BLOCK : 0u), 0, 0, 0, kClientId};
    lock_or_wait(fs, req, t, sleep);
}

}  // namespace duct::mnt
