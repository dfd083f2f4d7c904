// FeedLog: what the last Rfeed batches named, by feed generation, so that
// an answer whose request crossed a batch on the channel is cached for long
// unless that batch was about it (mount/feed.h). Without it every answer in
// flight while any file anywhere changed (a build writing, a log growing)
// would get the short timeout, and a directory just created would never be
// cached on its first lookup.
//
// Threads: record() on the channel's reader thread (Client::deliver, before
// any later reply is handed over); crossed_*() from FUSE workers. mu_ is a
// leaf lock.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "proto/feed.h"

namespace duct::mnt {

class FeedLog {
public:
    uint64_t gen() const { return gen_.load(std::memory_order_acquire); }

    // An Rfeed arrived (ok: its events parsed). Bumps the generation.
    void record(bool ok, const std::vector<p9::FeedEvent>& evs) {
        Batch b;
        b.lost = !ok;
        for (const auto& e : evs) {
            if (e.kind == p9::FeedEvent::Lost) b.lost = true;
            else if (e.kind == p9::FeedEvent::Inode || e.kind == p9::FeedEvent::Data) b.paths.push_back(e.path);
            else b.names.push_back(e.name);
        }
        std::lock_guard<std::mutex> g(mu_);
        b.gen = gen_.load() + 1;
        batches_.push_back(std::move(b));
        if (batches_.size() > kKept) batches_.pop_front();
        gen_.store(batches_.back().gen, std::memory_order_release);
    }

    // Did a batch after gen0 say the attributes of qid path qpath changed
    // (or that events were lost)?
    bool crossed_attr(uint64_t gen0, uint64_t qpath) const {
        return crossed(gen0, [&](const Batch& b) {
            return std::find(b.paths.begin(), b.paths.end(), qpath) != b.paths.end();
        });
    }
    // ... or that a name `name` changed in some directory (by name alone:
    // cheaper than knowing the directory, and only ever more cautious).
    bool crossed_entry(uint64_t gen0, const std::string& name) const {
        return crossed(gen0, [&](const Batch& b) {
            return std::find(b.names.begin(), b.names.end(), name) != b.names.end();
        });
    }

private:
    struct Batch {
        uint64_t gen = 0;
        bool lost = false;
        std::vector<uint64_t> paths;
        std::vector<std::string> names;
    };
    // Older answers than this many batches back count as crossed.
    static constexpr size_t kKept = 256;

    template <class F>
    bool crossed(uint64_t gen0, F about) const {
        if (gen() == gen0) return false;  // the common case: no batch since
        std::lock_guard<std::mutex> g(mu_);
        if (batches_.empty() || batches_.front().gen > gen0 + 1) return true;  // forgotten
        for (const Batch& b : batches_)
            if (b.gen > gen0 && (b.lost || about(b))) return true;
        return false;
    }

    std::atomic<uint64_t> gen_{0};
    mutable std::mutex mu_;
    std::deque<Batch> batches_;
};

}  // namespace duct::mnt
