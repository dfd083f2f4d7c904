// FrameWriter: the channel's single writer. Every part hands it whole
// frames; one thread writes them in order, so two frames never interleave
// and no caller blocks on a slow channel while holding a lock.
//
// Two kinds of frame (issue 9, "both ducts deadlock with both directions
// busy"): the thread that reads the channel must never wait for the thread
// that writes it, or two ducts whose writers are both full each wait for
// the other to read.
//  - kReply frames (our export's answers, the control frame) never wait.
//    What they can queue is bounded by the requests the export accepted,
//    which a peer that reads its replies keeps small; a peer that sends
//    requests but never reads the answers is cut off instead (Limits).
//  - requests (the default: our mount's T-messages, sent from FUSE or relay
//    threads, never from the reader) wait while more than `budget` bytes
//    are queued, or more than the link drains in kQueueTime (a slow link
//    keeps less queued): flow control against a flood of writes. Small
//    requests (metadata) do not wait for bulk data to drain.
//
// Two lanes (issue 10, "metadata never waits behind bulk data"): frames up
// to kSmall bytes go ahead of larger ones (Twrite and Rread payloads), and
// each writev takes up to kSmallQuantum of small frames, then up to
// kBulkQuantum of large ones, so both make progress. 9P lets replies and
// concurrent requests arrive in any order, except around Tflush and
// Tversion: a kOrdered frame (Tflush, Rflush, Tversion, Rversion, the
// control frame) never overtakes a frame queued before it, so an Rflush
// still follows the reply it waited for and no reply of an old session
// follows a later Rversion.
//
// The fd is written without ever blocking (a socket with MSG_DONTWAIT, any
// other fd with O_NONBLOCK set on it for the writer's life and restored
// after), and the writer thread waits in poll() beside an eventfd, so
// abort() and close_write_within() always end it at once, even on a pipe
// whose reader has stopped reading (where shutdown(2) does nothing).
// O_NONBLOCK belongs to the open file description: when the read side is
// the same one (a tty used both ways), FrameReader copes with EAGAIN.
//
// Threads: send() from any thread; one writer thread inside; on_error runs
// on the writer thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.h"

namespace duct::wire {

struct WriterLimits {
    // Requests wait while more than this many bytes are queued. 0: the
    // default, 64 MiB, or DUCT_WRITER_BUDGET from the environment (bytes,
    // or with a K or M suffix; tests make it small to reach a full channel
    // quickly).
    size_t budget = 0;
    // A peer that has read nothing for this long while more than `budget`
    // bytes of replies wait for it does not read its replies: the channel
    // ends (on_error). 0: never for that reason.
    std::chrono::milliseconds stall{0};
    // Queued replies never exceed this however fast the peer reads:
    // the channel ends instead. 0: max(4 x budget, 256 MiB).
    size_t max_replies = 0;
};

// The budget DUCT_WRITER_BUDGET names, or 64 MiB.
size_t writer_budget_from_env();

class FrameWriter {
public:
    enum Flags : unsigned {
        kRequest = 0,  // waits for room (the default)
        kReply = 1,    // never waits; counted as reply backlog
        kOrdered = 2,  // never overtakes a frame queued before it
    };
    static constexpr size_t kSmall = 8 << 10;
    static constexpr size_t kSmallQuantum = 64 << 10, kBulkQuantum = 256 << 10;
    static constexpr std::chrono::milliseconds kQueueTime{500};
    static constexpr size_t kMinRoom = size_t(4) << 20;  // enough to keep any link busy

    // on_error is called once (from the writer thread) if writing fails or
    // the peer stops reading its replies. Owns `fd` (the write side of the
    // channel; a dup when it is also the read side, so closing it never
    // disturbs the reader).
    FrameWriter(Fd fd, std::function<void(const std::string&)> on_error, WriterLimits limits = {});
    ~FrameWriter();
    FrameWriter(const FrameWriter&) = delete;
    FrameWriter& operator=(const FrameWriter&) = delete;

    // Queues a frame. False if the channel is closed or broken (the frame is
    // dropped; callers waiting on a reply learn of it from the channel end).
    // A single request larger than the budget still goes (alone).
    bool send(std::string frame, unsigned flags = kRequest);
    // Writes what is queued, then ends our direction of the channel:
    // shutdown(SHUT_WR) on a socket, close() otherwise. Blocks until done.
    void close_write();
    // close_write, but gives up after `limit` (a peer that no longer reads):
    // then what is left is dropped. True if everything was written.
    bool close_write_within(std::chrono::milliseconds limit);
    // Stops at once, dropping what is queued (the channel is gone); the
    // writer thread ends promptly whatever the fd is doing.
    void abort();
    // How long the writer has had bytes to write and could write none
    // (the peer is not reading); zero while it makes progress or is idle.
    std::chrono::milliseconds stalled_for() const;
    size_t queued() const;
    uint64_t frames() const { return frames_; }
    uint64_t bytes() const { return bytes_; }
    size_t budget() const { return lim_.budget; }

private:
    struct Item {
        std::string data;
        bool reply, ordered;
        uint64_t seq;  // queue order across both lanes
    };
    void take_batch_locked(std::deque<Item>& batch);
    size_t room_locked() const;  // the budget, shrunk on a slow link
    void run();
    bool write_batch(std::deque<Item>& batch);  // false: stopped or broken
    void fail(const std::string& why);
    void break_locked();
    std::string unread_locked() const;
    void wake();

    Fd fd_;
    Fd wake_;  // eventfd: abort(), close and overflow wake the writer's poll
    bool sock_ = false;
    std::function<void(const std::string&)> on_error_;
    WriterLimits lim_;
    mutable std::mutex mu_;         // guards the lanes, the counts, rate_, the flags
    std::condition_variable cv_;    // writer waits for work
    std::condition_variable space_; // senders of requests wait for room
    std::condition_variable done_cv_;  // close_write_within waits for done_
    std::deque<Item> small_, bulk_;  // the lanes
    uint64_t seq_ = 0;
    double rate_ = 0;     // bytes/s the link took while the writer was busy (0: unknown)
    size_t queued_ = 0;   // bytes in the lanes and in the batch being written
    size_t small_queued_ = 0;
    size_t replies_ = 0;  // of which replies
    bool closing_ = false, broken_ = false, done_ = false, overflow_ = false;
    std::atomic<int64_t> stuck_since_{0};  // steady ns of the first EAGAIN since progress; 0 = not stuck
    std::atomic<uint64_t> frames_{0}, bytes_{0};
    std::thread thread_;
};

}  // namespace duct::wire
