// FuseMount: the Mount of mount.h — handshake (Tversion, Tattach), the FUSE
// session and its lifecycle.
//
// Threads: start() runs on the caller's thread (blocks in Tversion/Tattach
// and mount(2)); the FUSE loop runs on loop_, which starts libfuse's worker
// threads (they block in rpc). wait() joins loop_ and then releases every
// fid (rpc, unless the channel is lost). unmount() and channel_lost() may be
// called from any thread; they end the loop by unmounting: the kernel then
// ends the FUSE connection and the workers' reads fail with ENODEV. When a
// detached mount is still held open, the connection is aborted through
// fusectl (/sys/fs/fuse/connections/N/abort) so the loop ends anyway.
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
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "base/log.h"
#include "mount/fs.h"
#include "mount/mount.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {

std::string errtext(int e) { return std::strerror(e); }

// Undoes the octal escapes of /proc/self/mountinfo (\040 for a space).
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The FUSE connection number of the newest mount at `path` ("" if none):
// its device minor, which names its directory under fusectl.
std::string fuse_conn_of(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, found;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string id, parent, dev, root, mp;
        ls >> id >> parent >> dev >> root >> mp;
        if (unescape(mp) != path) continue;
        auto colon = dev.find(':');
        if (colon != std::string::npos && dev.substr(0, colon) == "0") found = dev.substr(colon + 1);
    }
    return found;
}

void abort_conn(const std::string& conn) {
    if (conn.empty()) return;
    const char* dir = "/sys/fs/fuse/connections";
    std::string path = std::string(dir) + "/" + conn + "/abort";
    if (access(path.c_str(), F_OK) != 0) mount("fusectl", dir, "fusectl", 0, nullptr);
    Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd && write(fd.get(), "1", 1) < 0) log_error("mount: abort %s: %s", path.c_str(), errtext(errno).c_str());
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

class FuseMount final : public Mount {
public:
    FuseMount(const MountOptions& o, Send send)
        : opts_(o), client_(std::move(send), o.trace, o.msize), fs_(client_) {
        client_.set_timeout(o.timeout);
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

private:
    bool handshake(std::string& err);
    bool attach(std::string& err);
    void release_fids();
    void end_loop(bool lazy);

    MountOptions opts_;
    Client client_;
    Fs fs_;
    std::thread loop_;
    std::string mp_;    // absolute mount point
    std::string conn_;  // fusectl connection number
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
    char real[PATH_MAX];
    if (!realpath(opts_.mountpoint.c_str(), real)) {
        err = "mount point " + opts_.mountpoint + ": " + errtext(errno);
        return false;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        err = "mount point " + opts_.mountpoint + ": " + errtext(errno ? errno : ENOTDIR);
        return false;
    }
    mp_ = real;
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
    conn_ = fuse_conn_of(mp_);
    {
        std::lock_guard<std::mutex> g(mu_);
        se_ = se;
        mounted_ = true;
    }
    loop_ = std::thread([this, se] {
        fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(cfg, 64);
        int r = fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
        if (verbose()) log_info("mount: FUSE loop ended (%d)", r);
    });
    if (client_.is_lost()) channel_lost();  // lost while we were mounting
    if (verbose())
        log_info("mount: %s mounted (%s, msize %u)", mp_.c_str(), dialect_name(client_.dialect()),
                 client_.msize());
    return true;
}

void FuseMount::release_fids() {
    if (client_.is_lost()) return;
    for (uint32_t fid : fs_.drain_open()) client_.clunk(fid);
    for (uint32_t fid : fs_.nodes.drain()) client_.clunk(fid);
    client_.drain(2000);  // async clunks of forgotten nodes
}

void FuseMount::wait() {
    if (!loop_.joinable()) return;
    loop_.join();
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
    // Unmounts if still mounted (not if the connection is already gone).
    fuse_session_unmount(se);
    fuse_session_destroy(se);
}

void FuseMount::end_loop(bool lazy) {
    std::lock_guard<std::mutex> g(mu_);
    if (!mounted_ || ending_.exchange(true)) return;
    fuse_session_exit(se_);
    if (!lazy && umount2(mp_.c_str(), 0) == 0) return;  // workers see ENODEV
    if (umount2(mp_.c_str(), MNT_DETACH) != 0 && errno != EINVAL)
        log_error("mount: umount %s: %s", mp_.c_str(), errtext(errno).c_str());
    // A detached mount with open files keeps its connection: abort it so
    // the loop ends and no thread stays blocked.
    abort_conn(conn_);
}

void FuseMount::unmount() { end_loop(false); }

void FuseMount::channel_lost() {
    client_.lost();
    end_loop(true);
}

}  // namespace

std::unique_ptr<Mount> Mount::create(const MountOptions& opts, Send send) {
    return std::make_unique<FuseMount>(opts, std::move(send));
}

}  // namespace duct::mnt
