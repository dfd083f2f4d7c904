// FrameWriter: batches queued frames into one writev (up to 64 iovecs) so
// many small replies cost one syscall.
#include "wire/frame_writer.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace duct::wire {

FrameWriter::FrameWriter(Fd fd, std::function<void(const std::string&)> on_error, size_t max_queued)
    : fd_(std::move(fd)), on_error_(std::move(on_error)), max_queued_(max_queued) {
    thread_ = std::thread([this] { run(); });
}

FrameWriter::~FrameWriter() {
    abort();
    if (thread_.joinable()) thread_.join();
}

bool FrameWriter::send(std::string frame) {
    std::unique_lock<std::mutex> g(mu_);
    // A single frame larger than the budget still goes (alone).
    space_.wait(g, [&] { return closing_ || broken_ || queued_ == 0 || queued_ + frame.size() <= max_queued_; });
    if (closing_ || broken_) return false;
    queued_ += frame.size();
    q_.push_back(std::move(frame));
    cv_.notify_one();
    return true;
}

void FrameWriter::close_write() {
    {
        std::lock_guard<std::mutex> g(mu_);
        closing_ = true;
    }
    cv_.notify_all();
    space_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool FrameWriter::close_write_within(std::chrono::milliseconds limit) {
    bool drained;
    {
        std::unique_lock<std::mutex> g(mu_);
        closing_ = true;
        cv_.notify_all();
        space_.notify_all();
        drained = done_cv_.wait_for(g, limit, [&] { return done_ || broken_; }) && done_;
    }
    if (!drained) {
        abort();
        // A writer blocked in writev on a socket nobody reads wakes up here.
        ::shutdown(fd_.get(), SHUT_WR);
    }
    if (thread_.joinable()) thread_.join();
    return drained;
}

void FrameWriter::abort() {
    {
        std::lock_guard<std::mutex> g(mu_);
        broken_ = true;
        q_.clear();
        queued_ = 0;
    }
    cv_.notify_all();
    space_.notify_all();
}

void FrameWriter::run() {
    std::vector<std::string> batch;
    for (;;) {
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return broken_ || closing_ || !q_.empty(); });
            if (broken_) return;
            if (q_.empty() && closing_) break;
            while (!q_.empty() && batch.size() < 64) {
                batch.push_back(std::move(q_.front()));
                q_.pop_front();
            }
        }
        std::vector<iovec> iov;
        size_t total = 0;
        for (auto& f : batch) {
            iov.push_back({f.data(), f.size()});
            total += f.size();
        }
        size_t idx = 0;
        while (idx < iov.size()) {
            ssize_t n = ::writev(fd_.get(), &iov[idx], int(iov.size() - idx));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                std::string e = std::string("writing the channel: ") + std::strerror(errno);
                {
                    std::lock_guard<std::mutex> g(mu_);
                    broken_ = true;
                    q_.clear();
                    queued_ = 0;
                }
                space_.notify_all();
                if (on_error_) on_error_(e);
                return;
            }
            size_t left = size_t(n);
            while (idx < iov.size() && left >= iov[idx].iov_len) left -= iov[idx++].iov_len;
            if (idx < iov.size()) {
                iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
                iov[idx].iov_len -= left;
            }
        }
        frames_ += batch.size();
        bytes_ += total;
        {
            std::lock_guard<std::mutex> g(mu_);
            queued_ -= total;
        }
        space_.notify_all();
        batch.clear();
    }
    // Drained and closing: end our direction so the peer sees EOF.
    struct stat st;
    if (fstat(fd_.get(), &st) == 0 && S_ISSOCK(st.st_mode)) ::shutdown(fd_.get(), SHUT_WR);
    fd_.reset();
    {
        std::lock_guard<std::mutex> g(mu_);
        done_ = true;
    }
    done_cv_.notify_all();
}

}  // namespace duct::wire
