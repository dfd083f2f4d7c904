// wire + mux: framing from a real pipe/socketpair, routing by parity, the
// control frame, bad sizes ending the channel, stop() never hanging.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "mux/mux.h"
#include "proto/codec.h"
#include "wire/frame_reader.h"
#include "wire/frame_writer.h"

using namespace duct;

namespace {

std::string frame_of(const p9::Fcall& f) { return p9::encode(f, p9::Dialect::L); }

void write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::write(fd, s.data() + off, s.size() - off);
        ASSERT_GT(n, 0);
        off += size_t(n);
    }
}

struct Pipe {
    Fd r, w;
    Pipe() {
        int p[2];
        EXPECT_EQ(pipe(p), 0);
        r.reset(p[0]);
        w.reset(p[1]);
    }
};

struct Events {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> requests, replies;
    int closes = 0;
    bool ended = false, clean = false;
    std::string why;

    mux::Sinks sinks() {
        mux::Sinks s;
        s.request = [this](std::string f) { std::lock_guard<std::mutex> g(mu); requests.push_back(f); cv.notify_all(); };
        s.reply = [this](std::string f) { std::lock_guard<std::mutex> g(mu); replies.push_back(f); cv.notify_all(); };
        s.close = [this] { std::lock_guard<std::mutex> g(mu); closes++; cv.notify_all(); };
        s.end = [this](bool c, const std::string& w) {
            std::lock_guard<std::mutex> g(mu);
            ended = true; clean = c; why = w;
            cv.notify_all();
        };
        return s;
    }
    bool wait_end() {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, std::chrono::seconds(5), [&] { return ended; });
    }
};

}  // namespace

TEST(FrameReader, SplitsFramesWrittenInPieces) {
    Pipe p;
    std::string a = frame_of({1, p9::Tclunk{7}}), b = frame_of({2, p9::Rread{p9::Data{std::string(100000, 'x')}}});
    std::string all = a + b;
    std::thread t([&] {
        for (size_t i = 0; i < all.size(); i += 333) write_all(p.w.get(), all.substr(i, 333));
        p.w.reset();
    });
    wire::FrameReader r(p.r.get(), 1 << 20);
    std::string f, err;
    ASSERT_EQ(r.next(f, err), wire::FrameReader::Status::Frame);
    EXPECT_EQ(f, a);
    ASSERT_EQ(r.next(f, err), wire::FrameReader::Status::Frame);
    EXPECT_EQ(f, b);
    EXPECT_EQ(r.next(f, err), wire::FrameReader::Status::Eof);
    t.join();
}

TEST(FrameReader, RejectsBadSizesAndTruncation) {
    struct Case { std::string bytes; const char* what; };
    std::vector<Case> cases = {
        {std::string("\x04\x00\x00\x00", 4), "smaller"},
        {std::string("\x00\x00\x00\x00", 4), "smaller"},
        {std::string("\xff\xff\xff\x7f\x00\x00\x00", 7), "more than"},
        {std::string("\x10\x00\x00\x00\x64\x00", 6), "inside a frame"},
        {std::string("\x10\x00", 2), "inside a frame header"},
    };
    for (auto& c : cases) {
        Pipe p;
        write_all(p.w.get(), c.bytes);
        p.w.reset();
        wire::FrameReader r(p.r.get(), 1 << 20);
        std::string f, err;
        EXPECT_EQ(r.next(f, err), wire::FrameReader::Status::Error) << c.what;
        EXPECT_NE(err.find(c.what), std::string::npos) << err;
    }
}

TEST(Mux, RoutesByParityAndHandlesTheCloseFrame) {
    Pipe in, out;
    Events ev;
    mux::Mux m(std::move(in.r), std::move(out.w), 1 << 20, ev.sinks(), false);
    m.start();
    std::string t = frame_of({3, p9::Tversion{8192, "9P2000.L"}});
    std::string r = frame_of({4, p9::Rlerror{2}});
    std::string r2 = frame_of({5, p9::Rerror{"file does not exist"}});
    write_all(in.w.get(), t + r + mux::kCloseFrame + r2);
    in.w.reset();
    ASSERT_TRUE(ev.wait_end());
    EXPECT_TRUE(ev.clean);
    ASSERT_EQ(ev.requests.size(), 1u);
    EXPECT_EQ(ev.requests[0], t);
    ASSERT_EQ(ev.replies.size(), 2u);
    EXPECT_EQ(ev.replies[0], r);
    EXPECT_EQ(ev.replies[1], r2);
    EXPECT_EQ(ev.closes, 1);
    m.stop();
}

TEST(Mux, AFiveByteFrameThatIsNotTheCloseFrameEndsTheChannel) {
    Pipe in, out;
    Events ev;
    mux::Mux m(std::move(in.r), std::move(out.w), 1 << 20, ev.sinks(), false);
    m.start();
    write_all(in.w.get(), std::string("\x05\x00\x00\x00\x64", 5));
    ASSERT_TRUE(ev.wait_end());
    EXPECT_FALSE(ev.clean);
    EXPECT_NE(ev.why.find("type 100"), std::string::npos) << ev.why;
    EXPECT_EQ(ev.closes, 0);
    m.stop();
}

TEST(Mux, SendsFramesInOrderAndCloseWriteGivesEof) {
    Pipe in, out;
    Events ev;
    mux::Mux m(std::move(in.r), std::move(out.w), 1 << 20, ev.sinks(), false);
    m.start();
    std::string expect;
    for (int i = 0; i < 200; i++) {
        std::string f = frame_of({uint16_t(i), p9::Twrite{1, uint64_t(i), p9::Data{std::string(size_t(i * 97), char(i))}}});
        expect += f;
        ASSERT_TRUE(m.send(f));
    }
    m.send_close_frame();
    expect += mux::kCloseFrame;
    std::string got;
    std::thread rd([&] {
        char buf[65536];
        ssize_t n;
        while ((n = ::read(out.r.get(), buf, sizeof buf)) > 0) got.append(buf, size_t(n));
    });
    m.close_write();
    rd.join();  // returns only if close_write really ended the pipe
    // Small frames may go ahead of large ones (wire/frame_writer.h, the two
    // lanes); within each lane the order is kept, and the control frame,
    // ordered, comes after everything sent before it.
    std::vector<std::string> sent, small, large, small_got, large_got;
    for (size_t off = 0; off < expect.size();) {
        uint32_t n = uint8_t(expect[off]) | uint8_t(expect[off + 1]) << 8 | uint8_t(expect[off + 2]) << 16;
        sent.push_back(expect.substr(off, n));
        off += n;
    }
    for (size_t off = 0; off + 4 <= got.size();) {
        uint32_t n = uint8_t(got[off]) | uint8_t(got[off + 1]) << 8 | uint8_t(got[off + 2]) << 16;
        ASSERT_GE(n, 5u);
        std::string f = got.substr(off, n);
        (f.size() <= wire::FrameWriter::kSmall ? small_got : large_got).push_back(f);
        off += n;
    }
    for (auto& f : sent) (f.size() <= wire::FrameWriter::kSmall ? small : large).push_back(f);
    EXPECT_EQ(got.size(), expect.size());
    EXPECT_EQ(small_got, small);
    EXPECT_EQ(large_got, large);
    EXPECT_EQ(got.substr(got.size() - 5), mux::kCloseFrame);
    EXPECT_FALSE(m.send("late"));
    m.stop();   // reader still blocked on `in`: stop must not hang
}

TEST(Mux, StopWakesAReaderBlockedOnAnIdlePipe) {
    Pipe in, out;
    Events ev;
    auto m = std::make_unique<mux::Mux>(std::move(in.r), std::move(out.w), 1 << 20, ev.sinks(), false);
    m->start();
    auto t0 = std::chrono::steady_clock::now();
    m->stop();
    m.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_FALSE(ev.ended);  // stopping is not the channel ending
}

TEST(Mux, WriterErrorEndsTheChannel) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    Fd a(sv[0]), b(sv[1]);
    Pipe in;
    Events ev;
    signal(SIGPIPE, SIG_IGN);
    mux::Mux m(std::move(in.r), Fd(dup(a.get())), 1 << 20, ev.sinks(), false);
    m.start();
    b.reset();
    a.reset();
    m.send(std::string(1 << 16, 'x'));
    ASSERT_TRUE(ev.wait_end());
    EXPECT_FALSE(ev.clean);
    EXPECT_NE(ev.why.find("writing the channel"), std::string::npos) << ev.why;
    m.stop();
}
