// wire::FrameWriter (issue 9 items 2 and 6): replies never wait for room,
// requests wait for the budget; a peer that reads nothing is cut off with a
// clear message; abort() and close_write_within() end a writer stuck on a
// pipe nobody reads; the fd's O_NONBLOCK is put back; FrameReader copes
// with a non-blocking fd.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <algorithm>
#include <future>

#include "mux/mux.h"
#include "wire/frame_reader.h"
#include "wire/frame_writer.h"

using namespace duct;
using namespace std::chrono_literals;

namespace {

struct Pipe {
    Fd r, w;
    Pipe() {
        int p[2];
        EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
        r.reset(p[0]);
        w.reset(p[1]);
    }
};

// A 9P-shaped frame of `n` bytes (size[4] type[1] tag[2] payload).
std::string frame(size_t n, uint8_t type) {
    std::string f(n, 'x');
    uint32_t s = uint32_t(n);
    for (int i = 0; i < 4; i++) f[i] = char(s >> (8 * i));
    f[4] = char(type);
    f[5] = f[6] = 0;
    return f;
}

// Reads and discards everything from fd until EOF (or `bytes` read).
size_t drain(int fd, size_t bytes = SIZE_MAX) {
    char buf[65536];
    size_t got = 0;
    while (got < bytes) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        got += size_t(n);
    }
    return got;
}

struct Errors {
    std::mutex mu;
    std::condition_variable cv;
    std::string why;
    int count = 0;
    std::function<void(const std::string&)> fn() {
        return [this](const std::string& w) {
            std::lock_guard<std::mutex> g(mu);
            why = w;
            count++;
            cv.notify_all();
        };
    }
    bool wait(std::chrono::milliseconds limit) {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, limit, [&] { return count > 0; });
    }
};

}  // namespace

// The channel's reader makes replies; it must never wait for the writer,
// even when nothing is read and far more than the budget is queued.
TEST(FrameWriter, RepliesNeverWaitForRoom) {
    Pipe p;
    wire::WriterLimits lim;
    lim.budget = 64 << 10;
    wire::FrameWriter w(std::move(p.w), nullptr, lim);
    auto replies = std::async(std::launch::async, [&] {
        for (int i = 0; i < 64; i++)
            if (!w.send(frame(64 << 10, 117), wire::FrameWriter::kReply)) return false;
        return true;
    });
    ASSERT_EQ(replies.wait_for(2s), std::future_status::ready) << "a reply waited for room";
    EXPECT_TRUE(replies.get());
    EXPECT_GT(w.queued(), size_t(lim.budget));
    // Everything queued reaches the reader, in one piece.
    EXPECT_EQ(drain(p.r.get(), 64u << 16), size_t(64) << 16);
}

// Requests (our mount's, from FUSE threads) wait while the budget is full
// and go as soon as the peer reads.
TEST(FrameWriter, RequestsWaitForTheBudget) {
    Pipe p;
    wire::WriterLimits lim;
    lim.budget = 64 << 10;
    wire::FrameWriter w(std::move(p.w), nullptr, lim);
    // One fills the pipe, the next the budget (it waits in the writer).
    for (int i = 0; i < 2; i++) ASSERT_TRUE(w.send(frame(64 << 10, 116)));
    auto more = std::async(std::launch::async, [&] { return w.send(frame(64 << 10, 116)); });
    EXPECT_EQ(more.wait_for(300ms), std::future_status::timeout) << "a request went past the full budget";
    std::thread reader([&] { drain(p.r.get(), size_t(3) << 16); });
    ASSERT_EQ(more.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(more.get());
    reader.join();
}

// A request bigger than the whole budget still goes, alone.
TEST(FrameWriter, ARequestLargerThanTheBudgetGoesAlone) {
    Pipe p;
    wire::WriterLimits lim;
    lim.budget = 16 << 10;
    wire::FrameWriter w(std::move(p.w), nullptr, lim);
    std::thread reader([&] { drain(p.r.get(), 1 << 20); });
    auto big = std::async(std::launch::async, [&] { return w.send(frame(1 << 20, 118)); });
    ASSERT_EQ(big.wait_for(5s), std::future_status::ready);
    EXPECT_TRUE(big.get());
    reader.join();
}

// The writer is stuck on a pipe nobody reads (where shutdown(2) does
// nothing): abort() still ends it at once.
TEST(FrameWriter, AbortEndsAWriterStuckOnAPipe) {
    Pipe p;
    auto w = std::make_unique<wire::FrameWriter>(std::move(p.w), nullptr);
    ASSERT_TRUE(w->send(frame(1 << 20, 117), wire::FrameWriter::kReply));
    std::this_thread::sleep_for(100ms);  // the pipe is full, the writer waits
    EXPECT_GE(w->stalled_for(), 50ms);
    auto gone = std::async(std::launch::async, [&] { w.reset(); });
    bool ended = gone.wait_for(2s) == std::future_status::ready;
    EXPECT_TRUE(ended) << "the writer did not end";
    if (!ended) drain(p.r.get());  // let it go, so the test itself can end
}

TEST(FrameWriter, CloseWriteWithinGivesUpOnAPeerThatReadsNothing) {
    Pipe p;
    wire::FrameWriter w(std::move(p.w), nullptr);
    ASSERT_TRUE(w.send(frame(1 << 20, 117), wire::FrameWriter::kReply));
    auto closed = std::async(std::launch::async, [&] { return w.close_write_within(200ms); });
    bool ended = closed.wait_for(2s) == std::future_status::ready;
    EXPECT_TRUE(ended) << "close_write_within did not return";
    if (!ended) drain(p.r.get());
    EXPECT_FALSE(closed.get());
}

// A peer that lets more than the budget of replies pile up and reads
// nothing for `stall` is cut off, saying so (the reader must not be held,
// and memory must not grow without bound).
TEST(FrameWriter, APeerThatReadsNoRepliesIsCutOff) {
    Pipe p;
    Errors e;
    wire::WriterLimits lim;
    lim.budget = 64 << 10;
    lim.stall = 300ms;
    wire::FrameWriter w(std::move(p.w), e.fn(), lim);
    for (int i = 0; i < 8; i++) ASSERT_TRUE(w.send(frame(64 << 10, 117), wire::FrameWriter::kReply));
    ASSERT_TRUE(e.wait(5s)) << "not cut off";
    EXPECT_NE(e.why.find("peer does not read its replies"), std::string::npos) << e.why;
    EXPECT_NE(e.why.find("MiB unsent for"), std::string::npos) << e.why;
    EXPECT_FALSE(w.send(frame(100, 117), wire::FrameWriter::kReply));
    EXPECT_EQ(e.count, 1);
}

// However fast the peer reads, no more than max_replies may wait.
TEST(FrameWriter, RepliesBeyondTheHardLimitEndTheChannel) {
    Pipe p;
    Errors e;
    wire::WriterLimits lim;
    lim.budget = 64 << 10;
    lim.max_replies = 512 << 10;
    wire::FrameWriter w(std::move(p.w), e.fn(), lim);
    bool refused = false;
    for (int i = 0; i < 16 && !refused; i++) refused = !w.send(frame(64 << 10, 117), wire::FrameWriter::kReply);
    EXPECT_TRUE(refused);
    ASSERT_TRUE(e.wait(5s));
    EXPECT_NE(e.why.find("peer does not read its replies"), std::string::npos) << e.why;
}

// Requests alone never trip the reply limits (our mount's own flow
// control, and the silent-peer watchdog, handle those).
TEST(FrameWriter, QueuedRequestsAreNotAStall) {
    Pipe p;
    Errors e;
    wire::WriterLimits lim;
    lim.budget = 64 << 10;
    lim.stall = 100ms;
    wire::FrameWriter w(std::move(p.w), e.fn(), lim);
    for (int i = 0; i < 2; i++) ASSERT_TRUE(w.send(frame(64 << 10, 118)));
    EXPECT_FALSE(e.wait(600ms)) << e.why;
    w.abort();
}

// O_NONBLOCK belongs to the open file, which others may share: the writer
// puts it back as it was.
TEST(FrameWriter, PutsTheFdsFlagsBack) {
    Pipe p;
    int fd = p.w.get();
    Fd mine(fcntl(fd, F_DUPFD_CLOEXEC, 3));  // same open file description
    {
        wire::FrameWriter w(std::move(p.w), nullptr);
        ASSERT_TRUE(w.send(frame(100, 117), wire::FrameWriter::kReply));
        EXPECT_EQ(drain(p.r.get(), 100), 100u);
        w.close_write();
    }
    EXPECT_EQ(fcntl(mine.get(), F_GETFL) & O_NONBLOCK, 0);
}

// The writer's O_NONBLOCK lands on the reader too when both sides are one
// open file (a tty used both ways): FrameReader must wait, not fail.
TEST(FrameReader, CopesWithANonBlockingFd) {
    Pipe p;
    fcntl(p.r.get(), F_SETFL, fcntl(p.r.get(), F_GETFL) | O_NONBLOCK);
    std::string a = frame(7000, 117), b = frame(300, 101);
    std::thread t([&] {
        std::string all = a + b;
        for (size_t i = 0; i < all.size(); i += 1000) {
            std::this_thread::sleep_for(20ms);
            ASSERT_GT(write(p.w.get(), all.data() + i, std::min<size_t>(1000, all.size() - i)), 0);
        }
        p.w.reset();
    });
    wire::FrameReader r(p.r.get(), 1 << 20);
    std::string f, err;
    EXPECT_EQ(r.next(f, err), wire::FrameReader::Status::Frame) << err;
    EXPECT_EQ(f, a);
    EXPECT_EQ(r.next(f, err), wire::FrameReader::Status::Frame) << err;
    EXPECT_EQ(f, b);
    EXPECT_EQ(r.next(f, err), wire::FrameReader::Status::Eof) << err;
    t.join();
}

// ---- the two lanes (issue 10: metadata never waits behind bulk data) ----

namespace {
// A frame whose tag says which it is.
std::string tagged(size_t n, uint8_t type, uint16_t tag) {
    std::string f = frame(n, type);
    f[5] = char(tag);
    f[6] = char(tag >> 8);
    return f;
}
// Reads frames until EOF; returns their tags in arrival order.
std::vector<uint16_t> tags_of(int fd) {
    wire::FrameReader r(fd, 1 << 21);
    std::vector<uint16_t> out;
    std::string f, err;
    while (r.next(f, err) == wire::FrameReader::Status::Frame) out.push_back(uint16_t(uint8_t(f[5]) | uint8_t(f[6]) << 8));
    return out;
}
size_t index_of(const std::vector<uint16_t>& v, uint16_t tag) {
    return size_t(std::find(v.begin(), v.end(), tag) - v.begin());
}
}  // namespace

// A small frame queued behind many large ones goes before most of them.
TEST(FrameWriterLanes, SmallFramesGoAheadOfBulk) {
    Pipe p;
    wire::FrameWriter w(std::move(p.w), nullptr);
    // The writer is stuck on a full pipe while the rest is queued.
    ASSERT_TRUE(w.send(tagged(1 << 20, 117, 0), wire::FrameWriter::kReply));
    std::this_thread::sleep_for(50ms);
    for (uint16_t t = 1; t <= 40; t++) ASSERT_TRUE(w.send(tagged(64 << 10, 117, t), wire::FrameWriter::kReply));
    ASSERT_TRUE(w.send(tagged(120, 25, 1000), wire::FrameWriter::kReply));  // an Rgetattr
    ASSERT_TRUE(w.send(tagged(60, 24, 1001)));                              // a Tgetattr of our own
    std::thread closer([&] { w.close_write(); });
    auto order = tags_of(p.r.get());
    closer.join();
    ASSERT_EQ(order.size(), 43u);
    EXPECT_LE(index_of(order, 1000), 5u);
    EXPECT_LE(index_of(order, 1001), 5u);
}

// A flood of small frames does not starve the large ones either.
TEST(FrameWriterLanes, BulkStillMovesUnderAFloodOfSmallFrames) {
    Pipe p;
    wire::FrameWriter w(std::move(p.w), nullptr);
    ASSERT_TRUE(w.send(tagged(1 << 20, 117, 0), wire::FrameWriter::kReply));
    std::this_thread::sleep_for(50ms);
    for (uint16_t t = 1; t <= 8; t++) ASSERT_TRUE(w.send(tagged(64 << 10, 117, t), wire::FrameWriter::kReply));
    for (uint16_t t = 100; t < 1100; t++) ASSERT_TRUE(w.send(tagged(100, 25, t), wire::FrameWriter::kReply));
    std::thread closer([&] { w.close_write(); });
    auto order = tags_of(p.r.get());
    closer.join();
    ASSERT_EQ(order.size(), 1009u);
    // Every large frame is out before the last small one.
    for (uint16_t t = 1; t <= 8; t++) EXPECT_LT(index_of(order, t), index_of(order, 1099)) << t;
}

// Tflush, Rflush, Tversion and Rversion (kOrdered) never overtake what was
// queued before them, nor are passed by what was queued after: an Rflush
// still follows the reply it waited for.
TEST(FrameWriterLanes, OrderedFramesKeepTheirPlace) {
    Pipe p;
    wire::FrameWriter w(std::move(p.w), nullptr);
    ASSERT_TRUE(w.send(tagged(1 << 20, 117, 0), wire::FrameWriter::kReply));
    std::this_thread::sleep_for(50ms);
    for (uint16_t t = 1; t <= 10; t++) ASSERT_TRUE(w.send(tagged(64 << 10, 117, t), wire::FrameWriter::kReply));
    ASSERT_TRUE(w.send(tagged(7, 109, 500), wire::FrameWriter::kReply | wire::FrameWriter::kOrdered));  // Rflush
    for (uint16_t t = 11; t <= 14; t++) ASSERT_TRUE(w.send(tagged(64 << 10, 117, t), wire::FrameWriter::kReply));
    ASSERT_TRUE(w.send(tagged(100, 25, 501), wire::FrameWriter::kReply));
    std::thread closer([&] { w.close_write(); });
    auto order = tags_of(p.r.get());
    closer.join();
    ASSERT_EQ(order.size(), 17u);
    size_t rflush = index_of(order, 500);
    for (uint16_t t = 0; t <= 10; t++) EXPECT_LT(index_of(order, t), rflush) << "frame " << t << " passed by the Rflush";
    for (uint16_t t = 11; t <= 14; t++) EXPECT_GT(index_of(order, t), rflush) << "frame " << t << " overtook the Rflush";
    EXPECT_GT(index_of(order, 501), rflush);
}

// On a slow link fewer bytes of requests are queued than the budget allows:
// what the link drains in FrameWriter::kQueueTime (at least kMinRoom).
TEST(FrameWriterLanes, ASlowLinkQueuesLess) {
    Pipe p;
    wire::WriterLimits lim;
    lim.budget = 256u << 20;
    wire::FrameWriter w(std::move(p.w), nullptr, lim);
    std::atomic<bool> stop{false};
    std::thread reader([&] {  // about 2 MB/s
        char buf[16384];
        while (!stop) {
            if (read(p.r.get(), buf, sizeof buf) <= 0) break;
            std::this_thread::sleep_for(8ms);
        }
    });
    size_t most = 0;
    auto sender = std::async(std::launch::async, [&] {
        for (int i = 0; i < 24; i++) {
            if (!w.send(frame(1 << 20, 118))) return;
            most = std::max(most, w.queued());
        }
    });
    bool finished = sender.wait_for(3s) == std::future_status::ready;
    EXPECT_FALSE(finished) << "24 MiB went into the queue of a 2 MB/s link at once";
    w.abort();
    stop = true;
    sender.wait();
    reader.join();
    // Read once the sender is done: it writes `most` (ThreadSanitizer).
    EXPECT_LE(most, wire::FrameWriter::kMinRoom + (2u << 20));
}

// A socket gets MSG_DONTWAIT per call, so its flags are never touched, and
// abort() ends a writer stuck on a peer that reads nothing there too.
TEST(FrameWriter, AbortEndsAWriterStuckOnASocket) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    Fd ours(sv[0]), theirs(sv[1]);
    Fd mine(fcntl(ours.get(), F_DUPFD_CLOEXEC, 3));
    auto w = std::make_unique<wire::FrameWriter>(std::move(ours), nullptr);
    ASSERT_TRUE(w->send(frame(4 << 20, 117), wire::FrameWriter::kReply));
    std::this_thread::sleep_for(100ms);
    EXPECT_GE(w->stalled_for(), 50ms);
    EXPECT_EQ(fcntl(mine.get(), F_GETFL) & O_NONBLOCK, 0);
    auto gone = std::async(std::launch::async, [&] { w.reset(); });
    bool ended = gone.wait_for(2s) == std::future_status::ready;
    EXPECT_TRUE(ended) << "the writer did not end";
    if (!ended) drain(theirs.get());
}

// The mux's reader hands requests to a sink that answers at once (as the
// export's Tversion/Tflush and its workers do): with nobody reading our
// side, the reader still takes every request in, because replies never
// wait for the full writer (before, the sink blocked and the reader with it).
TEST(MuxWriter, TheReaderNeverWaitsForAFullWriter) {
    Pipe in, out;
    std::atomic<int> handled{0};
    mux::Mux* mp = nullptr;
    mux::Sinks s;
    s.request = [&](std::string f) {
        std::string r = frame(64 << 10, 117);
        r[5] = f[5];
        r[6] = f[6];
        mp->send(std::move(r));
        handled++;
    };
    s.reply = [](std::string) {};
    s.end = [](bool, const std::string&) {};
    wire::WriterLimits lim;
    lim.budget = 256 << 10;
    mux::Mux m(std::move(in.r), std::move(out.w), 1 << 20, s, false, lim);
    mp = &m;
    m.start();
    std::string reqs;
    for (int i = 0; i < 200; i++) reqs += frame(23, 116);  // Treads
    ASSERT_EQ(write(in.w.get(), reqs.data(), reqs.size()), ssize_t(reqs.size()));
    for (int i = 0; i < 200 && handled < 200; i++) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(handled.load(), 200);
    m.abort();
    m.stop();
}
