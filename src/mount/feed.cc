// The mount's change feed (feed.h) and the cache timeouts it allows.
#include "mount/feed.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {
// Bounded: past it, entries get the short timeout (nothing to drop them by).
constexpr size_t kMaxLongEntries = 1u << 18;
}  // namespace

double attr_time(Fs& fs, fuse_ino_t ino, const Rgetattr& a, uint64_t gen0) {
    // An Rfeed that arrived while the request was out and named this file
    // may announce a change this answer predates: the short timeout then
    // (the kernel itself drops an answer older than an invalidation it
    // already had: attr_version).
    bool watched = fs.feed_on.load() && !(a.valid & GETATTR_DUCT_UNWATCHED) &&
                   !fs.c.feed_log().crossed_attr(gen0, a.qid.path);
    if (watched) fs.covered.put(ino, true, fs.cache_timeout);
    else fs.covered.forget(ino);
    return watched ? fs.cache_timeout : fs.timeout;
}

// A (parent, name) the kernel may keep for long: the parent's entries are
// reported, and nothing arrived on the feed while the walk was out.
static bool long_entry_ok(Fs& fs, fuse_ino_t parent, const char* name, uint64_t gen0) {
    bool c;
    if (!fs.feed_on.load() || fs.c.feed_log().crossed_entry(gen0, name) || !fs.covered.get(parent, c))
        return false;
    std::lock_guard<std::mutex> g(fs.feed_mu);
    if (fs.long_entries.size() >= kMaxLongEntries) return false;
    fs.long_entries.emplace(parent, name);
    return true;
}

void entry_times(Fs& fs, fuse_ino_t parent, const char* name, const Rgetattr& a, uint64_t gen0,
                 fuse_entry_param& e) {
    e.attr_timeout = attr_time(fs, e.ino, a, gen0);
    e.entry_timeout = long_entry_ok(fs, parent, name, gen0) ? fs.cache_timeout : fs.timeout;
}

bool negative_entry(Fs& fs, fuse_ino_t parent, const char* name, uint64_t gen0, fuse_entry_param& e) {
    if (!long_entry_ok(fs, parent, name, gen0)) return false;
    e = {};
    e.ino = 0;  // FUSE: "no such name", cached for entry_timeout
    e.entry_timeout = fs.cache_timeout;
    return true;
}

bool keep_pages(Fs& fs, fuse_ino_t ino) {
    bool c;
    return fs.feed_on.load() && fs.covered.get(ino, c);
}

void MountFeed::start(fuse_session* se) {
    if (!fs_.c.duct_ext() || fs_.cache_timeout <= 0) return;
    se_ = se;
    thread_ = std::thread([this] { run(); });
    // Wait for the first answer (one round trip), so that what the mount
    // caches from its first lookups on is cached as the feed allows: a
    // mount whose feed started later would keep its first names briefly.
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait_for(g, std::chrono::seconds(kStartWaitSeconds), [this] { return answered_; });
}

void MountFeed::first_answer() {
    std::lock_guard<std::mutex> g(mu_);
    answered_ = true;
    cv_.notify_all();
}

void MountFeed::stop() {
    if (!thread_.joinable()) return;
    fs_.c.cancel_held();
    thread_.join();
}

void MountFeed::run() {
    uint64_t seq = 0;
    for (;;) {
        Rfeed r;
        Fcall f;
        int e = fs_.c.rpc_held(Tfeed{seq}, f);
        if (!e) {
            if (auto* p = std::get_if<Rfeed>(&f.msg)) r = std::move(*p);
            else e = EIO;
        }
        if (e) {
            if (seq == 0) {
                if (verbose()) log_info("mount: the peer has no change feed (%s): short cache timeouts", strerror(e));
            } else if (e != EINTR && !fs_.c.is_lost()) {
                log_error("mount: change feed ended (%s): back to short cache timeouts", strerror(e));
                fs_.feed_on = false;
                drop_all();
            }
            fs_.feed_on = false;
            if (seq == 0) first_answer();
            return;
        }
        std::vector<FeedEvent> evs;
        if (!parse_feed_events(r.events.bytes, evs)) {
            log_error("mount: malformed Rfeed events; dropping every cache");
            evs = {FeedEvent{FeedEvent::Lost, 0, {}}};
        }
        if (seq == 0) {
            fs_.feed_on = true;
            if (verbose()) log_info("mount: change feed on: caching for %g s", fs_.cache_timeout);
            first_answer();
        }
        if (!evs.empty()) apply(evs);
        seq = r.seq;
    }
}

void MountFeed::apply(const std::vector<FeedEvent>& evs) {
    // A batch may name one file many times (a write in many pieces): each
    // inode is invalidated once, after every entry of the batch.
    std::set<uint64_t> dirs, inodes;
    for (const FeedEvent& ev : evs) {
        if (tracing()) log_trace_line("feed: " + format_feed_event(ev));
        if (ev.kind == FeedEvent::Lost) {
            drop_all();
            return;  // everything is dropped: the rest of the batch adds nothing
        }
        uint64_t ino;
        if (!fs_.nodes.ino_of(ev.path, ino)) continue;  // the kernel knows nothing of it
        if (ev.kind == FeedEvent::Entry) {
            {
                std::lock_guard<std::mutex> g(fs_.feed_mu);
                fs_.long_entries.erase({ino, ev.name});
            }
            fuse_lowlevel_notify_inval_entry(se_, ino, ev.name.c_str(), ev.name.size());
            dirs.insert(ino);  // its cached listing (cache_readdir) is stale too
        } else if (ev.kind == FeedEvent::Data) {
            inodes.insert(ino);  // attributes and pages; its xattrs stay known
        } else {
            // What we learned of its xattrs, then its attributes and pages
            // (for a directory: its cached listing).
            fs_.xnone.forget(ino);
            fs_.no_capability.forget(ino);
            fs_.default_acl.forget(ino);
            inodes.insert(ino);
        }
    }
    for (uint64_t d : dirs) inodes.insert(d);
    for (uint64_t i : inodes) fuse_lowlevel_notify_inval_inode(se_, i, 0, 0);
}

void MountFeed::drop_all() {
    fs_.covered.clear();
    fs_.xnone.clear();
    fs_.no_capability.clear();
    fs_.default_acl.clear();
    std::set<std::pair<uint64_t, std::string>> entries;
    {
        std::lock_guard<std::mutex> g(fs_.feed_mu);
        entries.swap(fs_.long_entries);
    }
    for (auto& [parent, name] : entries)
        fuse_lowlevel_notify_inval_entry(se_, parent, name.c_str(), name.size());
    for (uint64_t ino : fs_.nodes.all()) fuse_lowlevel_notify_inval_inode(se_, ino, 0, 0);
}

}  // namespace duct::mnt
