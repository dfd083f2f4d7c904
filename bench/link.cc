// link.cc — see link.h: the reader stamps and queues, the writer delivers.
#include "link.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace bench {

Link::Link(int src, int dst, LinkParams p, std::unique_ptr<Injector> faults, std::function<void()> on_cut)
    : src_(src), dst_(dst), p_(p), faults_(std::move(faults)), on_cut_(std::move(on_cut)) {
    bytes_per_ns_ = p.rate_mbit > 0 ? p.rate_mbit * 1e6 / 8 / 1e9 : 0;
    // A packet is what the link carries in about half a millisecond (so a
    // small frame is never stuck behind a big one it arrived after, and the
    // first bytes of a big frame do not wait for its last), 4-256 KiB.
    packet_max_ = bytes_per_ns_ > 0 ? std::clamp<size_t>(size_t(bytes_per_ns_ * 5e5), 4096, 256 << 10) : 256 << 10;
    delay_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(p.one_way_ms));
    link_free_ = Clock::now();
    wake_ = ::eventfd(0, EFD_CLOEXEC);
    // Our own pipe ends only (each end is its own open file description).
    for (int fd : {src_, dst_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] { write_loop(); });
}

Link::~Link() {
    if (reader_.joinable()) reader_.join();
    if (writer_.joinable()) writer_.join();
    if (wake_ >= 0) ::close(wake_);
}

void Link::cut() {
    if (cut_.exchange(true)) return;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(wake_, &one, sizeof one);  // stays readable: wakes every poll
    { std::lock_guard<std::mutex> g(mu_); }
    cv_.notify_all();
}

bool Link::wait_fd(int fd, short events) {
    for (;;) {
        if (cut_) return false;
        pollfd pf[2] = {{fd, events, 0}, {wake_, POLLIN, 0}};
        int r = ::poll(pf, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (cut_) return false;
        if (r > 0 && pf[0].revents) return true;  // ready, or an error/hangup the next call reports
    }
}

void Link::read_loop() {
    // What may sit in q_ at once: the queue, what is on the wire, a packet.
    size_t wire = bytes_per_ns_ > 0 ? size_t(bytes_per_ns_ * std::chrono::nanoseconds(delay_).count())
                                    : (delay_.count() > 0 ? size_t(64) << 20 : 0);
    size_t cap = p_.queue_bytes + wire + packet_max_;
    std::string buf(packet_max_, '\0');
    // Queues data (stamped with when it leaves the link); eof/cut marks too.
    auto push = [&](std::string data, bool eof, bool cut) {
        if (data.empty() && !eof && !cut) return;
        Packet pk;
        auto start = std::max(Clock::now(), link_free_);
        if (bytes_per_ns_ > 0) link_free_ = start + std::chrono::nanoseconds(int64_t(double(data.size()) / bytes_per_ns_));
        else link_free_ = start;
        pk.due = link_free_ + delay_;  // EOF travels like a byte
        pk.data = std::move(data);
        pk.cut = cut;
        size_t n = pk.data.size();
        {
            std::lock_guard<std::mutex> g(mu_);
            queued_ += n;
            q_.push_back(std::move(pk));
            if (eof || cut) {  // the writer takes an empty packet as the end
                Packet end;
                end.due = q_.back().due;
                end.cut = cut;
                if (!q_.back().data.empty()) q_.push_back(std::move(end));
            }
        }
        cv_.notify_all();
    };
    for (;;) {
        if (bytes_per_ns_ > 0) {
            // Wait until what waits for the link fits its queue again.
            auto backlog_ok = link_free_ - std::chrono::nanoseconds(int64_t(p_.queue_bytes / bytes_per_ns_));
            if (backlog_ok > Clock::now()) std::this_thread::sleep_until(backlog_ok);
        }
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return queued_ + packet_max_ <= cap || cut_; });
        }
        if (!wait_fd(src_, POLLIN)) break;
        ssize_t n = ::read(src_, buf.data(), buf.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            std::string rest;
            if (faults_) faults_->finish(&rest);
            push(std::move(rest), true, false);
            break;
        }
        if (!faults_) {
            push(std::string(buf.data(), size_t(n)), false, false);
            continue;
        }
        std::string fwd;
        Injector::Event ev = faults_->feed(buf.data(), size_t(n), &fwd);
        if (ev == Injector::Cut) {
            push(std::move(fwd), false, true);
            break;  // closing src: the sender's next write fails (EPIPE)
        }
        push(std::move(fwd), false, false);
        if (ev == Injector::Stall) {
            // A hung network: nothing more is read, the fds stay open.
            stalled_ = true;
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return bool(cut_); });
            break;
        }
    }
    ::close(src_);
    if (--running_ == 0) done_ = true;
}

void Link::write_loop() {
    bool broken = false;  // the destination went away: keep draining, drop
    bool cut_here = false;
    for (;;) {
        Packet pk;
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return !q_.empty() || cut_; });
            if (cut_) break;  // dropped: what is queued is lost
            pk = std::move(q_.front());
            q_.pop_front();
            cv_.wait_until(g, pk.due, [&] { return bool(cut_); });
            if (cut_) break;
        }
        if (pk.data.empty()) {
            cut_here = pk.cut;
            break;
        }
        size_t off = 0;
        while (!broken && off < pk.data.size()) {
            if (!wait_fd(dst_, POLLOUT)) break;
            ssize_t w = ::write(dst_, pk.data.data() + off, pk.data.size() - off);
            if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
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
    if (cut_here && on_cut_) on_cut_();
    if (--running_ == 0) done_ = true;
}

}  // namespace bench
