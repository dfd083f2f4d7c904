// The server's session loop: decode on the reader thread, run on workers,
// answer exactly once per tag.
//
// Threads:
//  - the mux reader thread calls handle(): it decodes the frame, answers
//    Tversion and Tflush itself (neither touches the disk), registers the
//    tag in the in-flight table and queues the request. It blocks only on
//    inflight_mu_ (briefly) and when the peer has more than kMaxQueued
//    requests or kMaxQueuedBytes of frames waiting (our own backpressure:
//    memory stays bounded however fast the peer sends), which waits for
//    the workers, that is for the disk, and never for the channel writer:
//    send_ must never wait (the mux queues replies without waiting for
//    room, issue 9) and must not call back into the server: it runs under
//    inflight_mu_.
//  - `threads` workers pop requests, run the handler (the syscalls), and
//    complete the tag: remove it from the in-flight table, send the reply,
//    then any Rflush waiting for it.
//  - the overseer thread answers a Tflush whose request is still running
//    after kFlushWait (its reply, if it ever comes, is dropped), and adds a
//    worker while requests wait and workers are stuck in syscalls that do
//    not end (a hung NFS or FUSE mount inside the export), up to
//    kMaxWorkers; so one stuck syscall neither makes the peer's caller
//    unkillable nor starves the other requests.
//  - teardown()/stop() are called by the uplink; teardown waits for the
//    in-flight requests, stop joins the overseer and the workers (a worker
//    stuck in a syscall is waited for: it cannot be cancelled).
//
// Versions: every Tversion starts a new epoch. Requests of an older epoch
// are dropped if not yet started and their replies are suppressed if they
// were, so nothing from the old session follows the Rversion.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <cstring>
#include <condition_variable>
#include <thread>
#include <unordered_map>

#include "base/log.h"
#include "base/queue.h"
#include "export/creds.h"
#include "export/policy.h"
#include "export/session.h"
#include "proto/codec.h"
#include "proto/errors.h"
#include "proto/trace.h"

namespace duct::exp {

namespace {

using Handler = Reply (*)(Ctx&, const p9::Fcall&);
using Table = std::array<Handler, 256>;

template <class M, Reply (*F)(Ctx&, const M&)>
Reply call(Ctx& c, const p9::Fcall& f) {
    return F(c, std::get<M>(f.msg));
}

// One slot per request type; an empty slot answers ENOSYS (Rlerror) or
// "function not implemented" (Rerror). Tversion and Tflush never get here
// (handle() answers them). Not implemented: authentication (Tauth answers
// "authentication not required"), 9P2000.u, getattr's btime/gen/
// data_version, and persistent DMAPPEND/DMEXCL (Unix has no such bits:
// DMAPPEND applies to the create's own open, DMEXCL is ignored).
#define SLOT(T) t[p9::T::kType] = &call<p9::T, h_##T>;
constexpr Table make_l() {
    Table t{};
    SLOT(Tauth) SLOT(Tattach) SLOT(Twalk) SLOT(Tclunk) SLOT(Tremove) SLOT(Tread) SLOT(Twrite)
    SLOT(Tlopen) SLOT(Tlcreate) SLOT(Tfsync) SLOT(Treaddir) SLOT(Tgetattr) SLOT(Tsetattr)
    SLOT(Tstatfs) SLOT(Treadlink) SLOT(Tmkdir) SLOT(Tsymlink) SLOT(Tmknod) SLOT(Tlink)
    SLOT(Trename) SLOT(Trenameat) SLOT(Tunlinkat) SLOT(Txattrwalk) SLOT(Txattrcreate)
    SLOT(Tlock) SLOT(Tgetlock)
    return t;
}
// The duct extension (table.h), only on a session that negotiated it: in a
// plain .L session these slots are empty and answer ENOSYS, as a type we do
// not know at all does.
constexpr Table make_duct_walkattr() {
    Table t = make_l();
    SLOT(Tfallocate) SLOT(Tlseek) SLOT(Trenameat2) SLOT(Twalkattr)
    return t;
}
constexpr Table make_duct() {
    Table t = make_duct_walkattr();
    SLOT(Treaddirplus) SLOT(Tlcreateattr)
    return t;
}
constexpr Table make_plain() {
    Table t{};
    SLOT(Tauth) SLOT(Tattach) SLOT(Twalk) SLOT(Tclunk) SLOT(Tremove) SLOT(Tread) SLOT(Twrite)
    SLOT(Topen) SLOT(Tcreate) SLOT(Tstat) SLOT(Twstat)
    return t;
}
#undef SLOT
constexpr Table kL = make_l();
constexpr Table kDuct = make_duct();
// A duct from before Treaddirplus and Tlcreateattr, for the tests of the
// mount's fallback (it.readdirplus): DUCT_TEST_NO_RDP=1 in the exporting
// duct's environment. Tests only; not documented for users.
constexpr Table kDuctWalkattr = make_duct_walkattr();
const Table& duct_table() {
    static const bool old = [] {
        const char* v = getenv("DUCT_TEST_NO_RDP");
        return v && *v && strcmp(v, "0") != 0;
    }();
    return old ? kDuctWalkattr : kDuct;
}
constexpr Table kPlain = make_plain();

class ServerImpl final : public Server {
public:
    ServerImpl(const ServerOptions& o, Send send) : send_(std::move(send)) { s_.opts = o; }
    ~ServerImpl() override { stop(); }

    bool init(std::string& err);
    void handle(std::string frame) override;
    void teardown() override;
    bool in_use() const override { return s_.fids.size() > 0; }
    void stop() override;
    ServerStats stats() const override {
        return {s_.n_requests.load(), s_.n_errors.load(), s_.n_read.load(), s_.n_written.load()};
    }

private:
    std::atomic<bool> warned_fds_{false};  // EMFILE logged once
    std::atomic<bool> warned_fids_{false};  // the kMaxFids limit logged once
    struct Job {
        p9::Fcall fc;
        uint64_t epoch = 0;
        uint64_t serial = 0;  // its Flight's: a tag the peer reused is another request
        // Fids dropped by a Tversion, finished (ORCLOSE, xattr) on a worker.
        std::vector<std::pair<std::shared_ptr<Fid>, std::string>> cleanup;
    };
    struct Flight {
        uint64_t epoch = 0;
        uint64_t serial = 0;
        bool started = false;
        std::vector<uint16_t> flushers;
        size_t bytes = 0;  // its frame's size, counted in queued_bytes_
        int64_t flush_by = 0;  // steady ns: a Tflush waits; answer it by then
        bool is_flush = false;  // a Tflush waiting for another (answered with it)
    };
    // Limits on what the peer can have queued at once (see handle()):
    // kMaxQueued and kMaxQueuedBytes, limits.h.
    // flush(5) wants Rflush "immediately"; we give a running request this
    // long to finish, so its reply (a state change the client must honour)
    // still comes first in the usual case, and only a stuck one is cut off.
    static constexpr auto kFlushWait = std::chrono::seconds(1);
    // A worker on one request this long counts as stuck; the pool grows by
    // one per overseer tick while requests wait and fewer than `threads`
    // workers are free of stuck syscalls, up to kMaxWorkers (extra workers
    // stay until stop).
    static constexpr auto kStuckAfter = std::chrono::seconds(1);
    static constexpr size_t kMaxWorkers = 64;

    void worker(std::atomic<int64_t>* busy);
    void add_worker();  // under pool_mu_
    void oversee();
    void run(Job& j);
    void complete(uint16_t tag, uint64_t epoch, uint64_t serial, const std::string* reply);
    void answer_flushers(std::vector<uint16_t> flushers);  // under inflight_mu_
    void send_rflush(uint16_t tag);                         // under inflight_mu_
    void version(const p9::Fcall& fc);
    void flush(uint16_t tag, uint16_t oldtag);
    std::string encode_reply(uint16_t tag, Reply& r, p9::Dialect d);
    void feed_request(uint16_t tag, uint64_t seq);  // reader thread
    void feed_ready();                              // the feed's thread
    void reply_now(uint16_t tag, Reply r);
    bool trace() const { return s_.opts.trace || tracing(); }

    Session s_;
    Send send_;
    std::atomic<uint64_t> bad_frames_{0};
    uint64_t abandoned_ = 0;  // flushed requests answered without their reply (under inflight_mu_)
    BlockingQueue<Job> q_;
    std::mutex pool_mu_;  // guards workers_ and busy_ (their growth); after inflight_mu_
    std::vector<std::thread> workers_;
    std::deque<std::atomic<int64_t>> busy_;  // per worker: steady ns its request began, 0 idle
    std::thread overseer_;
    std::condition_variable over_cv_;  // wakes the overseer (with inflight_mu_)
    std::once_flag stop_once_;

    // Guards inflight_, epoch_ and stopping_. Held while calling send_, so
    // a tag's removal and its reply are one step (no reply can overtake a
    // later Rversion, and an Rflush always follows the reply it waited
    // for). Lock order: inflight_mu_ before FidTable::mu_ (version() clears
    // the table under it); never taken while holding a Fid::mu.
    std::mutex inflight_mu_;
    std::condition_variable idle_cv_;  // signalled when inflight_ shrinks
    std::unordered_map<uint16_t, Flight> inflight_;
    uint64_t epoch_ = 0;
    uint64_t serial_ = 0;      // numbers every Flight
    size_t queued_bytes_ = 0;  // sum of Flight::bytes
    bool stopping_ = false;
    // The one Tfeed held until there are events (feed.h): parked here, on
    // no worker, so a Tflush of it is answered at once (flush()).
    bool parked_ = false;
    uint16_t parked_tag_ = 0;
};

bool ServerImpl::init(std::string& err) {
    s_.root.reset(open(s_.opts.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!s_.root) {
        err = strerror(errno);
        return false;
    }
    struct stat st;
    if (int e = stat_fd(s_.root.get(), st)) {
        err = strerror(e);
        return false;
    }
    s_.root_dev = st.st_dev;
    s_.root_ino = st.st_ino;
    s_.qids.set_root(st.st_dev);
    if (s_.opts.file_handles) s_.handles.init(s_.root.get());
    // Let this process use as many descriptors as it is allowed
    // (process-wide, but raising a soft limit to the hard one harms no one).
    // Without file handles (handle.h) every fid holds a descriptor and the
    // kernel client keeps a fid per cached inode: then root raises the hard
    // limit too, up to the kernel's fs.nr_open, since a peer that looks at
    // every file of a large tree (git status, find, ls -l of 100,000 names)
    // holds that many fids. With handles only open files and requests in
    // progress hold descriptors, and the hard limit is left as it was set.
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max;
        if (geteuid() == 0 && !s_.handles.enabled()) {
            unsigned long nr_open = 0;
            if (FILE* f = fopen("/proc/sys/fs/nr_open", "re")) {
                if (fscanf(f, "%lu", &nr_open) != 1) nr_open = 0;
                fclose(f);
            }
            if (nr_open > want) want = rlim_t(nr_open);
        }
        if (want > rl.rlim_cur) {
            struct rlimit up{want, std::max(want, rl.rlim_max)};
            if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
                rl.rlim_cur = rl.rlim_max;  // not root after all: the soft limit up to the hard one
                setrlimit(RLIMIT_NOFILE, &rl);
            }
        }
    }
    if (s_.opts.max_msize < p9::MINMSIZE) s_.opts.max_msize = p9::MINMSIZE;
    if (s_.opts.threads <= 0) s_.opts.threads = 8;
    {
        std::lock_guard<std::mutex> g(pool_mu_);
        for (int i = 0; i < s_.opts.threads; i++) add_worker();
    }
    overseer_ = std::thread([this] { oversee(); });
    return true;
}

std::string ServerImpl::encode_reply(uint16_t tag, Reply& r, p9::Dialect d) {
    p9::Fcall out;
    out.tag = tag;
    if (r.err) {
        s_.n_errors++;
        if (r.err == EMFILE && s_.fids.size() >= kMaxFids) {
            // Our own limit on what one peer may hold, not the process's
            // descriptors: say which, to the peer (9P2000) and in our log.
            if (r.ename.empty()) r.ename = "too many fids (" + std::to_string(kMaxFids) + " per peer)";
            if (!warned_fids_.exchange(true))
                log_error("export: the peer holds %zu fids, the most one peer may; its further walks, "
                          "attaches and creates fail with EMFILE until it clunks some",
                          kMaxFids);
        } else if ((r.err == EMFILE || r.err == ENFILE) && !warned_fds_.exchange(true)) {
            struct rlimit rl{};
            getrlimit(RLIMIT_NOFILE, &rl);
            log_error("export: out of file descriptors (limit %llu; %s): raise `ulimit -n` for the exporting duct",
                      (unsigned long long)rl.rlim_cur,
                      s_.handles.enabled() ? "every file the peer has open is one"
                                           : "without file handles every fid the peer holds, one per file its "
                                             "kernel caches, is one");
        }
        if (d == p9::Dialect::P2000)
            out.msg = p9::Rerror{r.ename.empty() ? p9::errstr_of(r.err) : r.ename};
        else
            out.msg = p9::Rlerror{uint32_t(r.err)};
    } else {
        out.msg = std::move(r.msg);
    }
    if (trace()) log_trace_line("-> " + p9::format(out));
    return p9::encode(out, d);
}

void ServerImpl::reply_now(uint16_t tag, Reply r) {
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (stopping_) return;
    if (inflight_.count(tag)) return;  // never a second answer for a live tag
    send_(encode_reply(tag, r, s_.dialect.load()));
}

void ServerImpl::handle(std::string frame) {
    if (frame.size() < p9::HEADER) {
        log_error("export: dropped a %zu-byte frame (no tag to answer)", frame.size());
        return;
    }
    uint16_t tag = p9::frame_tag(frame);
    uint8_t type = p9::frame_type(frame);
    p9::Dialect d = s_.dialect.load();
    uint32_t msize = s_.msize.load();
    p9::Fcall fc;
    std::string err = p9::decode(frame, d, msize ? msize : s_.opts.max_msize, fc);
    if (!err.empty()) {
        // A hostile peer must not be able to flood our log: the first few,
        // then one in a thousand.
        uint64_t n = bad_frames_++;
        if (n < 10 || n % 1000 == 0)
            log_error("export: bad frame (%llu so far): %s", (unsigned long long)n + 1, err.c_str());
        s_.n_requests++;
        // 9P2000's Rerror can say what was wrong (the decoder names the
        // field and the limit: "Twalk: 17 elements (MAXWELEM is 16)");
        // Rlerror carries only the errno.
        reply_now(tag, !p9::known_type(type) || (type & 1) ? fail(ENOSYS) : fail(EPROTO, err));
        return;
    }
    if (trace()) log_trace_line("<- " + p9::format(fc));
    s_.n_requests++;
    if (p9::holds<p9::Tversion>(fc)) {
        version(fc);
        return;
    }
    if (auto* fl = std::get_if<p9::Tflush>(&fc.msg)) {
        flush(tag, fl->oldtag);
        return;
    }
    if (msize == 0) {  // no Tversion yet: there is no session to act in
        reply_now(tag, fail(EPROTO, "no version negotiated"));
        return;
    }
    if (auto* tf = std::get_if<p9::Tfeed>(&fc.msg)) {
        feed_request(tag, tf->seq);
        return;
    }
    uint64_t epoch, serial;
    {
        std::unique_lock<std::mutex> g(inflight_mu_);
        // Backpressure: a peer that sends faster than the disk answers
        // holds this reader (and so the channel) instead of growing our
        // memory without bound. Workers never wait forever, so this ends.
        idle_cv_.wait(g, [&] {
            return stopping_ || (inflight_.size() < kMaxQueued && queued_bytes_ < kMaxQueuedBytes);
        });
        if (stopping_) return;
        if (inflight_.count(tag)) {
            // A client bug: answering would give that tag two replies.
            log_error("export: tag %u reused while in flight; request dropped", tag);
            return;
        }
        epoch = epoch_;
        serial = ++serial_;
        if (inflight_.empty()) over_cv_.notify_one();
        inflight_[tag] = Flight{epoch, serial, false, {}, frame.size()};
        queued_bytes_ += frame.size();
    }
    q_.push(Job{std::move(fc), epoch, serial, {}});
}

// version(5): msize is the smaller of the two; the version is the client's
// if we speak it, a lower one we do speak ("9P2000.u" -> "9P2000"), else
// "unknown". It aborts all outstanding I/O and clunks every fid.
//  - "9P2000.L" is answered exactly so (the kernel's v9fs wants that string);
//  - "9P2000.L.duct.N" (another duct's mount, messages.h) gets the duct
//    extension at the lower of the two levels;
//  - any other "9P2000.L.<x>" (gVisor's "9P2000.L.Google.N", a future duct
//    level we do not parse) is an extension of 9P2000.L we do not know:
//    answer its base "9P2000.L", the earlier version we speak;
//  - "9P2000", "9P2000.u", ...: plain 9P2000.
void ServerImpl::version(const p9::Fcall& fc) {
    const auto& m = std::get<p9::Tversion>(fc.msg);
    uint32_t msize = std::min(m.msize, s_.opts.max_msize);
    std::string ver = "unknown";
    p9::Dialect d = p9::Dialect::L;
    if (uint32_t level = p9::duct_level(m.version)) {
        ver = p9::duct_version(std::min(level, p9::kDuctLevel));
        d = p9::Dialect::Duct;
    } else if (m.version == "9P2000.L" || m.version.rfind("9P2000.L.", 0) == 0) {
        ver = "9P2000.L";
    } else if (m.version.rfind("9P2000", 0) == 0) {
        ver = "9P2000";
        d = p9::Dialect::P2000;
    }
    if (msize < p9::MINMSIZE) ver = "unknown";
    std::vector<std::pair<std::shared_ptr<Fid>, std::string>> old;
    {
        std::lock_guard<std::mutex> g(inflight_mu_);
        if (stopping_) return;
        epoch_++;
        inflight_.clear();
        parked_ = false;
        queued_bytes_ = 0;
        idle_cv_.notify_all();
        old = s_.fids.clear();
        s_.dialect.store(d);
        s_.msize.store(ver == "unknown" ? 0 : msize);
        p9::Fcall out;
        out.tag = fc.tag;
        out.msg = p9::Rversion{msize, ver};
        if (trace()) log_trace_line("-> " + p9::format(out));
        send_(p9::encode(out, d));
    }
    s_.feed.reset();  // the new session starts its own (outside inflight_mu_: it joins)
    // Finishing a fid may touch the disk (ORCLOSE, a pending xattr): a
    // worker does it, not this reader thread.
    if (!old.empty()) q_.push(Job{{}, 0, 0, std::move(old)});
}

// flush(5): a request not yet started is never run and Rflush goes at
// once; one that is running gets kFlushWait to finish, then Rflush is
// answered after its reply (which the client must honour), or without it
// (the overseer; a reply that comes later is dropped). The old tag is free
// for the peer only once Rflush is out, and ours only then too.
void ServerImpl::flush(uint16_t tag, uint16_t oldtag) {
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (stopping_) return;
    if (inflight_.count(tag)) {
        log_error("export: flush tag %u reused while in flight; dropped", tag);
        return;
    }
    if (parked_ && parked_tag_ == oldtag) {  // a held Tfeed: never on a worker
        parked_ = false;
        send_rflush(tag);
        return;
    }
    auto it = inflight_.find(oldtag);
    if (it == inflight_.end() || oldtag == tag) {
        send_rflush(tag);
        return;
    }
    if (!it->second.started) {
        // Still queued: it never happens. Its Job finds no Flight of its serial.
        std::vector<uint16_t> flushers = std::move(it->second.flushers);
        flushers.push_back(tag);
        queued_bytes_ -= it->second.bytes;
        inflight_.erase(it);
        answer_flushers(std::move(flushers));
        idle_cv_.notify_all();
        return;
    }
    it->second.flushers.push_back(tag);
    if (!it->second.flush_by && !it->second.is_flush)
        it->second.flush_by = (std::chrono::steady_clock::now() + kFlushWait).time_since_epoch().count();
    Flight fl;
    fl.epoch = epoch_;
    fl.serial = ++serial_;
    fl.started = true;
    fl.is_flush = true;
    inflight_[tag] = std::move(fl);
    over_cv_.notify_one();
}

// Tfeed (table.h): answered at once if a batch is ready (seq 0: always),
// else parked until the feed's thread has one (feed_ready). One at a time.
void ServerImpl::feed_request(uint16_t tag, uint64_t seq) {
    if (int e = s_.feed.start(s_.root.get(), [this] { feed_ready(); })) {
        reply_now(tag, fail(e));
        return;
    }
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (stopping_) return;
    p9::Dialect d = s_.dialect.load();
    if (inflight_.count(tag) || (parked_ && parked_tag_ == tag)) {
        log_error("export: tag %u reused while in flight; request dropped", tag);
        return;
    }
    if (parked_) {  // a second feed request: refused, the first stays
        Reply r = fail(EBUSY);
        send_(encode_reply(tag, r, d));
        return;
    }
    s_.feed.request(seq);
    p9::Rfeed out;
    if (s_.feed.take(out, s_.iounit() > 64 ? s_.iounit() - 64 : 64)) {
        Reply r(std::move(out));
        send_(encode_reply(tag, r, d));
        return;
    }
    parked_ = true;
    parked_tag_ = tag;
}

void ServerImpl::feed_ready() {
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (stopping_ || !parked_) return;
    p9::Rfeed out;
    if (!s_.feed.take(out, s_.iounit() > 64 ? s_.iounit() - 64 : 64)) return;
    parked_ = false;
    Reply r(std::move(out));
    send_(encode_reply(parked_tag_, r, s_.dialect.load()));
}

void ServerImpl::send_rflush(uint16_t tag) {
    p9::Fcall out;
    out.tag = tag;
    out.msg = p9::Rflush{};
    if (trace()) log_trace_line("-> " + p9::format(out));
    if (!stopping_) send_(p9::encode(out, s_.dialect.load()));
}

// Every Tflush that waited (and flushes of those flushes): each tag is
// freed, then its Rflush goes out.
void ServerImpl::answer_flushers(std::vector<uint16_t> flushers) {
    while (!flushers.empty()) {
        uint16_t ft = flushers.back();
        flushers.pop_back();
        auto f = inflight_.find(ft);
        if (f != inflight_.end()) {
            for (auto x : f->second.flushers) flushers.push_back(x);
            inflight_.erase(f);
        }
        send_rflush(ft);
    }
}

void ServerImpl::complete(uint16_t tag, uint64_t epoch, uint64_t serial, const std::string* reply) {
    std::lock_guard<std::mutex> g(inflight_mu_);
    if (epoch != epoch_) return;  // a Tversion ended that session
    auto it = inflight_.find(tag);
    // Gone, or the tag is another request now: this one was flushed and its
    // Rflush already went out without it.
    if (it == inflight_.end() || it->second.serial != serial) return;
    std::vector<uint16_t> flushers = std::move(it->second.flushers);
    queued_bytes_ -= it->second.bytes;
    inflight_.erase(it);  // the tag is free before its reply goes out
    if (reply && !stopping_) send_(*reply);
    answer_flushers(std::move(flushers));
    idle_cv_.notify_all();
}

// The overseer: flush deadlines and stuck workers (see the top of the file).
void ServerImpl::oversee() {
    using clock = std::chrono::steady_clock;
    std::unique_lock<std::mutex> g(inflight_mu_);
    while (!stopping_) {
        if (inflight_.empty()) {
            over_cv_.wait(g);
            continue;
        }
        // Tick while anything is in flight: a stuck worker is found within
        // a tick, a flush deadline missed by at most one.
        over_cv_.wait_for(g, std::chrono::milliseconds(250));
        if (stopping_) break;
        int64_t now = clock::now().time_since_epoch().count();
        std::vector<uint16_t> due;
        for (auto& [tag, f] : inflight_)
            if (f.flush_by && f.flush_by <= now) due.push_back(tag);
        for (uint16_t tag : due) {
            auto it = inflight_.find(tag);
            if (it == inflight_.end()) continue;  // answered with another's chain
            uint64_t n = abandoned_++;
            if (n < 10 || n % 1000 == 0)
                log_error("export: a flushed request (tag %u) has run for over %lld s; answering its Tflush "
                          "without waiting for it (its reply will be dropped; %llu so far)",
                          tag, (long long)std::chrono::duration_cast<std::chrono::seconds>(kFlushWait).count(),
                          (unsigned long long)n + 1);
            std::vector<uint16_t> flushers = std::move(it->second.flushers);
            queued_bytes_ -= it->second.bytes;
            inflight_.erase(it);
            answer_flushers(std::move(flushers));
        }
        if (!due.empty()) idle_cv_.notify_all();
        if (q_.size() == 0) continue;
        std::lock_guard<std::mutex> pg(pool_mu_);
        size_t stuck = 0;
        int64_t limit = now - std::chrono::duration_cast<clock::duration>(kStuckAfter).count();
        for (auto& b : busy_) {
            int64_t t = b.load();
            if (t && t < limit) stuck++;
        }
        if (workers_.size() - stuck < size_t(s_.opts.threads) && workers_.size() < kMaxWorkers) {
            if (workers_.size() == size_t(s_.opts.threads))
                log_error("export: %zu of %zu workers are stuck in syscalls that do not return (a hung mount "
                          "inside the export?); adding workers (at most %zu)",
                          stuck, workers_.size(), kMaxWorkers);
            add_worker();
        }
    }
}

void ServerImpl::add_worker() {
    busy_.emplace_back(0);
    std::atomic<int64_t>* b = &busy_.back();
    workers_.emplace_back([this, b] { worker(b); });
}

void ServerImpl::worker(std::atomic<int64_t>* busy) {
    static std::once_flag warned;
    if (!private_umask())
        std::call_once(warned, [] {
            log_error("export: unshare(CLONE_FS) failed; modes fixed after create instead");
        });
    Job j;
    // Credentials stay switched between requests: the next request's fid
    // lookup sets its own (cached per thread), so a run of requests from
    // one user costs no syscalls.
    while (q_.pop(j)) {
        busy->store(std::chrono::steady_clock::now().time_since_epoch().count());
        run(j);
        busy->store(0);
        j = Job{};
    }
    become_server();
}

void ServerImpl::run(Job& j) {
    Ctx c{s_};
    if (!j.cleanup.empty()) {
        for (auto& [f, path] : j.cleanup) finish_fid(s_, *f, path);
        return;
    }
    uint16_t tag = j.fc.tag;
    p9::Dialect d;
    bool skip;
    {
        std::lock_guard<std::mutex> g(inflight_mu_);
        if (j.epoch != epoch_) return;
        // With the epoch check, under the lock version() clears the fids
        // under: what this request adds belongs to this epoch's table only.
        c.gen = s_.fids.generation();
        auto it = inflight_.find(tag);
        // Flushed before it began (Rflush is out, perhaps the tag reused):
        // it never happened.
        if (it == inflight_.end() || it->second.serial != j.serial) return;
        skip = stopping_;
        if (!skip) it->second.started = true;
        d = s_.dialect.load();
    }
    if (skip) {
        complete(tag, j.epoch, j.serial, nullptr);
        return;
    }
    const Table& t = d == p9::Dialect::P2000 ? kPlain : d == p9::Dialect::Duct ? duct_table() : kL;
    Handler h = t[j.fc.type()];
    int refused = h ? refused_by_policy(s_.opts, j.fc) : 0;
    Reply r = !h ? fail(ENOSYS) : refused ? fail(refused) : h(c, j.fc);
    std::string frame = encode_reply(tag, r, d);
    complete(tag, j.epoch, j.serial, &frame);
}

void ServerImpl::teardown() {
    {
        std::unique_lock<std::mutex> g(inflight_mu_);
        // Let in-flight requests finish; none blocks forever (locks answer
        // LOCK_BLOCKED, FIFOs open non-blocking), but a wedged disk must
        // not wedge the uplink, so give up after a while and drop them.
        if (!idle_cv_.wait_for(g, std::chrono::seconds(30), [&] { return inflight_.empty(); })) {
            log_error("export: teardown: %zu requests still running; dropping their replies",
                      inflight_.size());
            epoch_++;
            inflight_.clear();
            queued_bytes_ = 0;
        }
    }
    {
        std::lock_guard<std::mutex> g(inflight_mu_);
        parked_ = false;
    }
    s_.feed.reset();
    for (auto& [f, path] : s_.fids.clear()) finish_fid(s_, *f, path);
    become_server();
}

void ServerImpl::stop() {
    std::call_once(stop_once_, [this] {
        {
            std::lock_guard<std::mutex> g(inflight_mu_);
            stopping_ = true;
        }
        idle_cv_.notify_all();  // a reader held by backpressure
        over_cv_.notify_all();
        s_.feed.reset();  // its thread calls into us: joined before we go
        if (overseer_.joinable()) overseer_.join();  // no worker is added after this
        q_.close();
        for (auto& t : workers_)
            if (t.joinable()) t.join();
    });
}

}  // namespace

std::unique_ptr<Server> Server::create(const ServerOptions& opts, Send send, std::string& err) {
    auto s = std::make_unique<ServerImpl>(opts, std::move(send));
    if (!s->init(err)) return nullptr;
    return s;
}

}  // namespace duct::exp
