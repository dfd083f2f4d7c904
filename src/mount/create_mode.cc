// The mode a new file, directory or node is created with. The mount asks
// the kernel not to apply the umask itself (FUSE_CAP_DONT_MASK) because
// POSIX says the umask is ignored in a directory with a default ACL, and
// only the export knows which directories have one: the export's kernel
// then applies that ACL (masked by the mode we send). So before a create
// with a non-zero umask we ask whether the parent has system.posix_acl_default
// (one Txattrwalk, remembered per directory for the attribute timeout, and
// forgotten when the mount itself sets or removes that xattr).
// Runs on FUSE workers.
#include <cerrno>
#include <cstring>

#include "mount/fs.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {

constexpr char kDefaultAcl[] = "system.posix_acl_default";

// True if the directory has a default ACL; false if not or if it cannot tell.
bool has_default_acl(Fs& fs, fuse_req_t req, fuse_ino_t dir) {
    bool has;
    if (fs.default_acl.get(dir, has)) return has;
    uint32_t none;  // the lookup's Rwalkattr may have said so already
    if (fs.xnone.get(dir, none) && (none & p9::XNONE_ACL_DEFAULT)) return false;
    NodeFid dfid;
    if (node_fid(fs, dir, dfid)) return false;
    uint32_t xfid = fs.c.alloc_fid();
    p9::Rxattrwalk w;
    int e = fs.c.call(Txattrwalk{dfid, xfid, kDefaultAcl}, w, req);
    if (e) fs.c.free_fid(xfid);
    else fs.c.clunk_async(xfid);
    has = !e && w.size > 0;
    fs.default_acl.put(dir, has, fs.timeout);
    return has;
}

}  // namespace

uint32_t create_mode(Fs& fs, fuse_req_t req, fuse_ino_t parent, mode_t mode) {
    if (!fs.dont_mask) return uint32_t(mode);  // the kernel applied the umask
    mode_t umask = fuse_req_ctx(req)->umask;
    if ((mode & umask & 07777) == 0) return uint32_t(mode);  // nothing to mask
    if (has_default_acl(fs, req, parent)) return uint32_t(mode);
    return uint32_t(mode & ~umask);
}

void forget_default_acl(Fs& fs, fuse_ino_t dir, const char* xattr_name) {
    if (std::strcmp(xattr_name, kDefaultAcl) == 0) fs.default_acl.forget(dir);
    fs.xnone.forget(dir);
}

}  // namespace duct::mnt
