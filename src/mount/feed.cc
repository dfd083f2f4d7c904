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
    bool watched = fs.feed_on.load() && !(a.valid & GETATTR_DUCT_UNWATCHED);
    if (S_ISDIR(a.mode)) {
        std::lock_guard<std::mutex> g(fs.feed_mu);
        if (watched) fs.watched_dirs.insert(ino);
        else fs.watched_dirs.erase(ino);
    }
    return watched && fs.c.feed_gen() == gen0 ? fs.cache_timeout : fs.timeout;
}

void entry_times(Fs& fs, fuse_ino_t parent, const char* name, const Rgetattr& a, uint64_t gen0,
                 fuse_entry_param& e) {
    e.attr_timeout = attr_time(fs, e.ino, a, gen0);
    e.entry_timeout = fs.timeout;
    if (!fs.feed_on.load() || fs.c.feed_gen() != gen0) return;
    std::lock_guard<std::mutex> g(fs.feed_mu);
    if (!fs.watched_dirs.count(parent) || fs.long_entries.size() >= kMaxLongEntries) return;
    fs.long_entries.emplace(parent, name);
    e.entry_timeout = fs.cache_timeout;
}

void MountFeed::start(fuse_session* se) {
    if (!fs_.c.duct_ext() || fs_.cache_timeout <= 0) return;
    se_ = se;
    thread_ = std::thread([this] { run(); });
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
        }
        if (!evs.empty()) apply(evs);
        seq = r.seq;
    }
}

void MountFeed::apply(const std::vector<FeedEvent>& evs) {
    for (const FeedEvent& ev : evs) {
        if (tracing()) log_trace_line("feed: " + format_feed_event(ev));
        if (ev.kind == FeedEvent::Lost) {
            drop_all();
            continue;
        }
        uint64_t ino;
        if (!fs_.nodes.ino_of(ev.path, ino)) continue;  // the kernel knows nothing of it
        if (ev.kind == FeedEvent::Entry) {
            {
                std::lock_guard<std::mutex> g(fs_.feed_mu);
                fs_.long_entries.erase({ino, ev.name});
            }
            fuse_lowlevel_notify_inval_entry(se_, ino, ev.name.c_str(), ev.name.size());
        } else {
            // Attributes, pages, and for a directory its cached listing.
            fuse_lowlevel_notify_inval_inode(se_, ino, 0, 0);
        }
    }
}

void MountFeed::drop_all() {
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
