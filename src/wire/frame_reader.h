// FrameReader: cuts the inbound byte stream into 9P frames (size[4] first,
// counting itself). It trusts no size: below 5 or above the cap is a
// protocol error that ends the channel, since framing is lost after it.
// Used by exactly one thread (the mux reader); blocks in poll(2)/read(2).
#pragma once
#include <cstdint>
#include <string>

namespace duct::wire {

class FrameReader {
public:
    // wake_fd (optional, e.g. an eventfd): when it becomes readable the
    // reader stops as if the channel had ended (Status::Stopped).
    FrameReader(int fd, uint32_t max_frame, int wake_fd = -1) : fd_(fd), max_(max_frame), wake_(wake_fd) {}

    enum class Status { Frame, Eof, Error, Stopped };
    // Reads the next whole frame into `frame`. On Error, `err` says why
    // (a read error or a bad size); on Eof the channel ended cleanly
    // between frames (EOF inside a frame is an Error).
    Status next(std::string& frame, std::string& err);
    uint64_t bytes() const { return bytes_; }

private:
    bool fill(size_t want, std::string& err, bool& eof);

    int fd_;
    uint32_t max_;
    int wake_;
    bool stopped_ = false;
    std::string buf_;   // bytes read but not yet returned: buf_[pos_..]
    size_t pos_ = 0;
    uint64_t bytes_ = 0;
};

}  // namespace duct::wire
