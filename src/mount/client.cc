// Client: tags, fids, rpc, Tflush on interrupt, failing everything on a lost
// channel. See client.h for the threads; the rule of flush(5) followed here:
// after Tflush(oldtag) the client waits for Rflush; a reply to the original
// that arrives before Rflush completes it, and only after Rflush may the
// old tag be used again.
#include "mount/client.h"

#include <cerrno>

#include "base/log.h"
#include "proto/codec.h"
#include "proto/errors.h"
#include "proto/trace.h"

namespace duct::mnt {

using namespace duct::p9;

Client::Client(Send send, bool trace, uint32_t msize)
    : send_(std::move(send)), trace_(trace), msize_(msize) {}

MountStats Client::stats() const {
    MountStats s;
    s.requests = n_requests_.load();
    s.errors = n_errors_.load();
    s.bytes_read = bytes_read.load();
    s.bytes_written = bytes_written.load();
    return s;
}

void Client::send_frame(const Fcall& f) {
    if (trace_) log_trace_line("-> " + format(f));
    send_(encode(f, dialect_.load()));
}

bool Client::start(Pending* p, Message t, bool notag, uint16_t& tag) {
    Fcall f;
    f.msg = std::move(t);
    p->ttype = f.type();
    {
        std::unique_lock<std::mutex> g(mu_);
        if (lost_) return false;
        if (notag) {
            tag = NOTAG;
        } else {
            // 65535 requests in flight is far beyond what FUSE sends; wait
            // for a free tag rather than fail.
            idle_cv_.wait(g, [&] { return lost_ || tags_.size() < 0xFFFE; });
            if (lost_) return false;
            do {
                tag = next_tag_++;
            } while (tag == NOTAG || tags_.count(tag));
        }
        tags_[tag] = p;
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
    if (p->cv) {
        p->cv->notify_all();
    } else {
        if (p->free_fid != NOFID) free_fids_.push_back(p->free_fid);
        delete p;
    }
}

void Client::on_interrupt(fuse_req_t, void* data) {
    auto* in = static_cast<Interrupt*>(data);
    std::lock_guard<std::mutex> g(in->c->mu_);
    in->p->interrupted = true;
    if (in->p->cv) in->p->cv->notify_all();
}

int Client::rpc(Message t, Fcall& reply, fuse_req_t req) {
    std::condition_variable cv;
    Pending p;
    p.cv = &cv;
    uint16_t tag;
    if (!start(&p, std::move(t), false, tag)) return EIO;
    Interrupt in{this, &p};
    // May call on_interrupt at once if the request is already interrupted.
    if (req) fuse_req_interrupt_func(req, &Client::on_interrupt, &in);
    int result;
    {
        std::unique_lock<std::mutex> g(mu_);
        cv.wait(g, [&] { return p.done || p.interrupted; });
        if (!p.done) {
            // Interrupted: Tflush(oldtag), then wait for Rflush; the
            // original's reply may still come first and then counts.
            Pending fp;
            fp.cv = &cv;
            g.unlock();
            uint16_t ftag;
            bool sent = start(&fp, Tflush{tag}, false, ftag);
            g.lock();
            if (sent) cv.wait(g, [&] { return fp.done; });
            if (!p.done) {
                auto it = tags_.find(tag);
                if (it != tags_.end() && it->second == &p) tags_.erase(it);
                p.done = true;
                p.err = lost_ ? EIO : EINTR;
                idle_cv_.notify_all();
            }
        }
        result = p.err;
        if (!result) reply = std::move(p.reply);
    }
    // Unregister before `in` dies; libfuse serialises this with the callback.
    if (req) fuse_req_interrupt_func(req, nullptr, nullptr);
    return result;
}

void Client::rpc_pair(Message a, Fcall& ra, int& ea, Message b, Fcall& rb, int& eb) {
    std::condition_variable cv;
    Pending pa, pb;
    pa.cv = pb.cv = &cv;
    uint16_t ta, tb;
    bool sa = start(&pa, std::move(a), false, ta);
    bool sb = start(&pb, std::move(b), false, tb);
    std::unique_lock<std::mutex> g(mu_);
    cv.wait(g, [&] { return (!sa || pa.done) && (!sb || pb.done); });
    ea = sa ? pa.err : EIO;
    eb = sb ? pb.err : EIO;
    if (!ea) ra = std::move(pa.reply);
    if (!eb) rb = std::move(pb.reply);
}

int Client::version(uint32_t msize, const std::string& ver, Rversion& r) {
    // A fresh Tversion starts a new session (version(5)): forget what an
    // earlier attempt's answer set (a refusal may carry msize 0).
    msize_ = msize;
    dialect_ = Dialect::L;
    std::condition_variable cv;
    Pending p;
    p.cv = &cv;
    uint16_t tag;
    if (!start(&p, Tversion{msize, ver}, true, tag)) return EIO;
    std::unique_lock<std::mutex> g(mu_);
    cv.wait(g, [&] { return p.done; });
    if (p.err) return p.err;
    auto* rv = std::get_if<Rversion>(&p.reply.msg);
    if (!rv) return EIO;
    r = *rv;
    return 0;
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
        err = le->ecode ? int(le->ecode) : EIO;
    } else if (auto* re = std::get_if<Rerror>(&f.msg)) {
        err = errno_of(re->ename);
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
    finish(p, err);
}

void Client::lost() {
    std::lock_guard<std::mutex> g(mu_);
    lost_ = true;
    auto tags = std::move(tags_);
    tags_.clear();
    for (auto& [tag, p] : tags) finish(p, EIO);
    idle_cv_.notify_all();
}

void Client::drain(int ms) {
    std::unique_lock<std::mutex> g(mu_);
    idle_cv_.wait_for(g, std::chrono::milliseconds(ms), [&] { return lost_ || tags_.empty(); });
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
    free_fids_.push_back(fid);
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
    uint16_t tag;
    if (!start(p, Tflush{NOTAG}, false, tag)) {
        delete p;
        return false;
    }
    return true;
}

void Client::clunk_async(uint32_t fid) {
    auto* p = new Pending;
    p->free_fid = fid;
    uint16_t tag;
    if (!start(p, Tclunk{fid}, false, tag)) delete p;
}

}  // namespace duct::mnt
