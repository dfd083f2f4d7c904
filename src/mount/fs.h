// Fs: the state every FUSE operation of mount/ shares (the 9P client, the
// inode table, the open fids, the lock waiter) and the helpers the ops are
// built from: walk, getattr, "look up and make a FUSE entry", open-by-clone.
//
// Threads: FUSE workers (and the lock waiter's own thread, lock_wait.h);
// each helper may block in Client::rpc. The
// ops_*.cc files hold the FUSE operations, one area per file; ops_table.cc
// puts them in the fuse_lowlevel_ops table.
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mount/client.h"
#include "mount/idmap.h"
#include "mount/memo.h"
#include "mount/fuse_inc.h"
#include "mount/inodes.h"
#include "mount/lock_wait.h"

namespace duct::mnt {

struct Fs {
    explicit Fs(Client& client)
        : c(client), nodes([&client](uint32_t fid) { client.clunk_async(fid); }), locks(client) {}
    Client& c;
    InodeTable nodes;
    LockWaiter locks;  // blocking locks wait here; stopped by the destroy op
    double timeout = 1.0;   // entry and attribute timeouts, seconds
    // The change feed (feed.h): while feed_on, what the peer promises to
    // report is cached for cache_timeout (--cache-timeout; 0: no feed).
    double cache_timeout = 0;
    std::atomic<bool> feed_on{false};
    // Nodes whose last attributes the peer promised to report changes to
    // (no GETATTR_DUCT_UNWATCHED): a directory's entries may be cached
    // long, and its listing (cache_readdir); a file's pages are kept across
    // opens (keep_cache). Forgotten on "lost"; believed for cache_timeout.
    InodeMemo<bool> covered;
    // Guards long_entries: (parent, name) given long entry timeouts, both
    // positive and negative, to drop on "lost". Leaf lock, never held
    // across an rpc or a notify.
    std::mutex feed_mu;
    std::set<std::pair<uint64_t, std::string>> long_entries;
    uint32_t attach_uid = 0;  // n_uname of our one attach (a remote id)
    uint32_t attach_gid = 0;  // its group on the peer, as far as we know
    IdMap ids;                // --idmap; getattr() maps what it returns
    // The peer answered EOPNOTSUPP to Trenameat / Tunlinkat (diod does):
    // use Trename / Tremove from then on.
    std::atomic<bool> no_renameat{false}, no_unlinkat{false};
    // A duct older than Twalkattr answered it ENOSYS: lookups walk and
    // getattr in two round trips from then on.
    std::atomic<bool> no_walkattr{false};
    // ... and likewise Treaddirplus (plain Treaddir entries from then on)
    // and Tlcreateattr (Tlcreate + walk + Tgetattr).
    std::atomic<bool> no_readdirplus{false}, no_lcreateattr{false};

    // readahead.h: the mount's bdi ("0:N") and the window for it, set once
    // by the first open (after FUSE_INIT, which would shrink it again).
    std::string bdi;
    size_t readahead = 0;
    std::once_flag readahead_once;
    // bulk_io.h: how long large writes take per MiB (0: none yet), so a
    // slow link gets its writes in pieces.
    std::atomic<int64_t> write_ns_per_mib{0};

    // FUSE_CAP_DONT_MASK granted: creates apply the umask here (create_mode).
    bool dont_mask = false;
    // Directory -> has a default ACL (create_mode.cc); file -> has no
    // security.capability (ops_xattr_lock.cc). Believed for `timeout`.
    InodeMemo<bool> default_acl;
    InodeMemo<bool> no_capability;
    // File -> the p9::XNONE_* xattrs it has none of, as Rwalkattr said
    // (ops_xattr_lock.cc answers ENODATA for them). Believed for `timeout`;
    // forgotten when the mount sets or removes an xattr of that inode.
    InodeMemo<uint32_t> xnone;

    // Open file and directory fids (fi->fh), so teardown can clunk the ones
    // the kernel never released. open_mu guards open_fids; leaf lock.
    std::mutex open_mu;
    std::unordered_set<uint32_t> open_fids;
    void track(uint32_t fid) { std::lock_guard<std::mutex> g(open_mu); open_fids.insert(fid); }
    void untrack(uint32_t fid) { std::lock_guard<std::mutex> g(open_mu); open_fids.erase(fid); }
    std::vector<uint32_t> drain_open() {
        std::lock_guard<std::mutex> g(open_mu);
        std::vector<uint32_t> v(open_fids.begin(), open_fids.end());
        open_fids.clear();
        return v;
    }
};

Fs& fs_of(fuse_req_t req);
const fuse_lowlevel_ops& fuse_ops();  // ops_table.cc
const fuse_lowlevel_ops& fuse_ops_plain();  // the same for a 9P2000 peer (p2000.h)

// fi->fh holds the open fid and its iounit (0: none given).
inline uint64_t make_fh(uint32_t fid, uint32_t iounit) { return uint64_t(iounit) << 32 | fid; }
inline uint32_t fh_fid(uint64_t fh) { return uint32_t(fh); }
inline uint32_t fh_iounit(uint64_t fh) { return uint32_t(fh >> 32); }
// Bytes per Tread/Twrite on an open fid: msize - IOHDRSZ, or less if the
// server's iounit says so.
uint32_t io_chunk(Fs& fs, uint64_t fh);

void stat_from(const p9::Rgetattr& a, struct stat& st);
// A node's fid, pinned for as long as `fid` lives (inodes.h); converts to
// the fid number. ESTALE for an unknown node. A lazy node (inodes.h) is
// walked to here first (one Twalkattr): ESTALE if its name has another file.
using NodeFid = InodeTable::Ref;
int node_fid(Fs& fs, fuse_ino_t ino, NodeFid& fid, int depth = 0);
// Walks one name from dfid to a new fid (name == nullptr: clone dfid).
int walk(Fs& fs, uint32_t dfid, const char* name, uint32_t& newfid, fuse_req_t req);
// Tgetattr; uid and gid come back as local ids (fs.ids).
int getattr(Fs& fs, uint32_t fid, p9::Rgetattr& a, fuse_req_t req);
// The remote gid to send as the creator's group (Tlcreate, Tmkdir, ...).
uint32_t create_gid(Fs& fs, fuse_req_t req);
// Remote ids of a Tgetattr's answer -> local ones (fs.ids); getattr() does it.
void map_ids(Fs& fs, p9::Rgetattr& a);
// A node fid and its (already mapped) attributes -> inode table + FUSE entry.
void entry_from(Fs& fs, uint32_t fid, const p9::Rgetattr& a, fuse_entry_param& e);
// parent/name -> FUSE entry (walk + getattr + inode table).
int lookup_entry(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name,
                 fuse_entry_param& e);
// After a create: give the new file to the caller's uid/gid when they are
// not the attach uid (we attach once; see mount.cc). Best effort; true if
// it tried (the attributes may have changed).
bool set_owner(Fs& fs, fuse_req_t req, fuse_ino_t parent, const char* name);
// The mode to create with in `parent`: the caller's umask applied unless the
// directory has a default ACL (create_mode.cc).
uint32_t create_mode(Fs& fs, fuse_req_t req, fuse_ino_t parent, mode_t mode);
// The mount changed xattr `name` of `dir`: drop what create_mode remembers.
void forget_default_acl(Fs& fs, fuse_ino_t dir, const char* name);
// Clones the node's fid and Tlopens it with (host) flags; fh gets fid and
// iounit.
int open_clone(Fs& fs, fuse_req_t req, uint32_t nodefid, int flags, uint64_t& fh);
// Host open flags -> the 9P2000.L flags a Tlopen/Tlcreate carries, minus
// what the mount keeps to itself (O_DIRECT, O_CREAT ...).
uint32_t wire_oflags(int flags);
// O_DIRECT is honoured here: FUSE bypasses the page cache for that open.
void direct_io_of(fuse_file_info* fi);

// Cache timeouts with the feed (feed.cc), for an answer to a request sent
// at feed generation gen0 (Client::feed_gen): attributes; an entry (also
// sets e's attr_timeout); a negative entry (false: none, answer ENOENT);
// and whether an open of a file or directory may keep its cached pages.
double attr_time(Fs& fs, fuse_ino_t ino, const p9::Rgetattr& a, uint64_t gen0);
void entry_times(Fs& fs, fuse_ino_t parent, const char* name, const p9::Rgetattr& a, uint64_t gen0,
                 fuse_entry_param& e);
bool negative_entry(Fs& fs, fuse_ino_t parent, const char* name, uint64_t gen0, fuse_entry_param& e);
bool keep_pages(Fs& fs, fuse_ino_t ino);

// A Treaddir's entries as the reply to a readdir, or (plus) to a
// readdirplus without attributes (ops_dir.cc).
void reply_treaddir(Fs& fs, fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus);

// The FUSE ops, by area.
void op_lookup(fuse_req_t, fuse_ino_t, const char*);
void op_forget(fuse_req_t, fuse_ino_t, uint64_t);
void op_forget_multi(fuse_req_t, size_t, fuse_forget_data*);
void op_getattr(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_setattr(fuse_req_t, fuse_ino_t, struct stat*, int, fuse_file_info*);
void op_statfs(fuse_req_t, fuse_ino_t);
void op_open(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_create(fuse_req_t, fuse_ino_t, const char*, mode_t, fuse_file_info*);
void op_read(fuse_req_t, fuse_ino_t, size_t, off_t, fuse_file_info*);
void op_write(fuse_req_t, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*);
void op_flush(fuse_req_t, fuse_ino_t, fuse_file_info*);
// Releases fi->lock_owner's POSIX locks on the file (ops_xattr_lock.cc).
void drop_locks(fuse_req_t, fuse_file_info*);
void op_release(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_fsync(fuse_req_t, fuse_ino_t, int, fuse_file_info*);
void op_fallocate(fuse_req_t, fuse_ino_t, int, off_t, off_t, fuse_file_info*);
void op_opendir(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_readdir(fuse_req_t, fuse_ino_t, size_t, off_t, fuse_file_info*);
void op_readdirplus(fuse_req_t, fuse_ino_t, size_t, off_t, fuse_file_info*);
void op_releasedir(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_fsyncdir(fuse_req_t, fuse_ino_t, int, fuse_file_info*);
void op_mkdir(fuse_req_t, fuse_ino_t, const char*, mode_t);
void op_rmdir(fuse_req_t, fuse_ino_t, const char*);
void op_unlink(fuse_req_t, fuse_ino_t, const char*);
void op_rename(fuse_req_t, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned);
void op_readlink(fuse_req_t, fuse_ino_t);
void op_symlink(fuse_req_t, const char*, fuse_ino_t, const char*);
void op_link(fuse_req_t, fuse_ino_t, fuse_ino_t, const char*);
void op_mknod(fuse_req_t, fuse_ino_t, const char*, mode_t, dev_t);
void op_setxattr(fuse_req_t, fuse_ino_t, const char*, const char*, size_t, int);
void op_getxattr(fuse_req_t, fuse_ino_t, const char*, size_t);
void op_listxattr(fuse_req_t, fuse_ino_t, size_t);
void op_removexattr(fuse_req_t, fuse_ino_t, const char*);
void op_getlk(fuse_req_t, fuse_ino_t, fuse_file_info*, struct flock*);
void op_setlk(fuse_req_t, fuse_ino_t, fuse_file_info*, struct flock*, int);

}  // namespace duct::mnt
