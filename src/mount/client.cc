// Client: tags, fids, rpc, Tflush on interrupt and on overdue requests,
// failing everything on a lost channel. See client.h for the threads.
//
// The rules of flush(5) followed here: after Tflush(oldtag) a reply to the
// original that comes before Rflush completes it; Rflush with no reply
// first means the request never happened (a Twalk made no newfid, a
// Tclunk left its fid). The old tag is not used again until one of the two
// has come, nor while a Tflush naming it is unanswered. A waiter does not
// wait for that forever: an interrupted one answers EINTR after
// kFlushWaitMs, an overdue one EIO at once; the request stays in tags_
// ("abandoned") and settle_abandoned() does its bookkeeping when the peer
// finally answers. The fids it names stay off the free list until then
// (Hold), and a fid a late reply made after all is clunked (a "zombie").
#include "mount/client.h"

#include <cerrno>
#include <chrono>
#include <type_traits>

#include "base/log.h"
#include "proto/codec.h"
#include "proto/errors.h"
#include "proto/trace.h"

namespace duct::mnt {

using namespace duct::p9;
using Clock = std::chrono::steady_clock;

namespace {

// Every fid a request names, and the one it makes (walk(5), attach(5),
// Txattrwalk): from the field names of table.h.
template <class M>
void fids_of(const M& m, std::vector<uint32_t>& v, uint32_t& made, size_t& nwname) {
    auto add = [&](uint32_t f) { if (f != NOFID) v.push_back(f); };
    if constexpr (requires { m.fid; }) add(m.fid);
    if constexpr (requires { m.newfid; }) add(m.newfid);
    if constexpr (requires { m.afid; }) add(m.afid);
    if constexpr (requires { m.dfid; }) add(m.dfid);
    if constexpr (requires { m.dirfid; }) add(m.dirfid);
    if constexpr (requires { m.olddirfid; }) add(m.olddirfid);
    if constexpr (requires { m.newdirfid; }) add(m.newdirfid);
    if constexpr (std::is_same_v<M, Twalk>) {
        if (m.newfid != m.fid) made = m.newfid;
        nwname = m.wname.size();
    } else if constexpr (std::is_same_v<M, Txattrwalk>) {
        made = m.newfid;
    } else if constexpr (std::is_same_v<M, Tattach>) {
        made = m.fid;
    } else if constexpr (std::is_same_v<M, Tauth>) {
        made = m.afid;
    }
}

}  // namespace

Client::Client(Send send, bool trace, uint32_t msize)
    : send_(std::move(send)), trace_(trace), msize_(msize) {}

Client::~Client() {
    // No caller waits any more; what nobody waits for is the table's.
    for (auto& [tag, p] : tags_)
        if (!p->cv) delete p;
}

MountStats Client::stats() const {
    MountStats s;
    s.requests = n_requests_.load();
    s.errors = n_errors_.load();
    s.bytes_read = bytes_read.load();
    s.bytes_written = bytes_written.load();
    return s;
}

size_t Client::abandoned() const {
    std::lock_guard<std::mutex> g(mu_);
    return n_abandoned_;
}

void Client::send_frame(const Fcall& f) {
    if (trace_) log_trace_line("-> " + format(f));
    send_(encode(f, dialect_.load()));
}

bool Client::start(Pending* p, Message t, bool notag) {
    send_zombie_clunks();
    Fcall f;
    f.msg = std::move(t);
    p->ttype = f.type();
    std::visit([&](const auto& m) { fids_of(m, p->fids, p->newfid, p->nwname); }, f.msg);
    if (auto* fl = std::get_if<Tflush>(&f.msg)) p->oldtag = fl->oldtag;
    uint16_t tag;
    {
        std::unique_lock<std::mutex> g(mu_);
        if (lost_) return false;
        if (notag) {
            tag = NOTAG;
        } else {
            // 65535 requests in flight is far beyond what FUSE sends; wait
            // for a free tag rather than fail.
            idle_cv_.wait(g, [&] { return lost_ || tags_.size() + flushing_.size() < 0xFFFE; });
            if (lost_) return false;
            do {
                tag = next_tag_++;
            } while (tag == NOTAG || tags_.count(tag) || flushing_.count(tag));
        }
        p->tag = tag;
        tags_[tag] = p;
        if (p->oldtag != NOTAG) flushing_[p->oldtag]++;
    }
    n_requests_++;
    f.tag = tag;
    send_frame(f);
    return true;
}

void Client::finish(Pending* p, int err) {
    p->done = true;
    p->err = err;
    if (err) n_errors_++;
    if (p->oldtag != NOTAG) {
        auto it = flushing_.find(p->oldtag);
        if (it != flushing_.end() && --it->second <= 0) flushing_.erase(it);
    }
    if (p->cv) {
        p->cv->notify_all();
        return;
    }
    if (p->abandoned) {
        settle_abandoned(p, false);
    } else if (p->free_fid != NOFID) {
        if (p->zombie_clunk) {
            holds_[p->free_fid].zombie = false;
            maybe_free(p->free_fid);
        } else {
            release_fid(p->free_fid);
        }
    }
    delete p;
}

void Client::release_fid(uint32_t fid) {
    auto it = holds_.find(fid);
    if (it == holds_.end()) {
        free_fids_.push_back(fid);
        return;
    }
    it->second.released = true;
    maybe_free(fid);
}

void Client::maybe_free(uint32_t fid) {
    auto it = holds_.find(fid);
    if (it == holds_.end()) return;
    const Hold& h = it->second;
    if (h.released && h.held <= 0 && !h.zombie) {
        holds_.erase(it);
        free_fids_.push_back(fid);
    }
}

bool Client::abandon(Pending* p) {
    p->abandoned = true;
    p->cv = nullptr;
    n_abandoned_++;
    idle_cv_.notify_all();  // drain() does not wait for it
    for (uint32_t f : p->fids) holds_[f].held++;
    if (p->flush_sent) return false;
    p->flush_sent = true;
    return true;
}

// The peer answered an abandoned request (flushed: with Rflush, so it
// never happened). mu_ held.
void Client::settle_abandoned(Pending* p, bool flushed) {
    n_abandoned_--;
    for (uint32_t f : p->fids) holds_[f].held--;
    auto zombie = [&](uint32_t f) {
        holds_[f].zombie = true;
        zombies_.push_back(f);
        have_zombies_ = true;
    };
    if (!flushed && !p->err && p->newfid != NOFID) {
        // A late success made newfid, which its caller took as not made.
        auto* w = std::get_if<Rwalk>(&p->reply.msg);
        if (p->ttype != Twalk::kType || (w && w->wqid.size() == p->nwname)) zombie(p->newfid);
    }
    // clunk(5), remove(5): the fid is gone once answered, even with an
    // error; a flushed one never happened, so the peer still has it.
    if (flushed && (p->ttype == Tclunk::kType || p->ttype == Tremove::kType) && !p->fids.empty())
        zombie(p->fids[0]);
    for (uint32_t f : p->fids) maybe_free(f);
    if (p->newfid != NOFID) maybe_free(p->newfid);
}

void Client::send_zombie_clunks() {
    if (!have_zombies_.exchange(false)) return;
    std::vector<uint32_t> v;
    {
        std::lock_guard<std::mutex> g(mu_);
        v.swap(zombies_);
    }
    for (uint32_t f : v) {
        auto* p = new Pending;
        p->free_fid = f;
        p->zombie_clunk = true;
        if (!start(p, Tclunk{f}, false)) delete p;
    }
}

void Client::send_flush(uint16_t oldtag) {
    auto* p = new Pending;  // nobody waits: deliver() acts on its Rflush
    if (!start(p, Tflush{oldtag}, false)) delete p;
}

void Client::on_interrupt(fuse_req_t, void* data) {
    auto* in = static_cast<Interrupt*>(data);
    std::lock_guard<std::mutex> g(in->c->mu_);
    in->fired = true;
    in->cv->notify_all();
}

int Client::rpc(Message t, Fcall& reply, fuse_req_t req) { return rpc_impl(std::move(t), reply, req, false); }

int Client::rpc_held(Message t, Fcall& reply) { return rpc_impl(std::move(t), reply, nullptr, true); }

void Client::cancel_held() {
    std::lock_guard<std::mutex> g(mu_);
    held_cancelled_ = true;
    if (held_) {
        held_->fired = true;
        held_->cv->notify_all();
    }
}

int Client::rpc_impl(Message t, Fcall& reply, fuse_req_t req, bool held) {
    std::condition_variable cv;
    auto* p = new Pending;
    p->cv = &cv;
    if (!start(p, std::move(t), false)) {
        delete p;
        return EIO;
    }
    Interrupt in{this, &cv};
    // May call on_interrupt at once if the request is already interrupted.
    if (req) fuse_req_interrupt_func(req, &Client::on_interrupt, &in);
    if (held) {
        std::lock_guard<std::mutex> g(mu_);
        held_ = &in;
        if (held_cancelled_) in.fired = true;
    }
    const int64_t tmo = held ? 0 : timeout_ms_.load();
    const auto never = Clock::time_point::max();
    const auto deadline = tmo > 0 ? Clock::now() + std::chrono::milliseconds(tmo) : never;
    auto flush_deadline = never;
    int result = 0;
    bool gave_up = false;
    {
        std::unique_lock<std::mutex> g(mu_);
        while (!p->done) {
            if (in.fired && !p->flush_sent) {
                // Interrupted: Tflush(oldtag); the original's reply may
                // still come first and then counts.
                p->flush_sent = true;
                uint16_t tag = p->tag;
                g.unlock();
                send_flush(tag);
                g.lock();
                if (held && !p->done) {
                    // The feed is being stopped (teardown): nothing waits
                    // for its Rflush, least of all an unmount's Tclunks.
                    abandon(p);
                    gave_up = true;
                    result = EINTR;
                    break;
                }
                flush_deadline = Clock::now() + std::chrono::milliseconds(kFlushWaitMs);
                continue;
            }
            auto until = std::min(deadline, flush_deadline);
            if (until == never) {
                cv.wait(g);
                continue;
            }
            cv.wait_until(g, until);
            if (p->done || Clock::now() < until || (in.fired && !p->flush_sent)) continue;
            // Overdue, or flushed and the Rflush is late: give up on it.
            // EIO, not ETIMEDOUT, for an overdue request: it is what a
            // lost channel and the silent-peer watchdog answer (and what
            // NFS soft mounts do), so callers see one error for "the peer
            // failed us"; the log says which request and why.
            uint16_t tag = p->tag;
            bool intr = p->flush_sent && in.fired;
            if (intr)
                log_error("mount: no Rflush for interrupted %s (tag %u) within %d ms: EINTR, tag kept",
                          type_name(p->ttype), unsigned(tag), kFlushWaitMs);
            else
                log_error("mount: %s (tag %u) unanswered for %lld ms: EIO; flushing it",
                          type_name(p->ttype), unsigned(tag), (long long)tmo);
            bool want_flush = abandon(p);
            n_errors_++;
            gave_up = true;
            result = intr ? EINTR : EIO;
            g.unlock();
            if (want_flush) send_flush(tag);
            g.lock();
            break;
        }
        if (!gave_up) {
            result = p->err;
            if (!result) reply = std::move(p->reply);
        }
    }
    // Unregister before `in` dies; libfuse serialises this with the callback.
    if (req) fuse_req_interrupt_func(req, nullptr, nullptr);
    if (held) {
        std::lock_guard<std::mutex> g(mu_);
        held_ = nullptr;
    }
    if (!gave_up) delete p;
    return result;
}

void Client::rpc_many(std::vector<Message> ts, std::vector<Fcall>& rs, std::vector<int>& es) {
    const size_t n = ts.size();
    rs.assign(n, Fcall{});
    es.assign(n, EIO);
    std::condition_variable cv;
    std::vector<Pending*> ps(n, nullptr);
    for (size_t i = 0; i < n; i++) {
        auto* p = new Pending;
        p->cv = &cv;
        if (start(p, std::move(ts[i]), false)) ps[i] = p;
        else delete p;
    }
    const int64_t tmo = timeout_ms_.load();
    const auto deadline = tmo > 0 ? Clock::now() + std::chrono::milliseconds(tmo) : Clock::time_point::max();
    auto all_done = [&] {
        for (Pending* p : ps)
            if (p && !p->done) return false;
        return true;
    };
    std::vector<uint16_t> flush;
    std::unique_lock<std::mutex> g(mu_);
    if (deadline == Clock::time_point::max()) cv.wait(g, all_done);
    else cv.wait_until(g, deadline, all_done);
    for (size_t i = 0; i < n; i++) {
        Pending* p = ps[i];
        if (!p) continue;
        if (!p->done) {
            log_error("mount: %s (tag %u) unanswered for %lld ms: EIO; flushing it", type_name(p->ttype),
                      unsigned(p->tag), (long long)tmo);
            n_errors_++;
            if (abandon(p)) flush.push_back(p->tag);
            continue;  // es[i] stays EIO; the table owns p now
        }
        es[i] = p->err;
        if (!p->err) rs[i] = std::move(p->reply);
        delete p;
    }
    g.unlock();
    for (uint16_t tag : flush) send_flush(tag);
}

int Client::version(uint32_t msize, const std::string& ver, Rversion& r) {
    // A fresh Tversion starts a new session (version(5)): forget what an
    // earlier attempt's answer set (a refusal may carry msize 0).
    msize_ = msize;
    dialect_ = Dialect::L;
    std::condition_variable cv;
    Pending p;
    p.cv = &cv;
    if (!start(&p, Tversion{msize, ver}, true)) return EIO;
    std::unique_lock<std::mutex> g(mu_);
    cv.wait(g, [&] { return p.done; });
    if (p.err) return p.err;
    auto* rv = std::get_if<Rversion>(&p.reply.msg);
    if (!rv) return EIO;
    r = *rv;
    return 0;
}

// FUSE takes errors 1..511 (the kernel refuses a reply with any other
// value and the caller then waits forever): anything else is EIO.
int Client::sane_errno(uint32_t e) {
    if (e > 0 && e < 512) return int(e);
    if (!bad_errno_logged_.exchange(true))
        log_error("mount: the peer answered error code %u, which is no errno: EIO instead (said once)",
                  unsigned(e));
    return EIO;
}

void Client::deliver(std::string frame) {
    if (frame.size() < HEADER) {
        log_error("mount: short reply frame (%zu bytes) dropped", frame.size());
        return;
    }
    uint16_t tag = frame_tag(frame);
    Fcall f;
    std::string derr = decode(frame, dialect_.load(), msize_.load(), f);
    if (trace_) log_trace_line("<- " + (derr.empty() ? format(f) : "bad frame: " + derr));
    if (frame_type(frame) == Rfeed::kType) {
        std::vector<FeedEvent> evs;
        auto* r = derr.empty() ? std::get_if<Rfeed>(&f.msg) : nullptr;
        feed_log_.record(r && parse_feed_events(r->events.bytes, evs), evs);
    }
    std::lock_guard<std::mutex> g(mu_);
    auto it = tags_.find(tag);
    if (it == tags_.end()) {
        log_error("mount: reply for unknown tag %u dropped", unsigned(tag));
        return;
    }
    Pending* p = it->second;
    tags_.erase(it);
    idle_cv_.notify_all();
    int err = 0;
    if (!derr.empty()) {
        log_error("mount: malformed reply: %s", derr.c_str());
        err = EIO;
    } else if (auto* le = std::get_if<Rlerror>(&f.msg)) {
        err = sane_errno(le->ecode);
    } else if (auto* re = std::get_if<Rerror>(&f.msg)) {
        err = sane_errno(uint32_t(errno_of(re->ename)));
    } else if (f.type() != p->ttype + 1) {
        log_error("mount: %s answered with %s", type_name(p->ttype), type_name(f.type()));
        err = EIO;
    }
    if (!err) p->reply = std::move(f);
    if (!err && p->ttype == Tversion::kType) {
        // Set here, before the next frame is decoded, not by the waiter.
        // An answer the handshake will refuse ("unknown") changes nothing.
        auto& rv = std::get<Rversion>(p->reply.msg);
        bool known = true;
        if (rv.version == "9P2000") dialect_ = Dialect::P2000;
        else if (duct_level(rv.version)) dialect_ = Dialect::Duct;
        else if (rv.version == "9P2000.L") dialect_ = Dialect::L;
        else known = false;
        if (known && rv.msize < msize_) msize_ = rv.msize;
    }
    if (p->ttype == Tflush::kType && p->oldtag != NOTAG) {
        // Rflush: a flushed request not answered by now never will be;
        // flush(5) says it never happened.
        auto o = tags_.find(p->oldtag);
        if (o != tags_.end() && o->second->flush_sent) {
            Pending* q = o->second;
            tags_.erase(o);
            if (q->abandoned) {
                q->done = true;
                settle_abandoned(q, true);
                delete q;
            } else {
                finish(q, EINTR);
            }
        }
    }
    finish(p, err);
}

void Client::lost() {
    std::lock_guard<std::mutex> g(mu_);
    lost_ = true;
    auto tags = std::move(tags_);
    tags_.clear();
    for (auto& [tag, p] : tags) finish(p, EIO);
    flushing_.clear();
    idle_cv_.notify_all();
}

void Client::drain(int ms) {
    // Requests given up on (and Tflushes) may never be answered: not
    // worth waiting for.
    auto idle = [&] {
        for (auto& [tag, p] : tags_)
            if (!p->abandoned && p->ttype != Tflush::kType) return false;
        return true;
    };
    std::unique_lock<std::mutex> g(mu_);
    idle_cv_.wait_for(g, std::chrono::milliseconds(ms), [&] { return lost_ || idle(); });
}

uint32_t Client::alloc_fid() {
    std::lock_guard<std::mutex> g(mu_);
    if (!free_fids_.empty()) {
        uint32_t f = free_fids_.back();
        free_fids_.pop_back();
        return f;
    }
    uint32_t f = next_fid_++;
    if (next_fid_ == NOFID) next_fid_ = 1;  // 4 billion fids later; never NOFID
    return f;
}

void Client::free_fid(uint32_t fid) {
    std::lock_guard<std::mutex> g(mu_);
    release_fid(fid);
}

int Client::clunk(uint32_t fid) {
    Fcall r;
    int e = rpc(Tclunk{fid}, r);
    // clunk(5): the fid is gone even when the clunk fails.
    if (!lost_) free_fid(fid);
    return e;
}

// flush(5): a Tflush whose oldtag names no request in flight is answered
// with Rflush at once. NOTAG names none once mounted (only Tversion uses
// it), so this costs the peer nothing and works with any 9P server.
bool Client::probe() {
    auto* p = new Pending;  // nobody waits: finish() frees it on the reply or on loss
    if (!start(p, Tflush{NOTAG}, false)) {
        delete p;
        return false;
    }
    return true;
}

void Client::clunk_async(uint32_t fid) {
    auto* p = new Pending;
    p->free_fid = fid;
    if (!start(p, Tclunk{fid}, false)) delete p;
}

}  // namespace duct::mnt
