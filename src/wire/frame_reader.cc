// FrameReader: buffered reads (one read(2) usually brings many small
// frames); large frames are read straight into their own string. Copes
// with a non-blocking fd (EAGAIN -> poll).
#include "wire/frame_reader.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <unistd.h>

namespace duct::wire {

namespace {
constexpr size_t kChunk = 256 * 1024;
uint32_t le32(const char* p) {
    return uint32_t(uint8_t(p[0])) | uint32_t(uint8_t(p[1])) << 8 | uint32_t(uint8_t(p[2])) << 16 |
           uint32_t(uint8_t(p[3])) << 24;
}
}  // namespace

// Ensures at least `want` unread bytes are buffered.
bool FrameReader::fill(size_t want, std::string& err, bool& eof) {
    eof = false;
    if (pos_ > 0 && (pos_ >= buf_.size() / 2 || buf_.size() - pos_ < want)) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    bool again = false;
    while (buf_.size() - pos_ < want) {
        size_t have = buf_.size();
        size_t room = want - (have - pos_);
        if (room < kChunk) room = kChunk;
        if (wake_ >= 0 || again) {
            pollfd p[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
            int r = ::poll(p, wake_ >= 0 ? 2 : 1, -1);
            if (r < 0 && errno == EINTR) continue;
            if (r > 0 && wake_ >= 0 && (p[1].revents & POLLIN)) {
                stopped_ = true;
                err = "stopped";
                return false;
            }
        }
        buf_.resize(have + room);
        ssize_t n = ::read(fd_, buf_.data() + have, room);
        // EAGAIN: the fd is non-blocking (our writer set O_NONBLOCK on an
        // open file both sides share, or it came so): wait in poll.
        again = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (n < 0 && (errno == EINTR || again)) {
            buf_.resize(have);
            continue;
        }
        if (n < 0) {
            int e = errno;
            buf_.resize(have);
            err = std::string("reading the channel: ") + std::strerror(e);
            return false;
        }
        buf_.resize(have + size_t(n));
        if (n == 0) {
            eof = true;
            return false;
        }
        bytes_ += uint64_t(n);
    }
    return true;
}

FrameReader::Status FrameReader::next(std::string& frame, std::string& err) {
    bool eof = false;
    if (!fill(4, err, eof)) {
        if (stopped_) return Status::Stopped;
        if (eof && buf_.size() == pos_) return Status::Eof;
        if (eof) err = "channel ended inside a frame header";
        return Status::Error;
    }
    uint32_t size = le32(buf_.data() + pos_);
    if (size < 5) {
        err = "peer sent a frame of size " + std::to_string(size) + " (smaller than any 9P message)";
        return Status::Error;
    }
    if (size > max_) {
        err = "peer sent a frame of " + std::to_string(size) + " bytes, more than the " +
              std::to_string(max_) + " this channel allows";
        return Status::Error;
    }
    if (!fill(size, err, eof)) {
        if (stopped_) return Status::Stopped;
        if (eof) err = "channel ended inside a frame (" + std::to_string(buf_.size() - pos_) + " of " +
                       std::to_string(size) + " bytes)";
        return Status::Error;
    }
    frame.assign(buf_, pos_, size);
    pos_ += size;
    return Status::Frame;
}

}  // namespace duct::wire
