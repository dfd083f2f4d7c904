// Mux: routing by type parity and the control frame. A frame the reader
// cannot route (control frame of the wrong size, type 0 with content) is a
// protocol error that ends the channel: framing can no longer be trusted.
#include "mux/mux.h"

#include <chrono>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "proto/messages.h"

namespace duct::mux {

Mux::Mux(Fd in, Fd out, uint32_t max_frame, Sinks sinks, bool trace, wire::WriterLimits limits)
    : in_(std::move(in)),
      wake_(eventfd(0, EFD_CLOEXEC)),
      sinks_(std::move(sinks)),
      trace_(trace),
      reader_(in_.get(), max_frame, wake_.get()),
      writer_(std::move(out), [this](const std::string& why) {
          // The writer failed: the channel is broken both ways.
          if (!ended_.exchange(true) && sinks_.end) sinks_.end(false, why);
      }, limits) {}

Mux::~Mux() {
    writer_.abort();
    stop();
}

static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void Mux::start() {
    last_in_ = now_ns();
    thread_ = std::thread([this] { read_loop(); });
}

void Mux::abort() {
    writer_.abort();
    // in_ and the writer's fd are the same socket when the channel is one
    // (shutdown of a pipe or tty fails harmlessly with ENOTSOCK).
    ::shutdown(in_.get(), SHUT_RDWR);
}

bool Mux::send(std::string frame) {
    uint8_t type = frame.size() > 4 ? uint8_t(frame[4]) : 0;
    unsigned flags = type & 1 ? wire::FrameWriter::kReply : wire::FrameWriter::kRequest;
    // The only frames 9P orders against others (flush(5), version(5)).
    if (type == p9::Tflush::kType || type == p9::Rflush::kType || type == p9::Tversion::kType ||
        type == p9::Rversion::kType)
        flags |= wire::FrameWriter::kOrdered;
    return writer_.send(std::move(frame), flags);
}

void Mux::send_close_frame() {
    if (trace_) log_trace_line("-> close frame (our mount has closed)");
    // From the monitor, which must not wait on a full channel either.
    writer_.send(kCloseFrame, wire::FrameWriter::kReply | wire::FrameWriter::kOrdered);
}

void Mux::close_write() { writer_.close_write(); }

bool Mux::close_write_within(std::chrono::milliseconds limit) { return writer_.close_write_within(limit); }

void Mux::stop() {
    uint64_t one = 1;
    if (wake_) (void)!::write(wake_.get(), &one, sizeof one);
    if (thread_.joinable()) {
        if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
        else thread_.join();
    }
}

void Mux::fail(const std::string& why) {
    failed_ = true;
    if (!ended_.exchange(true) && sinks_.end) sinks_.end(false, why);
}

MuxStats Mux::stats() const {
    MuxStats s;
    s.frames_in = frames_in_;
    s.bytes_in = reader_.bytes();
    s.frames_out = writer_.frames();
    s.bytes_out = writer_.bytes();
    s.requests_in = requests_in_;
    s.replies_in = replies_in_;
    return s;
}

void Mux::read_loop() {
    std::string frame, err;
    for (;;) {
        auto st = reader_.next(frame, err);
        if (st == wire::FrameReader::Status::Stopped) return;
        if (st == wire::FrameReader::Status::Eof) {
            if (!ended_.exchange(true) && sinks_.end) sinks_.end(true, "");
            return;
        }
        if (st == wire::FrameReader::Status::Error) {
            if (!ended_.exchange(true) && sinks_.end) sinks_.end(false, err);
            return;
        }
        frames_in_++;
        last_in_.store(now_ns(), std::memory_order_relaxed);
        uint8_t type = uint8_t(frame[4]);
        if (frame.size() == 5) {
            if (type == 0) {
                if (trace_) log_trace_line("<- close frame (peer's mount has closed)");
                if (sinks_.close) sinks_.close();
                continue;
            }
            if (!ended_.exchange(true) && sinks_.end)
                sinks_.end(false, "peer sent a 5-byte frame of type " + std::to_string(type) +
                                      " (only type 0, the close frame, is that short)");
            return;
        }
        if (frame.size() < 7) {
            if (!ended_.exchange(true) && sinks_.end)
                sinks_.end(false, "peer sent a frame of " + std::to_string(frame.size()) + " bytes");
            return;
        }
        if (type % 2 == 0) {
            requests_in_++;
            sinks_.request(std::move(frame));
        } else {
            replies_in_++;
            sinks_.reply(std::move(frame));
        }
        if (failed_) return;
        frame = std::string();
    }
}

}  // namespace duct::mux
