// The export's half of the change feed (table.h, Tfeed/Rfeed): one inotify
// instance per session watching every directory the peer has walked into,
// looked up or listed, turning what the kernel reports into events about
// qid paths (proto/feed.h) for the peer's mount, which then caches for long.
//
// The rule that makes long caching safe: a directory is watched BEFORE the
// walk step, stat or readdir whose answer lets the mount cache something of
// it (walk.cc, dir.cc), so no change can fall between answer and watch.
// Changes made by this very peer come back too (it costs the mount one
// re-fetch; suppressing them could hide a foreign change made at the same
// moment). Changes by other peers of a listener and by local programs are
// the point.
//
// What cannot be promised is said, per file, with GETATTR_DUCT_UNWATCHED in
// the attributes (covered()): files on a file system inotify cannot see into
// for remote changes (NFS, FUSE -- a duct mount inside the export --, 9p,
// CIFS/SMB, ceph, AFS, ...), files with more than one link (they may change
// through a name in a directory nobody watches), and directories whose watch
// failed (ENOSPC: fs.inotify.max_user_watches; logged once). Events that may
// have been dropped (IN_Q_OVERFLOW, an unmount below a watch, a file moved
// into a directory nobody watches, too many events queued) become "lost".
//
// Threads: workers call watch_dir/saw_child/covered; the reader thread calls
// request/take (under the server's inflight_mu_, which comes before mu_);
// the feed's own thread reads inotify and calls `ready` with no lock held.
#pragma once
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/fd.h"
#include "export/handle.h"
#include "export/ident.h"
#include "proto/feed.h"
#include "proto/messages.h"

namespace duct::exp {

class Feed {
public:
    Feed(QidMap& qids, Handles& handles) : qids_(qids), handles_(handles) {}
    ~Feed() { reset(); }
    Feed(const Feed&) = delete;
    Feed& operator=(const Feed&) = delete;

    // Starts the feed (the first Tfeed): inotify, the watch on the export
    // root and the thread. Idempotent. 0 or an errno (no inotify: the Tfeed
    // answers it and the mount keeps short timeouts).
    int start(int root, std::function<void()> ready);
    // Stops the thread, drops every watch and event (Tversion, teardown,
    // stop). The next Tfeed starts afresh.
    void reset();
    bool active() const { return active_.load(std::memory_order_acquire); }

    // Before a walk step from, a readdir of, or a stat of directory `fd`
    // (any descriptor of it) whose identity is dev/ino.
    void watch_dir(int fd, dev_t dev, ino_t ino);
    // After a walk step from directory (pdev, pino) found st.
    void saw_child(dev_t pdev, ino_t pino, const struct stat& st);
    // Will a change to this file be reported? (false: GETATTR_DUCT_UNWATCHED)
    bool covered(const struct stat& st);

    // A Tfeed arrived with seq (the last batch the mount applied).
    void request(uint64_t seq);
    // The next batch, if there is one to send now (after request(0): an
    // empty one at once); at most max_bytes of events.
    bool take(p9::Rfeed& out, size_t max_bytes);

    // Counters (tests, -v): events queued so far, and "lost" sent.
    uint64_t events() const { return n_events_.load(); }
    uint64_t losts() const { return n_lost_.load(); }

    static constexpr size_t kMaxPending = 8192;   // more queued: "lost" instead
    static constexpr size_t kMaxCovered = 1u << 20;  // files remembered as covered

private:
    using Id = std::pair<dev_t, ino_t>;
    struct Watch {
        Id id;
        uint64_t qpath = 0;
        FileRef ref;  // to fstatat the names its events carry
    };
    void run();
    void drain();  // reads and handles every queued inotify event (mu_ not held)
    void handle(const struct inotify_event* ev);  // mu_ held
    void queue(p9::FeedEvent e);                   // mu_ held
    void queue_lost();                             // mu_ held
    bool watchable(int fd, dev_t dev);             // mu_ held
    void add_watch(int fd, const Id& id);          // mu_ held

    QidMap& qids_;
    Handles& handles_;
    std::atomic<bool> active_{false};
    std::atomic<uint64_t> n_events_{0}, n_lost_{0};
    std::thread thread_;

    // Guards everything below. Taken after the server's inflight_mu_;
    // nothing is taken under it.
    std::mutex mu_;
    std::function<void()> ready_;
    Fd ifd_;   // the inotify instance
    Fd wake_;  // eventfd: stops the thread
    std::unordered_map<int, Watch> by_wd_;
    std::map<Id, int> wd_of_;
    std::map<Id, int> covered_;              // a file -> the watch of the directory it was seen in
    std::unordered_map<dev_t, bool> watchable_;  // per device: inotify sees every change there
    std::map<uint32_t, bool> moved_from_;    // rename cookies awaiting their IN_MOVED_TO -> is a dir
    std::set<p9::FeedEvent> pending_;
    bool lost_ = false;
    uint64_t sent_ = 0;       // seq of the last batch sent
    bool want_now_ = false;   // a Tfeed of seq 0 waits for its empty batch
    bool warned_limit_ = false;
};

}  // namespace duct::exp
