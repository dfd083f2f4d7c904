// FrameWriter: the channel's single writer. Every part hands it whole
// frames; one thread writes them in order with writev, so two frames never
// interleave and no caller blocks on a slow channel while holding a lock.
// Memory is bounded: send() waits while more than `max_queued` bytes are
// queued (flow control against a flood of writes).
// Threads: send() from any thread; one writer thread inside.
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

class FrameWriter {
public:
    // on_error is called once (from the writer thread) if writing fails.
    // Owns `fd` (the write side of the channel; a dup when it is also the
    // read side, so closing it never disturbs the reader).
    FrameWriter(Fd fd, std::function<void(const std::string&)> on_error,
                size_t max_queued = 64u << 20);
    ~FrameWriter();
    FrameWriter(const FrameWriter&) = delete;
    FrameWriter& operator=(const FrameWriter&) = delete;

    // Queues a frame. False if the channel is closed or broken (the frame is
    // dropped; callers waiting on a reply learn of it from the channel end).
    bool send(std::string frame);
    // Writes what is queued, then ends our direction of the channel:
    // shutdown(SHUT_WR) on a socket, close() otherwise. Blocks until done.
    void close_write();
    // close_write, but gives up after `limit` (a peer that no longer reads):
    // then what is left is dropped. True if everything was written.
    bool close_write_within(std::chrono::milliseconds limit);
    // Stops at once, dropping what is queued (the channel is gone).
    void abort();
    uint64_t frames() const { return frames_; }
    uint64_t bytes() const { return bytes_; }

private:
    void run();

    Fd fd_;
    std::function<void(const std::string&)> on_error_;
    size_t max_queued_;
    std::mutex mu_;                 // guards q_, queued_, closing_, broken_
    std::condition_variable cv_;    // writer waits for work
    std::condition_variable space_; // senders wait for room
    std::condition_variable done_cv_;  // close_write_within waits for done_
    std::deque<std::string> q_;
    size_t queued_ = 0;
    bool closing_ = false, broken_ = false, done_ = false;
    std::atomic<uint64_t> frames_{0}, bytes_{0};
    std::thread thread_;
};

}  // namespace duct::wire
