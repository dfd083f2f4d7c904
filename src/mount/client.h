// Client: the 9P client half of the mount. It owns the tag table and the
// fid allocator and turns one T-message into one R-message (rpc).
//
// Threads: any number of FUSE workers call rpc() at once; each blocks on its
// own condition variable until deliver() (the mux reader thread) hands it
// its reply, the channel is lost, or its FUSE request is interrupted (then
// it sends Tflush and waits for Rflush, 9P flush(5)). deliver() never blocks
// on anything but mu_. `send` is called outside mu_ and may block (the
// channel's queue); it must be thread-safe.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mount/fuse_inc.h"
#include "mount/mount.h"
#include "proto/messages.h"

namespace duct::mnt {

class Client {
public:
    using Send = std::function<void(std::string frame)>;
    Client(Send send, bool trace, uint32_t msize);

    // Sends t and waits for its reply. Returns 0 with the reply in `reply`,
    // or an errno: the peer's Rlerror/Rerror, EIO when the channel is lost
    // or the reply is malformed, EINTR when `req` was interrupted and the
    // peer flushed the request first.
    int rpc(p9::Message t, p9::Fcall& reply, fuse_req_t req = nullptr);
    // Typed form: the reply must be an R; anything else is EIO.
    template <class R>
    int call(p9::Message t, R& r, fuse_req_t req = nullptr) {
        p9::Fcall f;
        int e = rpc(std::move(t), f, req);
        if (e) return e;
        if (auto* p = std::get_if<R>(&f.msg)) { r = std::move(*p); return 0; }
        return EIO;
    }
    // Two independent requests (no fid of one made by the other) sent at
    // once: one round trip instead of two. Each result as rpc's; not
    // interruptible (for quick metadata calls only).
    void rpc_pair(p9::Message a, p9::Fcall& ra, int& ea, p9::Message b, p9::Fcall& rb, int& eb);
    template <class RA, class RB>
    void call_pair(p9::Message a, RA& ra, int& ea, p9::Message b, RB& rb, int& eb) {
        p9::Fcall fa, fb;
        rpc_pair(std::move(a), fa, ea, std::move(b), fb, eb);
        auto take = [](p9::Fcall& f, auto& r, int& e) {
            if (e) return;
            using R = std::decay_t<decltype(r)>;
            if (auto* p = std::get_if<R>(&f.msg)) r = std::move(*p);
            else e = EIO;
        };
        take(fa, ra, ea);
        take(fb, rb, eb);
    }
    // Tversion with NOTAG (version(5)); sets msize and dialect from a
    // recognised answer ("9P2000", "9P2000.L", "9P2000.L.duct.N").
    int version(uint32_t msize, const std::string& ver, p9::Rversion& r);

    // Fids. A fid is free for reuse only once its Tclunk is answered.
    uint32_t alloc_fid();
    void free_fid(uint32_t fid);  // for a fid the peer never took (failed walk)
    int clunk(uint32_t fid);      // waits for Rclunk
    void clunk_async(uint32_t fid);  // fire and forget; fid freed on reply
    // Tflush(oldtag NOTAG) under a fresh tag, fire and forget (Mount::probe).
    bool probe();

    void deliver(std::string frame);
    void lost();
    bool is_lost() const { return lost_.load(); }
    // Waits (up to ms) until no request is in flight.
    void drain(int ms);

    p9::Dialect dialect() const { return dialect_.load(); }
    // The peer is a duct that agreed on the extension (table.h): the ops
    // may send its messages. Otherwise they answer as before it existed.
    bool duct_ext() const { return dialect_.load() == p9::Dialect::Duct; }
    uint32_t msize() const { return msize_.load(); }
    uint32_t iosize() const { return msize_.load() - p9::IOHDRSZ; }
    MountStats stats() const;

private:
    struct Pending {
        std::condition_variable* cv = nullptr;  // null: nobody waits (async)
        uint8_t ttype = 0;
        bool done = false, interrupted = false;
        int err = 0;
        p9::Fcall reply;
        uint32_t free_fid = p9::NOFID;  // async clunk: fid to free on reply
    };
    struct Interrupt {
        Client* c;
        Pending* p;
    };
    static void on_interrupt(fuse_req_t req, void* data);

    // Registers p under a fresh tag (or NOTAG) and sends; false if lost.
    bool start(Pending* p, p9::Message t, bool notag, uint16_t& tag);
    void send_frame(const p9::Fcall& f);
    void finish(Pending* p, int err);  // mu_ held

    Send send_;
    bool trace_;
    std::atomic<uint32_t> msize_;
    std::atomic<p9::Dialect> dialect_{p9::Dialect::L};
    std::atomic<bool> lost_{false};

    // mu_ guards tags_, next_tag_, fids (free_fids_, next_fid_) and every
    // Pending reachable from tags_. It is a leaf lock: nothing else is
    // taken while holding it (the FUSE interrupt callback holds libfuse's
    // req lock and then takes mu_, so never call libfuse under mu_).
    mutable std::mutex mu_;
    std::condition_variable idle_cv_;  // tags_ became empty or a tag freed
    std::unordered_map<uint16_t, Pending*> tags_;
    uint16_t next_tag_ = 0;
    std::vector<uint32_t> free_fids_;
    uint32_t next_fid_ = 1;

    std::atomic<uint64_t> n_requests_{0}, n_errors_{0};
public:
    std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
};

}  // namespace duct::mnt
