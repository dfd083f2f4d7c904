// link.h — one direction of a modelled network link, for the benchmark's
// relay: bytes read from one fd come out of another after the link's
// one-way delay, no faster than its rate, in order and unchanged.
//
// Threads: each Link runs two of its own. The reader takes what the source
// has (up to one packet), stamps the time its last byte would leave a link
// of this rate (the link serialises: a 1 MiB frame at 200 Mbit/s occupies it
// 42 ms) plus the delay, and queues it; the writer sleeps until that time and
// writes. The reader stops reading while more than `queue_bytes` wait for
// the link (a real link's bounded queue; the sender then blocks, as TCP's
// flow control makes it), so what the link holds is at most the queue plus
// what is on the wire (rate x delay). At EOF on the source the writer
// closes the destination once everything before it was delivered.
//
// Faults (fault.h, for the fault tests): an optional Injector edits what the
// reader queues. At a cut the reader queues a cut mark and closes the
// source; the writer, once it delivered everything before the mark, closes
// the destination and calls on_cut (the relay then cut()s both Links: a
// dropped connection). At a stall the reader stops reading but keeps its
// fds until cut(). The fds are non-blocking and every wait also watches an
// eventfd, so cut() ends a thread blocked on a full or empty pipe at once.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fault.h"

namespace bench {

struct LinkParams {
    double one_way_ms = 0;      // propagation delay of this direction
    double rate_mbit = 0;       // 0: no limit (only the delay applies)
    size_t queue_bytes = 256 << 10;  // bytes waiting for the link, at most
};

class Link {
public:
    // Takes ownership of both fds (closes them when done).
    Link(int src, int dst, LinkParams p, std::unique_ptr<Injector> faults = nullptr,
         std::function<void()> on_cut = {});
    ~Link();  // joins the threads
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    bool done() const { return done_.load(); }  // both threads finished
    bool stalled() const { return stalled_.load(); }  // a stall fault fired
    // Drops the connection this way: both threads close their fd and end,
    // whatever is still queued is lost. Any thread; idempotent.
    void cut();
    bool was_cut() const { return cut_.load(); }
    uint64_t bytes() const { return bytes_.load(); }  // delivered so far

private:
    using Clock = std::chrono::steady_clock;
    struct Packet {
        Clock::time_point due;  // when its last byte reaches the far end
        std::string data;       // empty: end of stream (or the cut mark)
        bool cut = false;       // the cut mark: close and call on_cut_
    };
    // Waits until fd is ready for `events` or cut() was called (false).
    bool wait_fd(int fd, short events);
    void read_loop();
    void write_loop();

    int src_, dst_;
    LinkParams p_;
    double bytes_per_ns_;       // 0: unlimited
    size_t packet_max_;
    Clock::duration delay_;
    Clock::time_point link_free_;  // reader only: when the link is next idle

    std::mutex mu_;  // guards q_, queued_; lock order: only this one
    std::condition_variable cv_;
    std::deque<Packet> q_;
    size_t queued_ = 0;  // bytes in q_ (waiting for the link or on the wire)
    std::atomic<uint64_t> bytes_{0};
    std::atomic<int> running_{2};
    std::atomic<bool> done_{false};
    std::unique_ptr<Injector> faults_;  // reader only
    std::function<void()> on_cut_;
    int wake_ = -1;                     // eventfd, readable once cut
    std::atomic<bool> cut_{false}, stalled_{false};
    std::thread reader_, writer_;
};

}  // namespace bench
