// Mux: routing by type parity and the control frame. A frame the reader
// cannot route (control frame of the wrong size, type 0 with content) is a
// protocol error that ends the channel: framing can no longer be trusted.
#include "mux/mux.h"

#include <algorithm>
#include <chrono>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "proto/messages.h"

namespace duct::mux {

Mux::Mux(Fd in, Fd out, uint32_t max_frame, Sinks sinks, bool trace, wire::WriterLimits limits)
    : max_frame_(max_frame),
      request_msize_(max_frame),
      reply_msize_(max_frame),
      proposed_msize_(max_frame),
      in_(std::move(in)),
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

namespace {
// msize[4] of a Tversion/Rversion frame (right after the 7-byte header);
// 0 if the frame is too short to hold one.
uint32_t version_msize(const std::string& f) {
    if (f.size() < p9::HEADER + 4) return 0;
    const char* p = f.data() + p9::HEADER;
    return uint32_t(uint8_t(p[0])) | uint32_t(uint8_t(p[1])) << 8 | uint32_t(uint8_t(p[2])) << 16 |
           uint32_t(uint8_t(p[3])) << 24;
}
}  // namespace

// Our Rversion fixes what the peer may send our export; our Tversion
// starts a new negotiation for the replies to our mount (version(5): the
// server's answer is at most what we proposed).
void Mux::saw_outbound(const std::string& frame) {
    uint8_t type = uint8_t(frame[4]);
    uint32_t m = version_msize(frame);
    if (type == p9::Rversion::kType && m >= p9::MINMSIZE) {
        request_msize_ = std::min(m, max_frame_);
    } else if (type == p9::Tversion::kType) {
        proposed_msize_ = m >= p9::MINMSIZE ? std::min(m, max_frame_) : max_frame_;
        reply_msize_ = max_frame_;
    }
}

std::string Mux::over_msize(const std::string& frame) {
    uint8_t type = uint8_t(frame[4]);
    bool request = type % 2 == 0;
    uint32_t limit = request ? request_msize_.load() : reply_msize_.load();
    if (frame.size() > limit) {
        const char* name = p9::type_name(type);
        return "peer sent a " + std::string(request ? "request" : "reply") + " (" +
               (name ? std::string(name) : "type " + std::to_string(type)) + ") of " +
               std::to_string(frame.size()) + " bytes, more than the msize of " + std::to_string(limit) +
               (limit == max_frame_ ? " this channel allows" : " negotiated for it");
    }
    // A new negotiation: until our export answers it, the configured limit.
    if (type == p9::Tversion::kType) request_msize_ = max_frame_;
    if (type == p9::Rversion::kType) {
        uint32_t m = version_msize(frame);
        if (m >= p9::MINMSIZE) reply_msize_ = std::min(m, proposed_msize_.load());
    }
    return "";
}

bool Mux::send(std::string frame) {
    uint8_t type = frame.size() > 4 ? uint8_t(frame[4]) : 0;
    if (frame.size() > 4) saw_outbound(frame);
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
        if (frame.size() < p9::HEADER) {
            if (!ended_.exchange(true) && sinks_.end)
                sinks_.end(false, "peer sent a frame of " + std::to_string(frame.size()) +
                                      " bytes (a 9P message has at least 7: size[4] type[1] tag[2])");
            return;
        }
        if (std::string why = over_msize(frame); !why.empty()) {
            if (!ended_.exchange(true) && sinks_.end) sinks_.end(false, why);
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
