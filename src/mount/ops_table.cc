// The FUSE low-level ops table: one line per operation, each mapped to its
// 9P2000.L counterpart in ops_*.cc. init sizes FUSE's I/O to the msize.
//
// Not implemented (libfuse answers ENOSYS at once, or the kernel does the
// work itself): access (default_permissions: the kernel checks),
// copy_file_range, ioctl, poll, bmap, retrieve_reply, write_buf (write is
// used), tmpfile.
// The duct extension (proto/table.h): readdirplus, fallocate, lseek (SEEK_DATA/HOLE),
// flock and rename with flags reach the peer only when it is a duct that
// negotiated it. Otherwise fallocate answers EOPNOTSUPP, lseek ENOSYS (the
// kernel then uses its generic lseek), rename with flags EINVAL and flock is
// switched off in init, so the kernel keeps flock locally, per mount. One
// table serves both cases: the choice is per session, made in init (flock)
// and in each op.
//
// The plain-9P2000 table (fuse_ops_plain, ops in p2000.cc) is this one with
// the ops that differ replaced. What 9P2000 cannot express there:
//  - symlink, link: EPERM (no such messages); readlink reads the contents
//    of a DMSYMLINK file, else EINVAL; mknod: regular files only, else EPERM;
//  - rename across directories: EXDEV (mv copies); a rename over an
//    existing name is remove + rename, not atomic; RENAME_EXCHANGE: EINVAL;
//  - xattrs: left out, so the kernel answers EOPNOTSUPP itself after one
//    ENOSYS (no round trip per write for security.capability);
//  - POSIX locks (getlk/setlk): EOPNOTSUPP; flock stays kernel-local;
//  - statfs: fixed plausible numbers (no Tstatfs); times are whole seconds;
//    O_APPEND writes at the size Tstat reports (best effort); chown sends
//    names, which many servers refuse; files made for another local user
//    keep the attach user as owner (no set_owner: 9P2000 cannot chown
//    portably); an open directory's listing is held whole in memory.
#include "mount/ext_ops.h"
#include "mount/fs.h"
#include "mount/p2000.h"

namespace duct::mnt {

static void op_init(void* userdata, fuse_conn_info* conn) {
    Fs& fs = *static_cast<Fs*>(userdata);
    // libfuse reads /dev/fuse into 1 MiB + 4 KiB buffers, and the kernel
    // refuses (EINVAL) a read buffer smaller than max_write + 80 bytes of
    // headers: so FUSE I/O is at most 1 MiB even when the msize is larger.
    uint32_t io = std::min<uint32_t>(fs.c.iosize(), 1u << 20);
    conn->max_write = io;
    conn->max_read = io;
    conn->max_readahead = std::min<uint32_t>(conn->max_readahead, io);
    if (conn->capable & FUSE_CAP_ASYNC_READ) conn->want |= FUSE_CAP_ASYNC_READ;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    // POSIX ACLs on the export grant and deny as they do locally: the kernel
    // reads system.posix_acl_* through getxattr and checks them (mode bits
    // alone would deny what an ACL allows). 9P2000 has no xattrs.
    if (fs.c.dialect() != p9::Dialect::P2000 && (conn->capable & FUSE_CAP_POSIX_ACL))
        conn->want |= FUSE_CAP_POSIX_ACL;
    // ...and the umask is applied in create_mode, which knows whether the
    // parent has a default ACL (then POSIX ignores the umask).
    if (fs.c.dialect() != p9::Dialect::P2000 && (conn->capable & FUSE_CAP_DONT_MASK)) {
        conn->want |= FUSE_CAP_DONT_MASK;
        fs.dont_mask = true;
    }
    // Nothing acknowledged may be lost on unmount: no write-back cache.
    conn->want &= ~unsigned(FUSE_CAP_WRITEBACK_CACHE);
    conn->want &= ~unsigned(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    // readdirplus only with a duct (Treaddirplus; any other peer would cost
    // a walk and a getattr per entry), and on every read of a directory,
    // not READDIRPLUS_AUTO: with it the kernel lists all but the first
    // buffer plainly (ls reads the whole directory before its stats), so a
    // big directory's `ls -l` would be one lookup per name again.
    conn->want &= ~unsigned(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
    if (fs.c.duct_ext() && (conn->capable & FUSE_CAP_READDIRPLUS)) conn->want |= FUSE_CAP_READDIRPLUS;
    // libfuse asks for remote flock because the table has a flock op; only
    // a duct peer can carry it (op_flock). Without it the kernel emulates
    // flock on its own, as before the op existed.
    if (!fs.c.duct_ext()) conn->want &= ~unsigned(FUSE_CAP_FLOCK_LOCKS);
}

// fuse_session_destroy calls it (or the kernel's FUSE_DESTROY), while
// replies can still be sent: lock waiters get EIO now, not a dead session.
static void op_destroy(void* userdata) { static_cast<Fs*>(userdata)->locks.stop(); }

static fuse_lowlevel_ops make_ops() {
    fuse_lowlevel_ops o = {};
    o.init = op_init;
    o.destroy = op_destroy;
    o.lookup = op_lookup;
    o.forget = op_forget;
    o.forget_multi = op_forget_multi;
    o.getattr = op_getattr;
    o.setattr = op_setattr;
    o.statfs = op_statfs;
    o.readlink = op_readlink;
    o.mknod = op_mknod;
    o.mkdir = op_mkdir;
    o.unlink = op_unlink;
    o.rmdir = op_rmdir;
    o.symlink = op_symlink;
    o.rename = op_rename;
    o.link = op_link;
    o.open = op_open;
    o.create = op_create;
    o.read = op_read;
    o.write = op_write;
    o.flush = op_flush;
    o.release = op_release;
    o.fsync = op_fsync;
    o.fallocate = op_fallocate;
    o.opendir = op_opendir;
    o.readdir = op_readdir;
    o.readdirplus = op_readdirplus;
    o.releasedir = op_releasedir;
    o.fsyncdir = op_fsyncdir;
    o.setxattr = op_setxattr;
    o.getxattr = op_getxattr;
    o.listxattr = op_listxattr;
    o.removexattr = op_removexattr;
    o.getlk = op_getlk;
    o.setlk = op_setlk;
    o.flock = op_flock;
    o.lseek = op_lseek;
    return o;
}

const fuse_lowlevel_ops& fuse_ops() {
    static const fuse_lowlevel_ops ops = make_ops();
    return ops;
}

static fuse_lowlevel_ops make_plain_ops() {
    fuse_lowlevel_ops o = make_ops();
    o.lookup = p2000::op_lookup;
    o.getattr = p2000::op_getattr;
    o.setattr = p2000::op_setattr;
    o.statfs = p2000::op_statfs;
    o.readlink = p2000::op_readlink;
    o.mknod = p2000::op_mknod;
    o.mkdir = p2000::op_mkdir;
    o.unlink = p2000::op_unlink;
    o.rmdir = p2000::op_rmdir;
    o.symlink = p2000::op_symlink;
    o.rename = p2000::op_rename;
    o.link = p2000::op_link;
    o.open = p2000::op_open;
    o.create = p2000::op_create;
    o.write = p2000::op_write;  // read, release, forget: shared
    o.flush = p2000::op_flush;
    o.fsync = p2000::op_fsync;
    o.opendir = p2000::op_opendir;
    o.readdir = p2000::op_readdir;
    o.readdirplus = nullptr;
    o.releasedir = p2000::op_releasedir;
    o.fsyncdir = p2000::op_fsyncdir;
    o.setxattr = nullptr;
    o.getxattr = nullptr;
    o.listxattr = nullptr;
    o.removexattr = nullptr;
    o.getlk = p2000::op_getlk;
    o.setlk = p2000::op_setlk;
    o.flock = nullptr;  // no extension over 9P2000: kernel-local flock
    o.lseek = nullptr;
    return o;
}

const fuse_lowlevel_ops& fuse_ops_plain() {
    static const fuse_lowlevel_ops ops = make_plain_ops();
    return ops;
}

}  // namespace duct::mnt
