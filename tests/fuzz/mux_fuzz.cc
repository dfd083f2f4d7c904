// Fuzz target: the mux (mux/mux.cc) and the frame reader under it
// (wire/frame_reader.cc) fed an arbitrary byte stream of frames of both
// parities, control frames and garbage, through a pipe as from a peer.
// Input: cfg[1] (bits 0-1: the frame size cap, 64 B / 4 KiB / 64 KiB / 1 MiB;
// bit 2: the reply sink ends the channel (Mux::fail) on a reply with an odd
// tag, as the mount does on a reply it has no request for), then the stream.
// The request sink answers each request through the mux's writer (to
// /dev/null), the close sink answers with our own close frame.
// Contract checked: every frame handed to a sink is whole (its size field
// is its length, 7 bytes or more, within the cap) and of the sink's parity;
// the channel ends exactly once; a clean end means the stream was all
// frames, an unclean one says why; no frame is delivered after fail().
// Threads: the mux reader calls the sinks; this thread waits for the end.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "fuzz_common.h"
#include "mux/mux.h"

using namespace duct;
using duct::fuzz::die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    uint8_t cfg = in.u8();
    static const uint32_t caps[] = {64, 4096, 65536, 1u << 20};
    uint32_t cap = caps[cfg & 3];
    bool fail_odd = cfg & 4;
    std::string stream = in.take(in.n);

    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) die("pipe");
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    Fd rd(p[0]), wr(p[1]);
    size_t off = 0;
    while (off < stream.size()) {
        ssize_t n = write(wr.get(), stream.data() + off, stream.size() - off);
        if (n <= 0) die("cannot fill the pipe (input larger than its buffer?)");
        off += size_t(n);
    }
    wr.reset();

    std::mutex mu;
    std::condition_variable cv;
    int ends = 0;
    bool clean = false, failed = false, after_fail = false;
    std::string why;
    size_t delivered = 0;
    mux::Mux* mp = nullptr;

    auto check = [&](const std::string& f, bool odd) {
        if (f.size() < p9::HEADER || p9::frame_size(f) != f.size() || f.size() > cap)
            die("the mux passed on a frame that is not whole");
        if ((p9::frame_type(f) & 1) != odd) die("the mux routed a frame to the wrong side");
        if (failed) after_fail = true;
        delivered += f.size();
    };
    mux::Sinks sinks;
    sinks.request = [&](std::string f) {
        check(f, false);
        p9::Fcall r;
        r.tag = p9::frame_tag(f);
        r.msg = p9::Rlerror{5};
        mp->send(p9::encode(r, p9::Dialect::L));
    };
    sinks.reply = [&](std::string f) {
        check(f, true);
        if (fail_odd && (p9::frame_tag(f) & 1)) {
            failed = true;
            mp->fail("reply for a tag we never sent");
        }
    };
    sinks.close = [&] {
        delivered += 5;
        mp->send_close_frame();
    };
    sinks.end = [&](bool c, const std::string& w) {
        std::lock_guard<std::mutex> g(mu);
        ends++;
        clean = c;
        why = w;
        cv.notify_all();
    };
    Fd out(open("/dev/null", O_WRONLY | O_CLOEXEC));
    {
        mux::Mux m(std::move(rd), std::move(out), cap, sinks, false);
        mp = &m;
        m.start();
        {
            std::unique_lock<std::mutex> g(mu);
            if (!cv.wait_for(g, std::chrono::seconds(10), [&] { return ends > 0; }))
                die("the mux did not end the channel at the end of its input");
        }
        m.stop();
    }
    if (ends != 1) die("the channel ended " + std::to_string(ends) + " times");
    if (after_fail) die("a frame was delivered after Mux::fail");
    if (clean && delivered != stream.size())
        die("a clean end after " + std::to_string(delivered) + " of " + std::to_string(stream.size()) + " bytes");
    if (!clean && why.empty()) die("an unclean end without a reason");
    return 0;
}
