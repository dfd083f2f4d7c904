// FrameWriter: batches queued frames into one writev (up to 64 iovecs) so
// many small replies cost one syscall; never blocks in the write itself
// (EAGAIN -> poll on the fd and the wake-up eventfd).
#include "wire/frame_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

namespace duct::wire {

namespace {
constexpr size_t kDefaultBudget = size_t(64) << 20;
constexpr size_t kMinMaxReplies = size_t(256) << 20;
constexpr size_t kBatch = 64;

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
double mib(size_t n) { return double(n) / double(1 << 20); }
}  // namespace

size_t writer_budget_from_env() {
    const char* v = getenv("DUCT_WRITER_BUDGET");
    if (!v || !*v) return kDefaultBudget;
    char* end = nullptr;
    unsigned long long n = strtoull(v, &end, 10);
    if (end && (*end == 'k' || *end == 'K')) n <<= 10;
    if (end && (*end == 'm' || *end == 'M')) n <<= 20;
    // Below one frame header nothing could ever queue; keep it sane.
    return n >= 4096 ? size_t(n) : kDefaultBudget;
}

FrameWriter::FrameWriter(Fd fd, std::function<void(const std::string&)> on_error, WriterLimits limits)
    : fd_(std::move(fd)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), on_error_(std::move(on_error)), lim_(limits) {
    if (lim_.budget == 0) lim_.budget = writer_budget_from_env();
    if (lim_.max_replies == 0) lim_.max_replies = std::max(4 * lim_.budget, kMinMaxReplies);
    struct stat st;
    sock_ = fstat(fd_.get(), &st) == 0 && S_ISSOCK(st.st_mode);
    thread_ = std::thread([this] { run(); });
}

FrameWriter::~FrameWriter() {
    abort();
    if (thread_.joinable()) thread_.join();
}

void FrameWriter::wake() {
    uint64_t one = 1;
    if (wake_) (void)!::write(wake_.get(), &one, sizeof one);
}

// Large requests wait while more than this is queued: the budget, or what
// the link drains in kQueueTime if that is less, but never below kMinRoom
// (which is also the bound until the link has been the limit once and its
// pace is known).
size_t FrameWriter::room_locked() const {
    double t = rate_ * std::chrono::duration<double>(kQueueTime).count();
    return std::min(lim_.budget, std::max(size_t(t), kMinRoom));
}

bool FrameWriter::send(std::string frame, unsigned flags) {
    bool reply = flags & kReply;
    bool small = frame.size() <= kSmall;
    std::unique_lock<std::mutex> g(mu_);
    if (reply) {
        // Never waits: the reader thread that made this reply must go on
        // reading. A peer that lets this many pile up is not reading them.
        if (!closing_ && !broken_ && replies_ > 0 && replies_ + frame.size() > lim_.max_replies) {
            overflow_ = true;
            cv_.notify_all();
            g.unlock();
            wake();
            return false;
        }
    } else if (small) {
        // Metadata does not wait for bulk data to drain; small frames alone
        // are still held to the budget.
        space_.wait(g, [&] {
            return closing_ || broken_ || small_queued_ == 0 || small_queued_ + frame.size() <= lim_.budget;
        });
    } else {
        space_.wait(g, [&] {
            return closing_ || broken_ || queued_ == 0 || queued_ + frame.size() <= room_locked();
        });
    }
    if (closing_ || broken_ || overflow_) return false;
    queued_ += frame.size();
    if (reply) replies_ += frame.size();
    if (small) small_queued_ += frame.size();
    (small ? small_ : bulk_).push_back(Item{std::move(frame), reply, bool(flags & kOrdered), seq_++});
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
    wake();
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
    if (!drained) abort();
    if (thread_.joinable()) thread_.join();
    return drained;
}

void FrameWriter::abort() {
    {
        std::lock_guard<std::mutex> g(mu_);
        break_locked();
    }
    cv_.notify_all();
    space_.notify_all();
    wake();
}

std::chrono::milliseconds FrameWriter::stalled_for() const {
    int64_t s = stuck_since_.load();
    if (s == 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds((now_ns() - s) / 1000000);
}

size_t FrameWriter::queued() const {
    std::lock_guard<std::mutex> g(mu_);
    return queued_;
}

// Why the channel must end because the peer does not read what we send
// it, or "" (under mu_): more replies queued than may ever wait, or more
// than the budget while not one byte could be written for `stall`.
std::string FrameWriter::unread_locked() const {
    int64_t since = stuck_since_.load();
    double secs = since ? double(now_ns() - since) / 1e9 : 0;
    char b[200];
    if (overflow_) {
        snprintf(b, sizeof b, "peer does not read its replies: %.1f MiB unsent for %.0f s (at most %.0f MiB may wait)",
                 mib(replies_), secs, mib(lim_.max_replies));
        return b;
    }
    if (lim_.stall.count() > 0 && replies_ > lim_.budget && since && secs * 1000 >= double(lim_.stall.count())) {
        snprintf(b, sizeof b, "peer does not read its replies: %.1f MiB unsent for %.0f s", mib(replies_), secs);
        return b;
    }
    return "";
}

// The channel is gone (under mu_): nothing queued will ever be written.
void FrameWriter::break_locked() {
    broken_ = true;
    small_.clear();
    bulk_.clear();
    queued_ = small_queued_ = 0;
    replies_ = 0;
}

// From the writer thread only: the channel is broken.
void FrameWriter::fail(const std::string& why) {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (broken_) return;  // abort() got there first: nobody needs telling
        break_locked();
    }
    space_.notify_all();
    if (on_error_) on_error_(why);
}

// Small frames first, then large ones, each up to its quantum; an ordered
// frame waits (and the small frames behind it) until every large frame
// queued before it has been taken, and no frame queued after it passes it.
void FrameWriter::take_batch_locked(std::deque<Item>& batch) {
    size_t n = 0;
    uint64_t barrier = UINT64_MAX;  // a waiting ordered frame: nothing queued after it goes first
    // Some iovecs are left for large frames: a flood of small ones must not
    // starve them.
    while (batch.size() < kBatch * 3 / 4 && !small_.empty() && n < kSmallQuantum) {
        Item& f = small_.front();
        if (f.ordered && !bulk_.empty() && bulk_.front().seq < f.seq) {
            barrier = f.seq;
            break;
        }
        n += f.data.size();
        batch.push_back(std::move(f));
        small_.pop_front();
    }
    n = 0;
    while (batch.size() < kBatch && !bulk_.empty()) {
        Item& f = bulk_.front();
        if (f.seq > barrier || (n > 0 && n + f.data.size() > kBulkQuantum)) break;
        n += f.data.size();
        batch.push_back(std::move(f));
        bulk_.pop_front();
    }
}

bool FrameWriter::write_batch(std::deque<Item>& batch) {
    std::vector<iovec> iov;
    size_t total = 0, reply_bytes = 0, small_bytes = 0;
    for (auto& f : batch) {
        iov.push_back({f.data.data(), f.data.size()});
        total += f.data.size();
        if (f.reply) reply_bytes += f.data.size();
        if (f.data.size() <= kSmall) small_bytes += f.data.size();
    }
    int64_t t0 = now_ns();
    bool waited = false;
    size_t idx = 0;
    while (idx < iov.size()) {
        ssize_t n;
        if (sock_) {
            msghdr m{};
            m.msg_iov = &iov[idx];
            m.msg_iovlen = iov.size() - idx;
            n = ::sendmsg(fd_.get(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            n = ::writev(fd_.get(), &iov[idx], int(iov.size() - idx));
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            waited = true;
            int64_t zero = 0;
            stuck_since_.compare_exchange_strong(zero, now_ns());
            pollfd p[2] = {{fd_.get(), POLLOUT, 0}, {wake_.get(), POLLIN, 0}};
            // Wake now and then to look at the stall limit.
            int tick = lim_.stall.count() > 0 ? int(std::min<int64_t>(1000, lim_.stall.count() / 2 + 1)) : 1000;
            ::poll(p, 2, tick);
            if (p[1].revents & POLLIN) {
                uint64_t v;
                (void)!::read(wake_.get(), &v, sizeof v);
            }
            std::string why;
            {
                std::lock_guard<std::mutex> g(mu_);
                if (broken_) return false;
                why = unread_locked();
            }
            if (!why.empty()) {
                fail(why);
                return false;
            }
            continue;
        }
        if (n < 0) {
            fail(std::string("writing the channel: ") + std::strerror(errno));
            return false;
        }
        stuck_since_.store(0);
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
        if (broken_) return false;
        queued_ -= total;
        replies_ -= reply_bytes;
        small_queued_ -= small_bytes;
        // The link's pace, learnt only when it, not we, was the limit.
        if (waited) {
            double r = double(total) / (double(std::max<int64_t>(now_ns() - t0, 1)) / 1e9);
            rate_ = rate_ > 0 ? 0.75 * rate_ + 0.25 * r : r;
        }
    }
    space_.notify_all();
    return true;
}

void FrameWriter::run() {
    // Non-blocking writes. A socket gets MSG_DONTWAIT per call and keeps
    // its flags; anything else (pipe, tty) gets O_NONBLOCK, put back as it
    // was when the writer ends, since others may share the open file.
    int saved = -1;
    if (!sock_) {
        int fl = fcntl(fd_.get(), F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(fd_.get(), F_SETFL, fl | O_NONBLOCK) == 0) saved = fl;
    }
    auto restore = [&] {
        if (saved >= 0) fcntl(fd_.get(), F_SETFL, saved);
        saved = -1;
    };
    std::deque<Item> batch;
    for (;;) {
        std::string overflow;
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return broken_ || closing_ || overflow_ || !small_.empty() || !bulk_.empty(); });
            if (broken_) break;
            overflow = unread_locked();
            if (overflow.empty()) {
                if (small_.empty() && bulk_.empty() && closing_) {
                    g.unlock();
                    // Drained and closing: end our direction so the peer sees EOF.
                    if (sock_) ::shutdown(fd_.get(), SHUT_WR);
                    restore();
                    fd_.reset();
                    g.lock();
                    done_ = true;
                    done_cv_.notify_all();
                    return;
                }
                take_batch_locked(batch);
            }
        }
        if (!overflow.empty()) {
            fail(overflow);
            break;
        }
        if (!write_batch(batch)) break;
        batch.clear();
    }
    restore();
}

}  // namespace duct::wire
