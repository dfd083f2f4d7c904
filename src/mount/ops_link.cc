// FUSE ops for links and special files: readlink (Treadlink), symlink
// (Tsymlink), link (Tlink), mknod (Tmknod: fifos, sockets, devices).
// Runs on FUSE workers; each op blocks in rpc.
#include <sys/sysmacros.h>

#include <cerrno>

#include "mount/fs.h"

namespace duct::mnt {

using namespace duct::p9;

static void reply_new_entry(fuse_req_t req, fuse_ino_t parent, const char* name) {
    fuse_entry_param e;
    if (int err = lookup_entry(fs_of(req), req, parent, name, e))
        return (void)fuse_reply_err(req, err);
    fuse_reply_entry(req, &e);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
    Fs& fs = fs_of(req);
    NodeFid fid;
    if (int e = node_fid(fs, ino, fid)) return (void)fuse_reply_err(req, e);
    Rreadlink r;
    if (int e = fs.c.call(Treadlink{fid}, r, req)) return (void)fuse_reply_err(req, e);
    fuse_reply_readlink(req, r.target.c_str());
}

void op_symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    Rsymlink r;
    if (int e = fs.c.call(Tsymlink{dfid, name, target, create_gid(fs, req)}, r, req))
        return (void)fuse_reply_err(req, e);
    set_owner(fs, req, parent, name);
    reply_new_entry(req, parent, name);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
    Fs& fs = fs_of(req);
    NodeFid fid, dfid;
    if (int e = node_fid(fs, ino, fid)) return (void)fuse_reply_err(req, e);
    if (int e = node_fid(fs, newparent, dfid)) return (void)fuse_reply_err(req, e);
    Rlink r;
    if (int e = fs.c.call(Tlink{dfid, fid, newname}, r, req)) return (void)fuse_reply_err(req, e);
    reply_new_entry(req, newparent, newname);
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    Rmknod r;
    Tmknod t{dfid, name, create_mode(fs, req, parent, mode), major(rdev), minor(rdev), create_gid(fs, req)};
    if (int e = fs.c.call(t, r, req)) return (void)fuse_reply_err(req, e);
    set_owner(fs, req, parent, name);
    reply_new_entry(req, parent, name);
}

}  // namespace duct::mnt
