// link.cc — see link.h: the reader stamps and queues, the writer delivers.
#include "link.h"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace bench {

Link::Link(int src, int dst, LinkParams p) : src_(src), dst_(dst), p_(p) {
    bytes_per_ns_ = p.rate_mbit > 0 ? p.rate_mbit * 1e6 / 8 / 1e9 : 0;
    // A packet is what the link carries in about half a millisecond (so a
    // small frame is never stuck behind a big one it arrived after, and the
    // first bytes of a big frame do not wait for its last), 4-256 KiB.
    packet_max_ = bytes_per_ns_ > 0 ? std::clamp<size_t>(size_t(bytes_per_ns_ * 5e5), 4096, 256 << 10) : 256 << 10;
    delay_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(p.one_way_ms));
    link_free_ = Clock::now();
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] { write_loop(); });
}

Link::~Link() {
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
}

void Link::read_loop() {
    // What may sit in q_ at once: the queue, what is on the wire, a packet.
    size_t wire = bytes_per_ns_ > 0 ? size_t(bytes_per_ns_ * std::chrono::nanoseconds(delay_).count())
                                    : (delay_.count() > 0 ? size_t(64) << 20 : 0);
    size_t cap = p_.queue_bytes + wire + packet_max_;
    std::string buf(packet_max_, '\0');
    for (;;) {
        if (bytes_per_ns_ > 0) {
            // Wait until what waits for the link fits its queue again.
            auto backlog_ok = link_free_ - std::chrono::nanoseconds(int64_t(p_.queue_bytes / bytes_per_ns_));
            if (backlog_ok > Clock::now()) std::this_thread::sleep_until(backlog_ok);
        }
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return queued_ + packet_max_ <= cap; });
        }
        ssize_t n = ::read(src_, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        Packet pk;
        auto now = Clock::now();
        if (n > 0) {
            pk.data.assign(buf.data(), size_t(n));
            auto start = std::max(now, link_free_);
            if (bytes_per_ns_ > 0) link_free_ = start + std::chrono::nanoseconds(int64_t(double(n) / bytes_per_ns_));
            else link_free_ = start;
            pk.due = link_free_ + delay_;
        } else {
            pk.due = std::max(now, link_free_) + delay_;  // EOF travels like a byte
        }
        {
            std::lock_guard<std::mutex> g(mu_);
            queued_ += pk.data.size();
            q_.push_back(std::move(pk));
        }
        cv_.notify_all();
        if (n <= 0) break;
    }
    ::close(src_);
    if (--running_ == 0) done_ = true;
}

void Link::write_loop() {
    bool broken = false;  // the destination went away: keep draining, drop
    for (;;) {
        Packet pk;
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return !q_.empty(); });
            pk = std::move(q_.front());
            q_.pop_front();
        }
        std::this_thread::sleep_until(pk.due);
        if (pk.data.empty()) break;
        size_t off = 0;
        while (!broken && off < pk.data.size()) {
            ssize_t w = ::write(dst_, pk.data.data() + off, pk.data.size() - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { broken = true; break; }
            off += size_t(w);
        }
        bytes_ += off;
        {
            std::lock_guard<std::mutex> g(mu_);
            queued_ -= pk.data.size();
        }
        cv_.notify_all();
    }
    ::close(dst_);
    if (--running_ == 0) done_ = true;
}

}  // namespace bench
