// LockWaiter: see lock_wait.h for the role and the threads.
#include "mount/lock_wait.h"

#include <algorithm>
#include <cerrno>

#include "mount/client.h"

namespace duct::mnt {

using namespace duct::p9;

void LockWaiter::wait(fuse_req_t req, const Tlock& t) {
    auto* w = new Waiter{this, req, t};
    // Registered before the thread can see w: an interrupt that came
    // already calls back at once (under libfuse's lock, taking mu_).
    fuse_req_interrupt_func(req, &LockWaiter::on_interrupt, w);
    {
        std::lock_guard<std::mutex> g(mu_);
        if (!stop_) {
            waiters_.push_back(w);
            if (!th_.joinable()) th_ = std::thread([this] { run(); });
            cv_.notify_all();
            return;
        }
    }
    answer(w, EIO);
}

void LockWaiter::on_interrupt(fuse_req_t, void* data) {
    auto* w = static_cast<Waiter*>(data);
    std::lock_guard<std::mutex> g(w->self->mu_);
    w->interrupted = true;
    w->self->kicked_ = true;
    w->self->cv_.notify_all();
}

void LockWaiter::answer(Waiter* w, int err) {
    // Unregistered first: libfuse serialises this with a running callback,
    // so none can touch w after it.
    fuse_req_interrupt_func(w->req, nullptr, nullptr);
    fuse_reply_err(w->req, err);
    delete w;
}

std::vector<LockWaiter::Waiter*> LockWaiter::take_all() {
    std::vector<Waiter*> v;
    v.swap(waiters_);
    return v;
}

void LockWaiter::stop() {
    std::thread th;
    {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = true;
        cv_.notify_all();
        th.swap(th_);
    }
    if (th.joinable()) th.join();  // run() fails what is left
}

size_t LockWaiter::waiting() const {
    std::lock_guard<std::mutex> g(mu_);
    return waiters_.size();
}

// One Tlock per waiter, all in one round trip; the finished ones are
// answered and leave the list.
void LockWaiter::retry(std::vector<Waiter*>& batch, bool& progress) {
    std::vector<Message> ts;
    ts.reserve(batch.size());
    for (Waiter* w : batch) ts.push_back(w->t);
    std::vector<Fcall> rs;
    std::vector<int> es;
    c_.rpc_many(std::move(ts), rs, es);
    std::vector<std::pair<Waiter*, int>> done;
    for (size_t i = 0; i < batch.size(); i++) {
        int e = es[i];
        if (!e) {
            auto* r = std::get_if<Rlock>(&rs[i].msg);
            if (!r) e = EIO;
            else if (r->status == LOCK_SUCCESS) e = 0;
            else if (r->status == LOCK_ERROR) e = ENOLCK;
            else continue;  // BLOCKED (or GRACE): still waiting
        }
        done.emplace_back(batch[i], e);
    }
    if (done.empty()) return;
    progress = true;
    {
        std::lock_guard<std::mutex> g(mu_);
        for (auto& [w, e] : done) waiters_.erase(std::find(waiters_.begin(), waiters_.end(), w));
    }
    for (auto& [w, e] : done) answer(w, e);
}

void LockWaiter::run() {
    auto backoff = kMinBackoff;
    std::unique_lock<std::mutex> g(mu_);
    while (!stop_) {
        if (waiters_.empty()) {
            cv_.wait(g, [&] { return stop_ || !waiters_.empty(); });
            backoff = kMinBackoff;
            continue;
        }
        cv_.wait_for(g, backoff, [&] { return stop_ || kicked_; });
        if (stop_) break;
        kicked_ = false;
        std::vector<Waiter*> cancel, batch;
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            if ((*it)->interrupted) {
                cancel.push_back(*it);
                it = waiters_.erase(it);
            } else {
                batch.push_back(*it++);
            }
        }
        bool lost = c_.is_lost();
        if (lost) batch = take_all();
        g.unlock();
        for (Waiter* w : cancel) answer(w, EINTR);
        if (lost) {
            for (Waiter* w : batch) answer(w, EIO);
        } else if (!batch.empty()) {
            bool progress = false;
            retry(batch, progress);
            // A grant means someone let go: others may follow soon.
            backoff = progress ? kMinBackoff : std::min(backoff * 2, kMaxBackoff);
        }
        g.lock();
    }
    std::vector<Waiter*> rest = take_all();
    g.unlock();
    for (Waiter* w : rest) answer(w, EIO);
}

}  // namespace duct::mnt
