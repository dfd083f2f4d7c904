// mux frame limits (issue 11): a frame beyond the msize negotiated for its
// direction, or too short for a 9P header, ends the channel with a message
// naming the size and the limit, before any sink sees it. Requests are
// bounded by our export's Rversion (sent through the mux), replies by the
// peer's Rversion to our mount's Tversion; before any negotiation, by the
// channel's configured largest frame.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "mux/mux.h"
#include "proto/codec.h"

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

// The mux under test, its sinks' record, and the ends the test drives.
struct Rig {
    Pipe in, out;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> requests, replies;
    bool ended = false, clean = false;
    std::string why;
    std::unique_ptr<mux::Mux> m;

    explicit Rig(uint32_t max_frame = 1 << 20) {
        mux::Sinks s;
        s.request = [this](std::string f) { std::lock_guard<std::mutex> g(mu); requests.push_back(f); cv.notify_all(); };
        s.reply = [this](std::string f) { std::lock_guard<std::mutex> g(mu); replies.push_back(f); cv.notify_all(); };
        s.close = [] {};
        s.end = [this](bool c, const std::string& w) {
            std::lock_guard<std::mutex> g(mu);
            ended = true, clean = c, why = w;
            cv.notify_all();
        };
        m = std::make_unique<mux::Mux>(std::move(in.r), std::move(out.w), max_frame, s, false);
        m->start();
    }
    ~Rig() { m->stop(); }
    void feed(const std::string& bytes) { write_all(in.w.get(), bytes); }
    bool wait_for(size_t nreq, size_t nrep) {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, std::chrono::seconds(5),
                           [&] { return ended || (requests.size() >= nreq && replies.size() >= nrep); }) &&
               !ended;
    }
    bool wait_end() {
        std::unique_lock<std::mutex> g(mu);
        return cv.wait_for(g, std::chrono::seconds(5), [&] { return ended; });
    }
};

// A Twrite (request) or Rread (reply) frame of exactly `size` bytes.
std::string twrite_of(uint16_t tag, size_t size) {
    std::string f = frame_of({tag, p9::Twrite{1, 0, p9::Data{std::string(size - 7 - 16, 'w')}}});
    EXPECT_EQ(f.size(), size);
    return f;
}
std::string rread_of(uint16_t tag, size_t size) {
    std::string f = frame_of({tag, p9::Rread{p9::Data{std::string(size - 7 - 4, 'r')}}});
    EXPECT_EQ(f.size(), size);
    return f;
}

}  // namespace

TEST(MuxLimits, SixByteFrameNamesTheNinePHeader) {
    Rig r;
    r.feed(std::string("\x06\x00\x00\x00\x64\x01", 6));
    ASSERT_TRUE(r.wait_end());
    EXPECT_FALSE(r.clean);
    EXPECT_NE(r.why.find("frame of 6 bytes (a 9P message has at least 7"), std::string::npos) << r.why;
}

TEST(MuxLimits, RequestBeyondTheMsizeOurExportGrantedEndsTheChannel) {
    Rig r;
    // Before any Tversion the configured limit holds: a 9000-byte request passes.
    r.feed(twrite_of(1, 9000));
    ASSERT_TRUE(r.wait_for(1, 0));
    r.feed(frame_of({p9::NOTAG, p9::Tversion{65536, "9P2000.L"}}));
    ASSERT_TRUE(r.wait_for(2, 0));
    // Our export answers with a smaller msize: from now on that is the bound.
    r.m->send(frame_of({p9::NOTAG, p9::Rversion{8192, "9P2000.L"}}));
    r.feed(twrite_of(2, 8192));
    ASSERT_TRUE(r.wait_for(3, 0)) << "exactly msize is allowed";
    r.feed(twrite_of(3, 8193));
    ASSERT_TRUE(r.wait_end());
    EXPECT_FALSE(r.clean);
    EXPECT_EQ(r.requests.size(), 3u) << "the oversized frame reached no sink";
    EXPECT_EQ(r.why, "peer sent a request (Twrite) of 8193 bytes, more than the msize of 8192 negotiated for it");
}

TEST(MuxLimits, ANewTversionLiftsTheOldBoundUntilItIsAnswered) {
    Rig r;
    r.feed(frame_of({p9::NOTAG, p9::Tversion{8192, "9P2000.L"}}));
    ASSERT_TRUE(r.wait_for(1, 0));
    r.m->send(frame_of({p9::NOTAG, p9::Rversion{8192, "9P2000.L"}}));
    r.feed(frame_of({p9::NOTAG, p9::Tversion{65536, "9P2000.L"}}));
    ASSERT_TRUE(r.wait_for(2, 0));
    r.m->send(frame_of({p9::NOTAG, p9::Rversion{65536, "9P2000.L"}}));
    r.feed(twrite_of(4, 30000));
    EXPECT_TRUE(r.wait_for(3, 0)) << r.why;
}

TEST(MuxLimits, ReplyBeyondTheMsizeThePeerGrantedOurMountEndsTheChannel) {
    Rig r;
    r.m->send(frame_of({p9::NOTAG, p9::Tversion{65536, "9P2000.L"}}));
    // The peer grants less than we asked: its own Rversion is the bound.
    r.feed(frame_of({p9::NOTAG, p9::Rversion{16384, "9P2000.L"}}));
    ASSERT_TRUE(r.wait_for(0, 1));
    r.feed(rread_of(5, 16384));
    ASSERT_TRUE(r.wait_for(0, 2));
    r.feed(rread_of(6, 20000));
    ASSERT_TRUE(r.wait_end());
    EXPECT_EQ(r.replies.size(), 2u);
    EXPECT_EQ(r.why, "peer sent a reply (Rread) of 20000 bytes, more than the msize of 16384 negotiated for it");
}

TEST(MuxLimits, AnRversionLargerThanWeProposedDoesNotRaiseTheBound) {
    Rig r;
    r.m->send(frame_of({p9::NOTAG, p9::Tversion{8192, "9P2000.L"}}));
    r.feed(frame_of({p9::NOTAG, p9::Rversion{1 << 20, "9P2000.L"}}));
    ASSERT_TRUE(r.wait_for(0, 1));
    r.feed(rread_of(7, 9000));
    ASSERT_TRUE(r.wait_end());
    EXPECT_NE(r.why.find("more than the msize of 8192 negotiated"), std::string::npos) << r.why;
}

TEST(MuxLimits, BeyondTheConfiguredLargestFrameBeforeAnyVersion) {
    Rig r(8192 + 4096);
    r.feed(twrite_of(8, 8192 + 4096 + 1));
    ASSERT_TRUE(r.wait_end());
    EXPECT_TRUE(r.requests.empty());
    // The frame reader refuses it from the size field alone, before reading
    // (or allocating) the body.
    EXPECT_NE(r.why.find("12289 bytes, more than the 12288 this channel allows"), std::string::npos) << r.why;
}
