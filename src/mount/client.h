// Client: the 9P client half of the mount. It owns the tag table and the
// fid allocator and turns one T-message into one R-message (rpc).
//
// Threads: any number of FUSE workers (and the lock waiter, lock_wait.h)
// call rpc() at once; each blocks on its own condition variable until
// deliver() (the mux reader thread) hands it its reply, the channel is
// lost, its FUSE request is interrupted (then it sends Tflush and waits up
// to kFlushWaitMs for Rflush, 9P flush(5)), or the request is overdue
// (set_timeout: Tflush, EIO). A caller that gives up leaves the request
// behind, "abandoned": its tag and the fids it names stay reserved until
// the reply or the Rflush comes, so neither is reused while the peer may
// still act on them. deliver() never blocks on anything but mu_ and never
// sends. `send` is called outside mu_ and may block (the channel's
// queue); it must be thread-safe.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "mount/feed_log.h"
#include "mount/fuse_inc.h"
#include "mount/mount.h"
#include "proto/messages.h"

namespace duct::mnt {

class Client {
public:
    using Send = std::function<void(std::string frame)>;
    Client(Send send, bool trace, uint32_t msize);
    ~Client();  // frees what the tag table still owns (async, abandoned)
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // How long an interrupted request waits for its Rflush before it
    // answers EINTR anyway (a peer whose handler is stuck in a syscall may
    // never answer either). The caller is waiting to die or to run a
    // signal handler: two seconds is long enough for any live peer.
    static constexpr int kFlushWaitMs = 2000;
    // A request unanswered for `s` seconds fails with EIO (0: never), even
    // while other replies flow; see rpc(). --timeout sets it.
    void set_timeout(int s) { timeout_ms_ = int64_t(s) * 1000; }
    void set_timeout_ms(int64_t ms) { timeout_ms_ = ms; }

    // Sends t and waits for its reply. Returns 0 with the reply in `reply`,
    // or an errno: the peer's Rlerror/Rerror (a code no errno can be, 0 or
    // >= 512, is EIO), EIO when the channel is lost, the reply is
    // malformed or the request is overdue, EINTR when `req` was
    // interrupted and the peer flushed the request (or did not answer the
    // Tflush in time).
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
    // The request the peer may hold as long as it likes (the change feed's
    // Tfeed, feed.h): no --timeout deadline; cancel_held() (any thread)
    // flushes it, and it returns EINTR. One at a time.
    int rpc_held(p9::Message t, p9::Fcall& reply);
    void cancel_held();
    // Bumped by deliver() on the reader thread as each Rfeed arrives,
    // before any later reply is handed over: a reply whose request was sent
    // at an older value may predate a change an event announced; feed_log
    // says whether one did.
    uint64_t feed_gen() const { return feed_log_.gen(); }
    const FeedLog& feed_log() const { return feed_log_; }
    // Independent requests (no fid of one made by another) sent at once:
    // one round trip instead of n. Each result as rpc's; not interruptible
    // (for quick metadata calls and the lock waiter's retries).
    void rpc_many(std::vector<p9::Message> ts, std::vector<p9::Fcall>& rs, std::vector<int>& es);
    template <class RA, class RB>
    void call_pair(p9::Message a, RA& ra, int& ea, p9::Message b, RB& rb, int& eb) {
        std::vector<p9::Message> ts;
        ts.push_back(std::move(a));
        ts.push_back(std::move(b));
        std::vector<p9::Fcall> fs;
        std::vector<int> es;
        rpc_many(std::move(ts), fs, es);
        ea = take(fs[0], es[0], ra);
        eb = take(fs[1], es[1], rb);
    }
    template <class R>
    static int take(p9::Fcall& f, int e, R& r) {
        if (e) return e;
        if (auto* p = std::get_if<R>(&f.msg)) { r = std::move(*p); return 0; }
        return EIO;
    }
    // Tversion with NOTAG (version(5)); sets msize and dialect from a
    // recognised answer ("9P2000", "9P2000.L", "9P2000.L.duct.N").
    int version(uint32_t msize, const std::string& ver, p9::Rversion& r);

    // Fids. A fid is free for reuse only once its Tclunk is answered and no
    // abandoned request names it.
    uint32_t alloc_fid();
    void free_fid(uint32_t fid);  // for a fid the peer never took (failed walk)
    int clunk(uint32_t fid);      // waits for Rclunk
    void clunk_async(uint32_t fid);  // fire and forget; fid freed on reply
    // Tflush(oldtag NOTAG) under a fresh tag, fire and forget (Mount::probe).
    bool probe();

    void deliver(std::string frame);
    void lost();
    bool is_lost() const { return lost_.load(); }
    // Waits (up to ms) until no request is in flight but abandoned ones
    // and Tflushes.
    void drain(int ms);

    p9::Dialect dialect() const { return dialect_.load(); }
    // The peer is a duct that agreed on the extension (table.h): the ops
    // may send its messages. Otherwise they answer as before it existed.
    bool duct_ext() const { return dialect_.load() == p9::Dialect::Duct; }
    uint32_t msize() const { return msize_.load(); }
    uint32_t iosize() const { return msize_.load() - p9::IOHDRSZ; }
    MountStats stats() const;
    // Requests given up on whose tag is still reserved (tests, -v).
    size_t abandoned() const;

private:
    struct Pending {
        std::condition_variable* cv = nullptr;  // null: nobody waits (async or abandoned)
        uint8_t ttype = 0;
        uint16_t tag = p9::NOTAG;
        bool done = false;
        bool abandoned = false;  // its waiter gave up; deleted when answered or flushed
        bool flush_sent = false;
        int err = 0;
        p9::Fcall reply;
        uint32_t free_fid = p9::NOFID;    // async clunk: the fid to free on reply
        bool zombie_clunk = false;        // ... of a fid a late reply made (see Hold)
        std::vector<uint32_t> fids;       // every fid the request names
        uint32_t newfid = p9::NOFID;      // the fid it makes (walk, xattrwalk, attach)
        size_t nwname = 0;                // Twalk: names asked for
        uint16_t oldtag = p9::NOTAG;      // Tflush: the tag it flushes
    };
    // A fid an abandoned request names. It returns to the free list only
    // when the caller has let it go (released), no abandoned request names
    // it (held == 0), and the peer does not have it (zombie: a late reply
    // made it, or a flushed Tclunk left it; a Tclunk of it is on its way).
    struct Hold {
        int held = 0;
        bool released = false, zombie = false;
    };
    struct Interrupt {
        Client* c;
        std::condition_variable* cv;
        bool fired = false;  // guarded by c->mu_
    };
    static void on_interrupt(fuse_req_t req, void* data);
    int rpc_impl(p9::Message t, p9::Fcall& reply, fuse_req_t req, bool held);
    Interrupt* held_ = nullptr;      // the running rpc_held's (mu_)
    bool held_cancelled_ = false;    // cancel_held() came (mu_)
    FeedLog feed_log_;

    // Registers p under a fresh tag (or NOTAG) and sends; false if lost.
    bool start(Pending* p, p9::Message t, bool notag);
    void send_frame(const p9::Fcall& f);
    void finish(Pending* p, int err);  // mu_ held
    // Gives up on p (mu_ held): it stays in tags_, owned by the table from
    // now on; a Tflush is wanted for it unless one was sent already.
    bool abandon(Pending* p);
    void send_flush(uint16_t oldtag);  // async Tflush, mu_ not held
    void release_fid(uint32_t fid);  // mu_ held: the caller is done with fid
    void maybe_free(uint32_t fid);   // mu_ held
    void settle_abandoned(Pending* p, bool flushed);  // mu_ held
    void send_zombie_clunks();  // mu_ not held
    int sane_errno(uint32_t e);

    Send send_;
    bool trace_;
    std::atomic<uint32_t> msize_;
    std::atomic<p9::Dialect> dialect_{p9::Dialect::L};
    std::atomic<bool> lost_{false};
    std::atomic<int64_t> timeout_ms_{0};
    std::atomic<bool> bad_errno_logged_{false};

    // mu_ guards tags_, next_tag_, flushing_, fids (free_fids_, next_fid_,
    // holds_, zombies_) and every Pending reachable from tags_. It is a leaf lock:
    // nothing else is taken while holding it (the FUSE interrupt callback
    // holds libfuse's req lock and then takes mu_, so never call libfuse
    // under mu_).
    mutable std::mutex mu_;
    std::condition_variable idle_cv_;  // tags_ became empty or a tag freed
    std::unordered_map<uint16_t, Pending*> tags_;
    uint16_t next_tag_ = 0;
    std::vector<uint32_t> free_fids_;
    uint32_t next_fid_ = 1;
    std::unordered_map<uint32_t, Hold> holds_;
    std::unordered_map<uint16_t, int> flushing_;  // oldtag -> unanswered Tflushes naming it
    std::vector<uint32_t> zombies_;  // fids to Tclunk (send_zombie_clunks)
    std::atomic<bool> have_zombies_{false};
    size_t n_abandoned_ = 0;

    std::atomic<uint64_t> n_requests_{0}, n_errors_{0};
public:
    std::atomic<uint64_t> bytes_read{0}, bytes_written{0};
};

}  // namespace duct::mnt
