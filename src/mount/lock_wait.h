// LockWaiter: blocking locks (F_SETLKW, flock(2) without LOCK_NB) wait
// here, not on a FUSE worker. libfuse runs at most 64 workers: 64
// processes sleeping in a lock each would take them all, and the holder
// could then not write, close or unlock. A FUSE op that finds the lock
// taken hands its request over (wait()) and returns; one thread per mount
// retries every waiting lock (all at once, one round trip, backing off
// from 20 to 100 ms while nothing is granted) and answers FUSE from there
// (fuse_reply_* may be called from any thread).
//
// A waiter ends: granted (0), refused (ENOLCK, or the peer's error),
// interrupted (EINTR: its process got a signal, SIGKILL included; the
// callback only marks it and wakes the thread), the channel lost (EIO) or
// stop() (EIO, from the FUSE destroy op, before the session goes). A grant
// that races an interrupt counts: the lock is taken, so the caller is told.
//
// Threads: FUSE workers call wait(); the waiter thread (started at the
// first wait) does the rest. mu_ is a leaf lock: the interrupt callback
// takes it under libfuse's request lock, so libfuse is never called with
// mu_ held.
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "mount/fuse_inc.h"
#include "proto/messages.h"

namespace duct::mnt {

class Client;

class LockWaiter {
public:
    explicit LockWaiter(Client& c) : c_(c) {}
    ~LockWaiter() { stop(); }
    LockWaiter(const LockWaiter&) = delete;
    LockWaiter& operator=(const LockWaiter&) = delete;

    // Takes over req (already answered LOCK_BLOCKED once): it is answered
    // from the waiter thread when t is granted or the wait ends.
    void wait(fuse_req_t req, const p9::Tlock& t);
    // Fails every waiter with EIO and ends the thread; a later wait()
    // answers EIO at once.
    void stop();
    size_t waiting() const;

    static constexpr std::chrono::milliseconds kMinBackoff{20}, kMaxBackoff{100};

private:
    struct Waiter {
        LockWaiter* self;
        fuse_req_t req;
        p9::Tlock t;
        bool interrupted = false;  // guarded by mu_
    };
    static void on_interrupt(fuse_req_t req, void* data);
    static void answer(Waiter* w, int err);  // mu_ not held; deletes w
    void run();
    void retry(std::vector<Waiter*>& batch, bool& progress);
    std::vector<Waiter*> take_all();  // mu_ held

    Client& c_;
    mutable std::mutex mu_;  // guards waiters_, stop_, kicked_, th_ start
    std::condition_variable cv_;
    std::vector<Waiter*> waiters_;  // owned; deleted by answer()
    bool stop_ = false;
    bool kicked_ = false;  // an interrupt came: look before the backoff ends
    std::thread th_;
};

}  // namespace duct::mnt
