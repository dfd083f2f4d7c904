// Internal to export/: the session state every handler sees, the Reply
// value every handler returns, the helpers for confinement, and the list of
// handlers (one per 9P request; dispatch.cc puts them in arrays by type).
//
// Every handler has one shape (style.md rule 5):
//     Reply h_x(Ctx& c, const p9::Tx& m) {
//         auto f = c.fid(m.fid); if (!f) return fail(EBADF);   // look up
//         ...check state..., validate the name                   // check
//         one syscall                                            // act
//         return p9::Rx{...};                                    // reply once
//     }
// The worker that called it turns the Reply into Rlerror/Rerror or the
// R-message and sends it; a handler never sends by itself.
//
// Threads: handlers run on worker threads, many at once, on the same or on
// different fids. Session members are either immutable after create(),
// atomic, or guarded (FidTable).
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <memory>
#include <string>

#include "base/fd.h"
#include "export/confine.h"
#include "export/feed.h"
#include "export/fid.h"
#include "export/handle.h"
#include "export/ident.h"
#include "export/limits.h"
#include "export/server.h"
#include "proto/messages.h"

namespace duct::exp {

// What a handler answers: a message, or an error (errno; ename overrides the
// 9P2000 string where Plan 9 programs expect a particular one).
struct Reply {
    p9::Message msg;
    int err = 0;
    std::string ename;
    template <class M>
    Reply(M m) : msg(std::move(m)) {}
    Reply(int e, std::string s) : err(e), ename(std::move(s)) {}
};
inline Reply fail(int err) { return Reply(err ? err : EIO, {}); }
inline Reply fail(int err, std::string ename) { return Reply(err, std::move(ename)); }
inline Reply fail_errno() { return fail(errno); }

// POSIX record locks belong to a process, not to an open file: a process that
// opens a file twice may take the same range through both descriptors, and
// SQLite relies on that. 9P names the owner in Tlock/Tgetlock as
// (client_id, proc_id) (v9fs: node name + tgid; our mount: "duct" + an id of
// FUSE's lock owner), so each (file, client_id, proc_id) gets ONE open file
// description of its own here, and every lock of that owner is an OFD lock on
// it. It is closed (dropping its locks) when the owner unlocks the whole
// file, or when the last fid that locked through it is clunked or replaced
// (a walk, create or xattrwalk onto the same fid number). Fids are named by
// Fid::serial, never by address: a new Fid may reuse a freed one's.
struct LockOwners {
    struct Key {
        dev_t dev;
        ino_t ino;
        std::string client;
        uint32_t proc;
        bool operator<(const Key& o) const {
            return std::tie(dev, ino, proc, client) < std::tie(o.dev, o.ino, o.proc, o.client);
        }
    };
    struct Owner {
        std::shared_ptr<Fd> fd;
        std::set<uint64_t> fids;  // Fid::serial of the Fids that locked through it (never reused)
    };
    std::mutex mu;  // guards map; taken after Fid::mu, never the other way
    std::map<Key, Owner> map;
};

struct Session {
    ServerOptions opts;
    Fd root;                  // O_PATH|O_DIRECTORY of the export root
    dev_t root_dev = 0;
    ino_t root_ino = 0;
    Handles handles;          // how fids hold their files (handle.h)
    QidMap qids;              // (st_dev, st_ino) -> qid.path (ident.h)
    FidTable fids{kMaxFids};
    Feed feed{qids, handles};  // the change feed, once the peer asked (feed.h)
    LockOwners locks;
    std::shared_ptr<ByteBudget> xattr_budget = std::make_shared<ByteBudget>(kXattrSessionBudget);
    std::atomic<bool> loop_logged{false};  // own_mount() said so once
    std::atomic<p9::Dialect> dialect{p9::Dialect::L};
    std::atomic<uint32_t> msize{0};
    std::atomic<uint64_t> n_requests{0}, n_errors{0}, n_read{0}, n_written{0};

    // Largest data payload of one Rread/Twrite/Rreaddir.
    uint32_t iounit() const {
        uint32_t m = msize.load();
        return m > p9::IOHDRSZ ? m - p9::IOHDRSZ : 0;
    }
    bool plain() const { return dialect.load() == p9::Dialect::P2000; }
    // The peer is a duct that negotiated the extension (table.h).
    bool duct() const { return dialect.load() == p9::Dialect::Duct; }
};

// One request's view: the session plus the per-request credential switch.
struct Ctx {
    Session& s;
    // The fid table's generation this request belongs to (FidTable::
    // generation, read with the epoch check in server.cc): a request of a
    // session a Tversion ended cannot add its fids to the next one.
    uint64_t gen = s.fids.generation();
    // Looks up a fid and makes this thread act as its attaching user.
    std::shared_ptr<Fid> fid(uint32_t id);
    // For creates: act as the fid's user with the given gid (the request's
    // gid, as the kernel client chose it for the new file).
    void as_group(const Fid& f, uint32_t gid);
};

// Makes this thread act as u (creds.h); the server itself if u is unknown.
void act_as(const User& u);

// ---- confinement and file helpers (util.cc) ----
// "" and names with '/' are EINVAL; "." and ".." are EINVAL where a new name
// is being made (allow_dots false); longer than 255 bytes is ENAMETOOLONG.
int check_name(const std::string& name, bool allow_dots = false);
// The qid of a file: its path is unique within the export (QidMap), even
// across the file systems mounted below the root.
p9::Qid qid_of(Session& s, const struct stat& st);
int stat_fd(int fd, struct stat& st);  // fstatat(fd, "", AT_EMPTY_PATH|NOFOLLOW)
std::string proc_path(int fd);         // "/proc/self/fd/N"
std::string join(const std::string& dir, const std::string& name);
std::string dirname_of(const std::string& path);   // "" for top-level names
std::string basename_of(const std::string& path);
// Opens the directory `rel` below the root one component at a time with
// O_NOFOLLOW, so a symlink swapped into the path cannot lead outside.
Fd open_dir_below(const Session& s, const std::string& rel, int& err);
// Makes a Fid for `name` in directory fd `dir` (O_PATH|O_NOFOLLOW, never follows).
std::shared_ptr<Fid> fid_at(Session& s, int dir, const std::string& name, const User& u,
                            struct stat& st, int& err);
// The fid for a file just created in directory `dir` and opened as `fd`
// (io.cc): its handle comes from the open fd itself, not from the name,
// which another client could have replaced by now. Fills st; nullptr + err
// on failure.
std::shared_ptr<Fid> fid_of_created(Session& s, Fd fd, int dir, int oflags, const User& u,
                                    struct stat& st, int& err);
// Opens the file a fid names (io.cc): via /proc/self/fd/N of its O_PATH
// descriptor; ELOOP for a symlink, EPERM for device nodes, FIFOs and
// sockets non-blocking.
Fd reopen_fid(const Fid& f, int flags, int& err);
// Open flags from 9P2000.L's portable values (which follow x86 Linux).
int oflags_from_l(uint32_t lflags);
// If this worker could not get a private umask, re-apply the mode the
// client asked for after a create (the process umask may have masked it).
void fix_mode(int fd_or_dir, const char* name, mode_t mode);
// Drops f from the lock owners it locked through (lock.cc); an owner no fid
// uses any more is closed, which releases its locks.
void release_locks(Session& s, const Fid& f);
// Runs the side effects of a clunk (commit a Txattrcreate, ORCLOSE).
int finish_fid(Session& s, Fid& f, const std::string& path);
// Removes the fid's file at `path` below the root (dir or not), if that
// name is still the fid's file (ESTALE otherwise); for Tremove/ORCLOSE.
int remove_path(Session& s, const std::string& path, const Fid& f);
// rmdir of `name` in `dir`, whose path below the root is `path`: the fids
// still naming the directory keep reaching it (FileHandle::pin).
int remove_dir(Session& s, int dir, const std::string& name, const std::string& path);

// ---- handlers ----
#define DUCT_HANDLER(T) Reply h_##T(Ctx& c, const p9::T& m);
// attach/walk/clunk (walk.cc)
DUCT_HANDLER(Tauth) DUCT_HANDLER(Tattach) DUCT_HANDLER(Twalk) DUCT_HANDLER(Tclunk)
DUCT_HANDLER(Tremove)
// file I/O (io.cc)
DUCT_HANDLER(Tlopen) DUCT_HANDLER(Tlcreate) DUCT_HANDLER(Tread) DUCT_HANDLER(Twrite)
DUCT_HANDLER(Tfsync)
// directories (dir.cc)
DUCT_HANDLER(Treaddir)
// metadata (meta.cc)
DUCT_HANDLER(Tgetattr) DUCT_HANDLER(Tsetattr) DUCT_HANDLER(Tstatfs) DUCT_HANDLER(Treadlink)
// namespace changes (names.cc)
DUCT_HANDLER(Tmkdir) DUCT_HANDLER(Tsymlink) DUCT_HANDLER(Tmknod) DUCT_HANDLER(Tlink)
DUCT_HANDLER(Trename) DUCT_HANDLER(Trenameat) DUCT_HANDLER(Tunlinkat)
// xattrs (xattr.cc)
DUCT_HANDLER(Txattrwalk) DUCT_HANDLER(Txattrcreate)
// locks (lock.cc)
DUCT_HANDLER(Tlock) DUCT_HANDLER(Tgetlock)
// plain 9P2000 (plain.cc)
DUCT_HANDLER(Topen) DUCT_HANDLER(Tcreate) DUCT_HANDLER(Tstat) DUCT_HANDLER(Twstat)
// the duct extension, only in a session that negotiated it (ext.cc)
DUCT_HANDLER(Tfallocate) DUCT_HANDLER(Tlseek) DUCT_HANDLER(Trenameat2)
DUCT_HANDLER(Twalkattr) DUCT_HANDLER(Treaddirplus) DUCT_HANDLER(Tlcreateattr)
#undef DUCT_HANDLER

// walk(5) from fid to newfid (walk.cc; h_Twalk is this with end null).
// With end: a complete walk also fills *end with the final file's stat and
// the xattrs it provably lacks (p9::XNONE_*), for Twalkattr.
struct WalkEnd {
    struct stat st {};
    uint32_t xnone = 0;
};
Reply walk_fid(Ctx& c, uint32_t fid, uint32_t newfid, const p9::WNames& wname, WalkEnd* end);
// The xattrs of the file at O_PATH (or open) descriptor fd that it provably
// lacks (p9::XNONE_*; 0 = unknown), from one listxattr (walk.cc).
uint32_t xattrs_absent(int fd, mode_t type);
// A file's stat as Tgetattr answers it (meta.cc).
p9::Rgetattr getattr_of(Session& s, const struct stat& st);

// Reads of a directory in 9P2000 (packed stat records; dir.cc) and reads of
// an xattr fid (xattr.cc), called from h_Tread with f.mu held.
Reply read_dir_plain(Ctx& c, Fid& f, uint64_t offset, uint32_t count);
Reply read_xattr(Fid& f, uint64_t offset, uint32_t count);
Reply write_xattr(Fid& f, uint64_t offset, const std::string& data);
int commit_xattr(Session& s, Fid& f, const std::string& path);
// The 9P2000 stat record for a file (plain.cc).
p9::Stat stat_plain(Session& s, const struct stat& st, const std::string& name);

}  // namespace duct::exp
