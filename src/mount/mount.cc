// FuseMount: the Mount of mount.h — handshake (Tversion, Tattach), the FUSE
// session and its lifecycle.
//
// Threads: start() runs on the caller's thread (blocks in Tversion/Tattach
// and mount(2)); the FUSE loop runs on loop_, which starts libfuse's worker
// threads (they block in rpc). wait() joins loop_ and then releases every
// fid: all Tclunks sent at once, one bounded wait for their answers, the
// root's last (unless the channel is lost). unmount() and channel_lost()
// may be called from any thread; they end the loop by unmounting: the
// kernel then ends the FUSE connection and the workers' reads fail with
// ENODEV. When a detached mount is still held open, the connection is
// aborted through fusectl (/sys/fs/fuse/connections/N/abort) so the loop
// ends anyway. unmount() first flushes dirty pages (syncfs, bounded: it
// needs the loop still running, so it runs before anything is detached).
//
// Only our own mount is ever unmounted: umount2 takes a path and removes
// whatever is on top of it, so before each umount2 we check in mountinfo
// that the top mount at mp_ is still ours (our device, dev_). One stacked
// on top by someone else is left alone; ours below it is then aborted (its
// processes get ENOTCONN) and stays for its owner to unmount. libfuse's
// fuse_session_unmount is not used: it unmounts the path unchecked.
//
// Ownership: we attach once, as our own uid (n_uname = getuid(), or its
// remote id under --idmap, idmap.h); the kernel checks permissions
// (default_permissions), and files created for another caller are chowned
// to the caller's uid/gid right after creation (fs.cc set_owner).
// Per-uid attaches (v9fs access=user) are not done.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/log.h"
#include "mount/feed.h"
#include "mount/fs.h"
#include "mount/mount.h"
#include "mount/mountpoint.h"
#include "mount/readahead.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {

std::string errtext(int e) { return std::strerror(e); }

// A file of the connection's fusectl directory (mounted if need be).
std::string conn_file(const std::string& conn, const char* name) {
    const char* dir = "/sys/fs/fuse/connections";
    std::string path = std::string(dir) + "/" + conn + "/" + name;
    if (access(path.c_str(), F_OK) != 0) mount("fusectl", dir, "fusectl", 0, nullptr);
    return path;
}

void abort_conn(const std::string& conn) {
    if (conn.empty()) return;
    std::string path = conn_file(conn, "abort");
    Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd && write(fd.get(), "1", 1) < 0) log_error("mount: abort %s: %s", path.c_str(), errtext(errno).c_str());
}

// Waits until no request of the connection awaits its answer (fusectl's
// `waiting`), or until `deadline`; true if none is left (or we cannot tell).
// syncfs(2) returns once FUSE has queued the writes of the dirty pages, not
// once they are answered (it waits for no FUSE writeback): aborting the
// connection before then would drop them. Blocking locks parked with the
// LockWaiter (`parked`) count in `waiting` but wait for another process,
// not for us: they are not waited for (unmount fails them), else every
// SIGTERM with a lock waiter would take the whole deadline.
bool wait_conn_idle(const std::string& conn, std::chrono::steady_clock::time_point deadline,
                    const std::function<long()>& parked) {
    if (conn.empty()) return true;
    std::string path = conn_file(conn, "waiting");
    for (;;) {
        std::ifstream in(path);
        long n = -1;
        if (!(in >> n) || n - parked() <= 0) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool fuse_conf_allows_other() {
    std::ifstream in("/etc/fuse.conf");
    std::string line;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t") != std::string::npos &&
            line.substr(line.find_first_not_of(" \t"), 16) == "user_allow_other")
            return true;
    return false;
}

// The longest unmount() waits for dirty pages to reach the peer.
constexpr int kFlushSeconds = 10;

class FuseMount final : public Mount {
public:
    FuseMount(const MountOptions& o, Send send)
        : opts_(o), client_(std::move(send), o.trace, o.msize), fs_(client_), feed_(fs_) {
        client_.set_timeout(o.timeout);
        fs_.cache_timeout = o.cache_timeout;
    }
    ~FuseMount() override {
        if (loop_.joinable()) {
            unmount();
            wait();
        }
    }

    void deliver(std::string frame) override { client_.deliver(std::move(frame)); }
    bool start(std::string& err) override;
    void wait() override;
    void channel_lost() override;
    void unmount() override;
    bool probe() override {
        {
            std::lock_guard<std::mutex> g(mu_);
            if (!mounted_ || ending_) return false;
        }
        return client_.probe();  // outside mu_: sending may wait for room on the channel
    }
    MountStats stats() const override { return client_.stats(); }
    size_t files_cut_off() const override { return cut_off_.load(); }
    bool left_covered() const override { return covered_.load(); }

private:
    bool handshake(std::string& err);
    bool attach(std::string& err);
    void release_fids();
    void end_loop(bool lazy);
    void unmount_if_ours();

    MountOptions opts_;
    Client client_;
    Fs fs_;
    MountFeed feed_;  // after fs_: stopped (in wait) before the session goes
    std::thread loop_;
    std::string mp_;    // absolute mount point
    std::string dev_;   // our mount's "0:N" in mountinfo: tells ours from others at mp_
    std::string conn_;  // fusectl connection number (N)
    std::atomic<bool> detached_busy_{false};  // unmount() found files in use and detached
    std::atomic<size_t> cut_off_{0};
    std::atomic<bool> covered_{false};
    // mu_ guards se_ and mounted_: unmount()/channel_lost() from other
    // threads must not touch a session wait() is destroying.
    std::mutex mu_;
    fuse_session* se_ = nullptr;
    bool mounted_ = false;
    std::atomic<bool> ending_{false};
};

// Tversion, trying the versions we speak from the richest down. version(5):
// the answer is the offered version or an older one, and every Tversion
// starts the session afresh, so a refused offer costs one round trip and
// nothing else.
//  1. "9P2000.L.duct.N" (messages.h): another duct answers it (perhaps with
//     a lower N) and the duct extension is on. What others answer, checked
//     in their sources: diod Rlerror EIO (libnpfs/fcall.c np_version: only
//     exactly "9P2000.L"), hugelgupf/p9 "unknown" (older: Rlerror EINVAL;
//     p9/version.go parseVersion knows only "9P2000.L[.Google.N]"), Plan 9
//     lib9p and Inferno "9P2000" (lib9p/srv.c sversion: prefix "9P2000";
//     Inferno emu/port/exportfs.c Exversion and appl/lib/styx.b compatible
//     cut at the first '.'), and so does a duct older than the extension.
//     The Linux kernel never serves. Any answer but ours means step 2: a
//     "9P2000" here may come from an older duct that would agree to .L.
//  2. "9P2000.L": "9P2000.L", or "9P2000" from a Plan 9 / Inferno peer (the
//     original duct); an error or "unknown" means step 3.
//  3. "9P2000": for a server that compares the whole string to "9P2000".
// The suffix is safe because no server we know treats an unknown version as
// anything but unknown or a lower version, and a refusal leaves no state
// (diod keeps the connection; its np_check_allowed drops a connection for
// an unknown message TYPE, which is why the extension's messages go only
// to a peer that said "9P2000.L.duct"). A probe at attach time instead
// would mean sending such a message to peers that may drop us for it.
// --dialect 9P2000 offers only step 3's version.
bool FuseMount::handshake(std::string& err) {
    const std::string duct = duct_version(kDuctLevel);
    std::vector<std::string> offers = {opts_.dialect};
    if (opts_.dialect == "9P2000.L") offers = {duct, "9P2000.L", "9P2000"};
    Rversion rv;
    bool ok = false;
    std::string tried;
    for (const std::string& offer : offers) {
        int e = client_.version(opts_.msize, offer, rv);
        if (client_.is_lost()) {
            err = "Tversion: " + errtext(e ? e : EIO);
            return false;
        }
        tried += (tried.empty() ? "" : ", ") + offer + " -> " +
                 (e ? errtext(e) : "\"" + rv.version + "\"");
        if (e) continue;
        const std::string& v = rv.version;
        if (offer == duct) {
            uint32_t level = duct_level(v);
            ok = (level >= 1 && level <= kDuctLevel) || v == "9P2000.L";
        } else if (offer == "9P2000.L") {
            ok = v == "9P2000.L" || v == "9P2000";
        } else {
            ok = v == "9P2000";  // never more than offered
        }
        if (ok) break;
    }
    if (!ok) {
        err = "no 9P version in common with the peer (" + tried + "); need 9P2000.L or 9P2000";
        return false;
    }
    if (verbose() && client_.duct_ext()) log_info("mount: peer is a duct: extension %s", rv.version.c_str());
    if (rv.msize < MINMSIZE || rv.msize > opts_.msize) {
        err = "peer's msize " + std::to_string(rv.msize) + " is unusable";
        return false;
    }
    return attach(err);
}

// Tattach (and, for --idmap user, the peer's exporting user read from the
// export root): fills the root node, attach_uid/gid and the id map.
bool FuseMount::attach(std::string& err) {
    std::string uname = opts_.uname;
    if (uname.empty()) {
        const char* u = getenv("USER");
        uname = u && *u ? u : (getuid() == 0 ? "root" : "nobody");
    }
    uint32_t me, my_gid;
    if (!fs_.ids.uid_out(getuid(), me) || !fs_.ids.gid_out(getgid(), my_gid)) {
        err = "--idmap " + opts_.idmap + ": our own uid " + std::to_string(getuid()) + " or gid " +
              std::to_string(getgid()) + " has no id on the peer";
        return false;
    }
    auto one = [&](uint32_t n_uname, uint32_t& fid, Qid& qid) {
        fid = client_.alloc_fid();
        Rattach ra;
        if (int e = client_.call(Tattach{fid, NOFID, uname, opts_.aname, NUname{n_uname}}, ra)) {
            client_.free_fid(fid);
            err = "Tattach " + (opts_.aname.empty() ? std::string("\"\"") : opts_.aname) + ": " +
                  errtext(e);
            return false;
        }
        qid = ra.qid;
        return true;
    };
    uint32_t fid;
    Qid qid;
    if (!one(me, fid, qid)) return false;
    if (client_.dialect() == Dialect::P2000) {
        // 9P2000 names users; p2000.cc looks the names up locally.
        if (!fs_.ids.is_none()) log_info("mount: --idmap does not apply to a 9P2000 peer (it sends user names)");
        fs_.ids = IdMap{};
    } else if (fs_.ids.wants_peer_owner()) {
        // As sshfs does: the export's root belongs to the exporting user.
        Rgetattr a;
        if (int e = client_.call(Tgetattr{fid, GETATTR_BASIC}, a)) {
            client_.clunk_async(fid);
            err = "--idmap user: Tgetattr of the export root: " + errtext(e);
            return false;
        }
        fs_.ids.set_user(a.uid, a.gid, getuid(), getgid());
        my_gid = a.gid;
        if (a.uid != me) {
            // Act as that user on the peer (only a root export can tell).
            uint32_t fid2;
            Qid qid2;
            if (!one(a.uid, fid2, qid2)) {
                client_.clunk_async(fid);
                return false;
            }
            client_.clunk_async(fid);
            fid = fid2;
            qid = qid2;
            me = a.uid;
        }
        log_info("mount: idmap %s", fs_.ids.describe().c_str());
    }
    fs_.nodes.set_root(fid, qid);
    fs_.attach_uid = me;
    fs_.attach_gid = my_gid;
    return true;
}

bool FuseMount::start(std::string& err) {
    if (!check_mountpoint(opts_.mountpoint, mp_, err)) return false;
    // Root mounts itself; anyone else through the setuid fusermount3, which
    // libfuse runs only after opening /dev/fuse itself.
    if (access("/dev/fuse", R_OK | W_OK) != 0) {
        err = "/dev/fuse: " + errtext(errno) +
              (getuid() ? " (a non-root mount needs it read-write; Debian's udev makes it 0666)" : "");
        return false;
    }
    if (getuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0 && access("/bin/fusermount3", X_OK) != 0) {
        err = "a non-root mount needs fusermount3 (apt-get install fuse3)";
        return false;
    }
    if (!IdMap::parse(opts_.idmap, fs_.ids, err)) return false;
    if (!handshake(err)) return false;

    std::string fsname;
    for (char c : opts_.fsname) fsname += (c == ',' || c == '\\') ? '_' : c;
    // allow_other lets every local user in (the kernel still checks their
    // permissions); fusermount3 grants it to a non-root duct only if
    // /etc/fuse.conf says user_allow_other, else the mount is ours alone.
    std::string o = std::string("default_permissions,") +
                    (getuid() == 0 || fuse_conf_allows_other() ? "allow_other," : "") +
                    "subtype=duct,fsname=" + fsname +
                    ",max_read=" + std::to_string(std::min<uint32_t>(client_.iosize(), 1u << 20));
    const char* argv[] = {"duct", "-o", o.c_str()};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
    // Client::deliver set the dialect from Rversion; each has its own table.
    const fuse_lowlevel_ops& ops = client_.dialect() == Dialect::P2000 ? fuse_ops_plain() : fuse_ops();
    fuse_session* se = fuse_session_new(&args, &ops, sizeof(fuse_lowlevel_ops), &fs_);
    // The option parser rewrites args into memory of its own: ours to free.
    fuse_opt_free_args(&args);
    if (!se) {
        err = "cannot create the FUSE session";
        release_fids();
        return false;
    }
    if (fuse_session_mount(se, mp_.c_str()) != 0) {
        err = "mount point " + opts_.mountpoint + ": FUSE mount failed";
        fuse_session_destroy(se);
        release_fids();
        return false;
    }
    // Ours is the newest at mp_ (check_mountpoint found none before it).
    auto here = mounts_at(mp_);
    if (!here.empty() && here.back().fstype.rfind("fuse", 0) == 0) {
        dev_ = here.back().dev;
        if (dev_.rfind("0:", 0) == 0) conn_ = dev_.substr(2);
    }
    // Set by the first open, after FUSE_INIT (readahead.h).
    fs_.bdi = dev_;
    fs_.readahead = readahead_bytes(std::min<uint32_t>(client_.iosize(), 1u << 20));
    {
        std::lock_guard<std::mutex> g(mu_);
        se_ = se;
        mounted_ = true;
    }
    loop_ = std::thread([se] {
        fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, 64);
        int r = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
        if (verbose()) log_info("mount: FUSE loop ended (%d)", r);
    });
    feed_.start(se);  // the FUSE loop runs: notifications may go
    if (client_.is_lost()) channel_lost();  // lost while we were mounting
    if (verbose())
        log_info("mount: %s mounted (%s, msize %u)", mp_.c_str(), dialect_name(client_.dialect()),
                 client_.msize());
    return true;
}

// Every Tclunk goes out at once and one bounded wait covers all their
// answers: one round trip for the lot, not one per fid (14,000 cached
// files took 3 s on a pipe one by one, minutes over a WAN). The root's
// Tclunk goes last, once the others are answered: after it the export may
// be torn down (close frame).
void FuseMount::release_fids() {
    std::vector<uint32_t> open = fs_.drain_open();
    // Left open after unmount() detached a busy mount: the kernel never
    // released them, their processes were cut off.
    if (detached_busy_) cut_off_ = open.size();
    std::vector<uint32_t> nodes = fs_.nodes.drain();  // the root's last
    if (client_.is_lost()) return;
    uint32_t root = nodes.empty() ? p9::NOFID : nodes.back();
    if (!nodes.empty()) nodes.pop_back();
    for (uint32_t fid : open) client_.clunk_async(fid);
    for (uint32_t fid : nodes) client_.clunk_async(fid);
    client_.drain(10000);  // and the async clunks of nodes forgotten before
    if (root != p9::NOFID) client_.clunk(root);
}

void FuseMount::wait() {
    if (!loop_.joinable()) return;
    loop_.join();
    feed_.stop();
    fuse_session* se;
    {
        std::lock_guard<std::mutex> g(mu_);
        se = se_;
        se_ = nullptr;
        mounted_ = false;
    }
    // The kernel may still have sent nothing for nodes it held: clunk them
    // all (the root last) so the caller may send the close frame.
    release_fids();
    // Still mounted if the loop ended by itself (an error): unmount it if
    // it is ours and on top. Destroying the session closes /dev/fuse.
    unmount_if_ours();
    fuse_session_destroy(se);
}

void FuseMount::unmount_if_ours() {
    if (dev_.empty() || place_of(mp_, dev_) != Place::Top) return;
    if (umount2(mp_.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
        log_error("mount: umount %s: %s", mp_.c_str(), errtext(errno).c_str());
}

void FuseMount::end_loop(bool lazy) {
    std::lock_guard<std::mutex> g(mu_);
    if (!mounted_ || ending_.exchange(true)) return;
    fuse_session_exit(se_);
    // Between this check and umount2 someone could still mount on top;
    // the kernel offers no umount of a given mount but by path.
    Place where = dev_.empty() ? Place::Top : place_of(mp_, dev_);
    if (where == Place::Covered) {
        covered_ = true;
        log_error("mount: another mount is on top of ours at %s; leaving it alone: ours below it is "
                  "disconnected and stays until unmounted (umount %s, twice)",
                  mp_.c_str(), mp_.c_str());
    } else if (where == Place::Top) {
        if (!lazy && umount2(mp_.c_str(), 0) == 0) return;  // workers see ENODEV
        if (!lazy && errno == EBUSY) detached_busy_ = true;
        if (umount2(mp_.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
            log_error("mount: umount %s: %s", mp_.c_str(), errtext(errno).c_str());
    }
    // A detached (or covered) mount with open files keeps its connection:
    // abort it so the loop ends and no thread stays blocked.
    abort_conn(conn_);
}

void FuseMount::unmount() {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (!mounted_ || ending_) return;
    }
    // Before anything is detached (the loop must still serve the writes).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kFlushSeconds);
    Place where = dev_.empty() ? Place::Top : place_of(mp_, dev_);
    if (!flush_within(mp_, where, kFlushSeconds) || !wait_conn_idle(conn_, deadline, [this] { return long(fs_.locks.waiting()); }))
        log_error("mount: flushing %s took more than %d s; unmounting it anyway", mp_.c_str(), kFlushSeconds);
    end_loop(false);
}

void FuseMount::channel_lost() {
    client_.lost();
    end_loop(true);
}

}  // namespace

std::unique_ptr<Mount> Mount::create(const MountOptions& opts, Send send) {
    return std::make_unique<FuseMount>(opts, std::move(send));
}

}  // namespace duct::mnt
