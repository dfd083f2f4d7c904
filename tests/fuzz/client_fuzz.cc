// Fuzz target: the mount's 9P client (mount/client.cc) fed hostile replies:
// wrong tags, wrong types, truncated or padded fields, huge counts,
// replies to requests it never sent, late replies to requests it gave up.
//
// One input: a program of operations, each one byte of opcode and its
// operands (all from the input, see run_op), run on one Client. Every frame
// the client sends is answered from the input at once, from inside its send
// callback (the peer's side): `count` hostile frames, each either raw bytes
// or a table message filled from the input, with the request's tag or
// another, with the right R type or another, its size field right or wrong;
// then the closing reply (the right tag, Rlerror or the R type's message
// filled from the input), so every request ends whatever came before it. In
// "deferred" mode (opcode 5) the answers are held until the call has timed
// out (1 ms), which drives the abandon/Tflush/zombie-clunk paths; answering
// after the call has returned keeps the run deterministic.
// Contract checked: a call returns 0 only with the reply type its request
// wants, an error is an errno FUSE accepts (1..511), version() sets a
// dialect and an msize within what was offered, and nothing leaks or hangs.
// Threads: only the fuzzer's; the send callback runs on it.
#include <deque>

#include "fuzz_common.h"
#include "mount/client.h"

using namespace duct;
using duct::fuzz::die;

namespace {

struct Peer {
    fuzz::Input& in;
    mnt::Client* c = nullptr;
    bool deferred = false;
    std::deque<std::string> held;  // frames sent in deferred mode, answered later
    int depth = 0;

    void answer(const std::string& t) {
        if (t.size() < p9::HEADER || p9::frame_size(t) != t.size()) die("the client sent a malformed frame");
        uint8_t ttype = p9::frame_type(t);
        if (ttype & 1) die("the client sent an R-message");
        uint16_t tag = p9::frame_tag(t);
        p9::Dialect d = c->dialect();
        int hostile = in.u8() % 4;
        for (int i = 0; i < hostile; i++) c->deliver(hostile_frame(ttype, tag, d));
        // The closing reply.
        uint8_t how = in.u8();
        p9::Fcall r;
        r.tag = tag;
        if (how & 1 || !fuzz::make_message(uint8_t(ttype + 1), r.msg)) {
            r.msg = p9::Rlerror{uint32_t(in.u8() % 40 + 1)};
        } else {
            fuzz::fill_message(r.msg, in);
        }
        c->deliver(p9::encode(r, d));
    }

    std::string hostile_frame(uint8_t ttype, uint16_t tag, p9::Dialect d) {
        uint8_t how = in.u8();
        std::string f;
        if (how & 1) {
            f = fuzz::next_frame(in);  // raw bytes after a right size field
        } else {
            // Any table message (the right R type, or any row), filled.
            uint8_t type = how & 2 ? uint8_t(ttype + 1) : in.u8();
            p9::Fcall r;
            if (!fuzz::make_message(type, r.msg)) r.msg = p9::Rlerror{in.u32()};
            fuzz::fill_message(r.msg, in);
            r.tag = in.u16();
            f = p9::encode(r, fuzz::dialect_of(in.u8()));
        }
        if (f.size() >= p9::HEADER) {
            if (how & 4) {  // the request's own tag
                f[5] = char(tag);
                f[6] = char(tag >> 8);
            }
            if (how & 8) f.resize(f.size() - std::min<size_t>(f.size() - p9::HEADER, in.u8()));  // truncated
            if (how & 16) {  // a size field that lies
                uint32_t n = in.u32();
                for (int i = 0; i < 4; i++) f[i] = char(n >> (8 * i));
            }
        }
        return f;
    }

    void on_send(std::string t) {
        if (deferred) {
            held.push_back(std::move(t));
            return;
        }
        answer(t);
    }
    void release() {
        deferred = false;
        while (!held.empty()) {
            std::string t = std::move(held.front());
            held.pop_front();
            answer(t);
        }
    }
};

p9::Message request(fuzz::Input& in) {
    static const std::vector<uint8_t> types = fuzz::request_types();
    uint8_t t = types[in.u8() % types.size()];
    p9::Message m;
    if (!fuzz::make_message(t, m)) die("a request type of the table has no message");
    fuzz::fill_message(m, in);
    return m;
}

uint8_t type_of(const p9::Message& m) {
    p9::Fcall f;
    f.msg = m;
    return f.type();
}

void check_result(int e, uint8_t ttype, const p9::Fcall& r) {
    if (e == 0) {
        if (r.type() != ttype + 1)
            die(std::string("rpc of ") + p9::type_name(ttype) + " returned 0 with a " +
                (p9::type_name(r.type()) ? p9::type_name(r.type()) : "?"));
    } else if (e < 1 || e > 511) {
        die("rpc returned " + std::to_string(e) + ", which FUSE refuses");
    }
}

void run_op(mnt::Client& c, Peer& peer, fuzz::Input& in) {
    uint8_t op = in.u8();
    switch (op % 8) {
    case 0:
    case 1: {  // one call
        p9::Message m = request(in);
        uint8_t tt = type_of(m);
        p9::Fcall r;
        check_result(c.rpc(std::move(m), r), tt, r);
        break;
    }
    case 2: {  // several at once
        std::vector<p9::Message> ms;
        std::vector<uint8_t> tts;
        int n = in.u8() % 4 + 1;
        for (int i = 0; i < n; i++) {
            ms.push_back(request(in));
            tts.push_back(type_of(ms.back()));
        }
        std::vector<p9::Fcall> rs;
        std::vector<int> es;
        c.rpc_many(std::move(ms), rs, es);
        if (rs.size() != tts.size() || es.size() != tts.size()) die("rpc_many lost results");
        for (size_t i = 0; i < tts.size(); i++) check_result(es[i], tts[i], rs[i]);
        break;
    }
    case 3: c.clunk_async(c.alloc_fid()); break;
    case 4: {
        uint32_t f = c.alloc_fid();
        if (f == p9::NOFID) die("alloc_fid gave NOFID");
        if (in.u8() & 1) c.free_fid(f);
        else check_result(c.clunk(f), p9::Tclunk::kType, p9::Fcall{0, p9::Rclunk{}});
        break;
    }
    case 5: {  // a call that times out before its answers come
        p9::Message m = request(in);
        uint8_t tt = type_of(m);
        c.set_timeout_ms(1);
        peer.deferred = true;
        p9::Fcall r;
        int e = c.rpc(std::move(m), r);
        c.set_timeout_ms(0);
        if (e != EIO) check_result(e, tt, r);
        peer.release();
        break;
    }
    case 6: c.probe(); break;
    case 7: {  // a new Tversion, answered from the input
        uint32_t msize = 256 + in.u16();
        static const char* vers[] = {"9P2000.L.duct.1", "9P2000.L", "9P2000"};
        p9::Rversion rv;
        int e = c.version(msize, vers[in.u8() % 3], rv);
        if (e == 0) {
            if (c.msize() > msize) die("version() raised msize above what was offered");
        } else if (e < 1 || e > 511) {
            die("version() returned " + std::to_string(e));
        }
        break;
    }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    Peer peer{in};
    mnt::Client c([&peer](std::string f) { peer.on_send(std::move(f)); }, false, 8192);
    peer.c = &c;
    int ops = 0;
    while (!in.empty() && ops++ < 64) run_op(c, peer, in);
    c.drain(0);
    c.lost();
    return 0;
}
