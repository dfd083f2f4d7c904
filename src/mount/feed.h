// The mount's half of the change feed (table.h Tfeed/Rfeed; the export's is
// export/feed.h): a thread keeps one Tfeed outstanding and turns each
// batch of events into FUSE invalidations, so entries and attributes the
// peer promises to report can be cached for --cache-timeout.
//
// Threads: its own. It alone calls fuse_lowlevel_notify_* and never from a
// FUSE op, and it holds no lock while it does (the kernel may call back into
// us, e.g. to write back pages, before a notify returns). A reply that
// reaches an op after an Rfeed its request predates (Client::feed_gen) is
// cached briefly (attr_time, entry_times in feed.cc).
#pragma once
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "mount/fs.h"
#include "proto/feed.h"

namespace duct::mnt {

class MountFeed {
public:
    explicit MountFeed(Fs& fs) : fs_(fs) {}
    ~MountFeed() { stop(); }
    // Starts the thread if the peer is a duct and --cache-timeout > 0.
    void start(fuse_session* se);
    // Flushes the held Tfeed and joins (before the session goes).
    void stop();

private:
    void run();
    void apply(const std::vector<p9::FeedEvent>& evs);
    void drop_all();  // "lost": every attribute, page, dentry and negative entry
    void first_answer();
    static constexpr int kStartWaitSeconds = 10;  // a silent peer: mount anyway

    Fs& fs_;
    fuse_session* se_ = nullptr;
    std::thread thread_;
    std::mutex mu_;  // guards answered_
    std::condition_variable cv_;
    bool answered_ = false;
};

}  // namespace duct::mnt
