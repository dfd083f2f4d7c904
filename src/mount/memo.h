// InodeMemo: "what we learned about inode N, believed until T" — a small
// per-inode memo that lets an op skip a round trip for as long as the
// attributes themselves are trusted (Fs::timeout). Used for "this directory
// has a default ACL" (create_mode.cc) and "this file has no
// security.capability" (ops_xattr_lock.cc).
// Threads: any FUSE worker; mu_ is a leaf lock, never held across an rpc.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace duct::mnt {

template <class V>
class InodeMemo {
public:
    using Clock = std::chrono::steady_clock;
    // The value remembered for ino, if still believed.
    bool get(uint64_t ino, V& v) {
        std::lock_guard<std::mutex> g(mu_);
        auto it = m_.find(ino);
        if (it == m_.end() || it->second.second <= Clock::now()) return false;
        v = it->second.first;
        return true;
    }
    void put(uint64_t ino, V v, double seconds) {
        auto now = Clock::now();
        std::lock_guard<std::mutex> g(mu_);
        if (m_.size() > next_prune_) {  // bounded: drop what has expired
            for (auto it = m_.begin(); it != m_.end();)
                it = it->second.second <= now ? m_.erase(it) : std::next(it);
            // Long-believed entries (the change feed's hour) may all still
            // hold: scan again only when the map has doubled, or every put
            // past kPrune would walk the whole map (100,000 names listed
            // took minutes).
            // A memo only saves round trips: past kMax, forget them all
            // rather than grow (memory stays bounded over a long session).
            if (m_.size() > kMax) m_.clear();
            next_prune_ = std::max(kPrune, 2 * m_.size());
        }
        m_[ino] = {v, now + std::chrono::milliseconds(long(seconds * 1000))};
    }
    void forget(uint64_t ino) {
        std::lock_guard<std::mutex> g(mu_);
        m_.erase(ino);
    }
    void clear() {  // the change feed lost events (mount/feed.h)
        std::lock_guard<std::mutex> g(mu_);
        m_.clear();
    }

private:
    static constexpr size_t kPrune = 65536;
    static constexpr size_t kMax = 1u << 19;
    size_t next_prune_ = kPrune;  // mu_
    std::mutex mu_;
    std::unordered_map<uint64_t, std::pair<V, Clock::time_point>> m_;
};

}  // namespace duct::mnt
