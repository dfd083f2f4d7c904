// The export's change feed (feed.h): inotify events -> qid-path events.
#include "export/feed.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace duct::exp {

namespace {

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |
                              IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |
                              IN_ONLYDIR | IN_EXCL_UNLINK;

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// File systems whose files change without the local kernel seeing it (other
// clients of a network file system, the server behind a FUSE or 9p mount):
// inotify reports only what is done through this machine.
bool remote_fs(long type) {
    switch ((unsigned long)type) {
    case 0x6969:      // NFS
    case 0x65735546:  // FUSE (a duct mount, sshfs, ...)
    case 0x01021997:  // 9p
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x517B:      // SMB
    case 0x00C36400:  // ceph
    case 0x5346414F:  // AFS
    case 0x6B414653:  // kAFS
    case 0x01161970:  // GFS2
    case 0x7461636F:  // OCFS2
    case 0x0BD00BD0:  // Lustre
    case 0x47504653:  // GPFS
    case 0x013111A8:  // IBRIX
        return true;
    default:
        return false;
    }
}

}  // namespace

int Feed::start(int root, std::function<void()> ready) {
    std::lock_guard<std::mutex> g(mu_);
    if (active_.load()) return 0;
    Fd ifd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!ifd) {
        int e = errno;
        log_error("export: inotify_init1: %s; the peer's mount keeps short cache timeouts", strerror(e));
        return e;
    }
    Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return errno;
    ifd_ = std::move(ifd);
    wake_ = std::move(wake);
    ready_ = std::move(ready);
    struct stat st;
    if (fstatat(root, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0) add_watch(root, {st.st_dev, st.st_ino});
    active_.store(true, std::memory_order_release);
    thread_ = std::thread([this] { run(); });
    return 0;
}

void Feed::reset() {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (!active_.load()) return;
        active_.store(false);
        uint64_t one = 1;
        if (write(wake_.get(), &one, sizeof one) < 0) {}
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> g(mu_);
    ifd_.reset();
    wake_.reset();
    ready_ = nullptr;
    by_wd_.clear();
    wd_of_.clear();
    covered_.clear();
    watchable_.clear();
    moved_from_.clear();
    pending_.clear();
    lost_ = false;
    sent_ = 0;
    want_now_ = false;
}

bool Feed::watchable(int fd, dev_t dev) {
    auto it = watchable_.find(dev);
    if (it != watchable_.end()) return it->second;
    struct statfs sf;
    bool ok = fstatfs(fd, &sf) == 0 && !remote_fs(sf.f_type);
    watchable_[dev] = ok;
    return ok;
}

void Feed::add_watch(int fd, const Id& id) {
    if (wd_of_.count(id) || !watchable(fd, id.first)) return;
    int wd = inotify_add_watch(ifd_.get(), fd_path(fd).c_str(), kDirMask);
    if (wd < 0) {
        if (errno == ENOSPC && !warned_limit_) {
            warned_limit_ = true;
            log_error("export: inotify watch limit reached (fs.inotify.max_user_watches); the peer's mount "
                      "caches what lies in directories not watched only briefly");
        }
        return;  // not watched: covered() says so
    }
    Fd dup(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!dup) {
        inotify_rm_watch(ifd_.get(), wd);
        return;
    }
    auto old = by_wd_.find(wd);  // the same inode under another identity: replace
    if (old != by_wd_.end()) wd_of_.erase(old->second.id);
    Watch w;
    w.id = id;
    w.qpath = qids_.path(id.first, id.second);
    w.ref = handles_.hold(std::move(dup), -1, true);
    by_wd_[wd] = std::move(w);
    wd_of_[id] = wd;
}

void Feed::watch_dir(int fd, dev_t dev, ino_t ino) {
    if (!active()) return;
    std::lock_guard<std::mutex> g(mu_);
    if (!active_.load()) return;
    add_watch(fd, {dev, ino});
}

void Feed::saw_child(dev_t pdev, ino_t pino, const struct stat& st) {
    if (!active() || S_ISDIR(st.st_mode)) return;
    std::lock_guard<std::mutex> g(mu_);
    auto it = wd_of_.find({pdev, pino});
    if (it == wd_of_.end()) return;
    if (covered_.size() >= kMaxCovered && !covered_.count({st.st_dev, st.st_ino})) return;
    covered_[{st.st_dev, st.st_ino}] = it->second;
}

bool Feed::covered(const struct stat& st) {
    std::lock_guard<std::mutex> g(mu_);
    Id id{st.st_dev, st.st_ino};
    if (S_ISDIR(st.st_mode)) return wd_of_.count(id) > 0;
    // A second link may be changed through a directory nobody watches.
    if (st.st_nlink > 1) return false;
    auto it = covered_.find(id);
    if (it == covered_.end()) return false;
    auto w = by_wd_.find(it->second);
    auto dv = watchable_.find(st.st_dev);
    return w != by_wd_.end() && dv != watchable_.end() && dv->second;
}

void Feed::request(uint64_t seq) {
    std::lock_guard<std::mutex> g(mu_);
    if (seq == 0) want_now_ = true;
    else if (seq != sent_) lost_ = true;  // a batch the mount never applied
}

bool Feed::take(p9::Rfeed& out, size_t max_bytes) {
    std::lock_guard<std::mutex> g(mu_);
    if (!want_now_ && !lost_ && pending_.empty()) return false;
    want_now_ = false;
    out.events.bytes.clear();
    if (lost_) {
        // Everything else queued is covered by it.
        p9::append_feed_event(out.events.bytes, {p9::FeedEvent::Lost, 0, {}});
        lost_ = false;
        pending_.clear();
        n_lost_++;
    } else {
        while (!pending_.empty()) {
            auto it = pending_.begin();
            if (out.events.bytes.size() + p9::feed_event_size(*it) > max_bytes) break;
            p9::append_feed_event(out.events.bytes, *it);
            pending_.erase(it);
        }
    }
    out.seq = ++sent_;
    return true;
}

void Feed::queue(p9::FeedEvent e) {
    if (lost_) return;
    if (pending_.size() >= kMaxPending) {
        queue_lost();
        return;
    }
    if (pending_.insert(std::move(e)).second) n_events_++;
}

void Feed::queue_lost() {
    lost_ = true;
    pending_.clear();
}

void Feed::handle(const struct inotify_event* ev) {
    if (ev->mask & IN_Q_OVERFLOW) {
        queue_lost();
        return;
    }
    auto it = by_wd_.find(ev->wd);
    if (it == by_wd_.end()) return;  // a watch already dropped
    Watch& w = it->second;
    if (ev->mask & IN_UNMOUNT) queue_lost();  // what was below it is unreachable now
    if (ev->mask & IN_IGNORED) {
        queue({p9::FeedEvent::Inode, w.qpath, {}});
        wd_of_.erase(w.id);
        by_wd_.erase(it);
        return;
    }
    if (ev->len == 0 || ev->name[0] == '\0') {  // the directory itself
        queue({p9::FeedEvent::Inode, w.qpath, {}});
        return;
    }
    std::string name = ev->name;
    const uint32_t names = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
    if (ev->mask & names) queue({p9::FeedEvent::Entry, w.qpath, name});
    if (ev->mask & names) queue({p9::FeedEvent::Inode, w.qpath, {}});  // its mtime, nlink
    if (ev->mask & IN_MOVED_FROM) moved_from_[ev->cookie] = (ev->mask & IN_ISDIR) != 0;
    if (ev->mask & IN_MOVED_TO) moved_from_.erase(ev->cookie);
    int err = 0;
    PathFd dir = open_ref(w.ref, err);
    struct stat st;
    if (dir && fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        // A name created for a new file: nobody can have cached that file
        // (its creator has what its create answered), so the entry event
        // says it all; a new hard link to an old file is news about it.
        if ((ev->mask & IN_CREATE) && (S_ISDIR(st.st_mode) || st.st_nlink <= 1)) return;
        // A write (IN_MODIFY, IN_CLOSE_WRITE) changes content, size and
        // times only: the mount keeps what it knows of the xattrs (else
        // every write through a mount would cost a security.capability
        // question at the next one). Anything else may change them.
        const uint32_t data_only = IN_MODIFY | IN_CLOSE_WRITE;
        bool data = (ev->mask & data_only) && !(ev->mask & ~(data_only | IN_ISDIR));
        queue({data ? p9::FeedEvent::Data : p9::FeedEvent::Inode, qids_.path(st.st_dev, st.st_ino), {}});
    } else if (!(ev->mask & names)) {
        // Changed, then gone before we looked: its name is news too.
        queue({p9::FeedEvent::Entry, w.qpath, name});
    }
}

void Feed::drain() {
    alignas(struct inotify_event) char buf[64 * 1024];
    bool waited = false;
    for (;;) {
        ssize_t n = read(ifd_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            // A rename's IN_MOVED_FROM and IN_MOVED_TO are queued together;
            // give a partner cut off by the buffer one short chance.
            bool unpaired;
            {
                std::lock_guard<std::mutex> g(mu_);
                unpaired = !moved_from_.empty();
            }
            if (unpaired && !waited) {
                waited = true;
                struct pollfd p{ifd_.get(), POLLIN, 0};
                if (poll(&p, 1, 10) > 0) continue;
            }
            std::lock_guard<std::mutex> g(mu_);
            // A file moved into a directory nobody watches: its later
            // changes would go unseen, and we cannot name it any more.
            for (auto& [cookie, dir] : moved_from_)
                if (!dir) queue_lost();
            moved_from_.clear();
            return;
        }
        std::lock_guard<std::mutex> g(mu_);
        for (ssize_t i = 0; i < n;) {
            auto* ev = reinterpret_cast<const struct inotify_event*>(buf + i);
            handle(ev);
            i += ssize_t(sizeof(struct inotify_event) + ev->len);
        }
    }
}

void Feed::run() {
    for (;;) {
        struct pollfd p[2] = {{ifd_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            log_error("export: feed: poll: %s", strerror(errno));
            return;
        }
        if (p[1].revents || !active_.load()) return;
        drain();
        std::function<void()> ready;
        {
            std::lock_guard<std::mutex> g(mu_);
            if (pending_.empty() && !lost_) continue;
            ready = ready_;
        }
        if (ready) ready();
    }
}

}  // namespace duct::exp
