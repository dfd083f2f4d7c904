// Mux: the one reader of the channel and the front of its one writer.
// Inbound frames are routed by the parity of their type, as the original
// duct does: even (T-messages, requests from the peer's mount) to our
// export, odd (R-messages, replies to our mount) to our mount. The 5-byte
// frame `05 00 00 00 00` is the control frame: "my mount has closed".
//
// Threads: start() spawns the reader thread, which calls the sinks; sinks
// must not block on the disk or on FUSE. send() is callable from any thread:
// a reply (odd type: our export answering) and the control frame never
// wait for room in the writer, so the reader thread, which makes some of
// them, never waits for the writer; a request (even type: our mount asking)
// waits while the writer's budget is full (wire/frame_writer.h).
// on_end runs once on the reader thread when the channel ends (EOF or a
// framing error); the writer failing also ends the channel.
// Frames longer than the msize negotiated for their direction end the
// channel (over_msize below), as do frames too short for a 9P header.
// last_in() is when the last whole frame arrived (any type): uplink's
// watchdog compares it with when our mount last asked for something.
#pragma once
#include <chrono>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/fd.h"
#include "wire/frame_reader.h"
#include "wire/frame_writer.h"

namespace duct::mux {

// The control frame: size 5, type 0.
inline const std::string kCloseFrame("\x05\x00\x00\x00\x00", 5);

struct Sinks {
    std::function<void(std::string)> request;  // even type: to the export
    std::function<void(std::string)> reply;    // odd type: to the mount
    std::function<void()> close;               // peer's mount closed
    // The channel ended; clean = EOF between frames, else `why` says what broke.
    std::function<void(bool clean, const std::string& why)> end;
};

struct MuxStats {
    uint64_t frames_in = 0, bytes_in = 0, frames_out = 0, bytes_out = 0, requests_in = 0, replies_in = 0;
};

class Mux {
public:
    Mux(Fd in, Fd out, uint32_t max_frame, Sinks sinks, bool trace, wire::WriterLimits limits = {});
    ~Mux();
    void start();
    // Routes by parity: a reply never waits, a request waits for room.
    bool send(std::string frame);
    void send_close_frame();
    // Flush and end our write direction (peer sees EOF). Blocks.
    void close_write();
    // The same, bounded: used when the peer has closed its side, so replies
    // to what it sent last still reach it if it is still reading.
    bool close_write_within(std::chrono::milliseconds limit);
    // Stop reading: wakes the reader (shutdown of the read side) and joins it.
    void stop();
    // The channel is declared dead (silent peer): drop what is queued and
    // stop writing (the writer never blocks in write(2), so this is prompt
    // on any fd); on a socket also shut it down, so the peer sees the end.
    void abort();
    // steady_clock time, in ns since its epoch, of the last inbound frame
    // (or of start() while none has arrived).
    int64_t last_in() const { return last_in_.load(std::memory_order_relaxed); }
    // How long the writer has had bytes for the peer and could write none.
    std::chrono::milliseconds stalled_for() const { return writer_.stalled_for(); }
    MuxStats stats() const;
    // A sink found a frame the protocol has no answer for (an R-message
    // when nothing of ours is outstanding): the channel ends with `why`
    // (on_end runs once, unclean) and the reader reads no further. Called
    // from a sink, on the reader thread.
    void fail(const std::string& why);

private:
    void read_loop();
    // The msize negotiated in each direction (version(5)), or max_frame
    // while none is: inbound requests may not exceed what our export's
    // Rversion granted, inbound replies what the peer's Rversion granted
    // our mount. Watched here, where both Rversions pass, so a frame beyond
    // them ends the channel before any sink sees it. (The reader still
    // allocates at most max_frame for any frame: wire/frame_reader.h.)
    // Return the reason, "" if the frame fits.
    std::string over_msize(const std::string& frame);
    void saw_outbound(const std::string& frame);

    const uint32_t max_frame_;
    std::atomic<uint32_t> request_msize_, reply_msize_, proposed_msize_;

    Fd in_;
    Fd wake_;  // eventfd: stop() makes the reader return
    Sinks sinks_;
    bool trace_;
    wire::FrameReader reader_;
    wire::FrameWriter writer_;
    std::thread thread_;
    std::atomic<bool> ended_{false};
    std::atomic<bool> failed_{false};  // fail() was called: the reader stops
    std::atomic<uint64_t> frames_in_{0}, requests_in_{0}, replies_in_{0};
    std::atomic<int64_t> last_in_{0};
};

}  // namespace duct::mux
