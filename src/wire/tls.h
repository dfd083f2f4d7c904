// TlsLink: a TCP connection authenticated and encrypted with TLS 1.3 using
// the --key file as an external pre-shared key (both ends prove they hold
// it; (EC)DHE on top, so a later leak of the key does not reveal recorded
// traffic), turned back into a plain byte stream for the rest of duct.
//
// The rest of duct works on fds (poll, non-blocking writes, eventfd), so the
// link hands out one end of a socketpair and a thread of its own pumps bytes
// between that end and the TLS connection: first the handshake (nothing is
// read from or written to the socketpair before the peer has proven the key),
// then both directions until both are done. Half-closes pass through: the
// peer's close_notify becomes EOF on our end, our EOF becomes close_notify.
//
// Threads: start() spawns the pump thread; wait_handshake() may block any
// one thread; the destructor stops the pump (bounded: what we were given to
// send gets up to two seconds) and joins it.
#pragma once
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.h"
#include "wire/key.h"

namespace duct::wire {

class TlsLink {
public:
    enum Role { Client, Server };
    // Takes the connected socket `sock`. `peer` names the other end in
    // messages; the handshake must finish within timeout_ms (<= 0: 30 s)
    // and is abandoned when `wake_fd` (may be -1) becomes readable. With
    // `log_refusal`, a failed handshake is logged by the pump itself (a
    // listener serving many peers has nobody waiting for it).
    static std::unique_ptr<TlsLink> start(Fd sock, Role role, const Key& key, const std::string& peer,
                                          int timeout_ms, int wake_fd, bool log_refusal, std::string& err);
    ~TlsLink();
    TlsLink(const TlsLink&) = delete;
    TlsLink& operator=(const TlsLink&) = delete;

    // Our end of the plain stream (the caller takes it once).
    Fd take_local() { return std::move(local_); }
    // Blocks until the handshake finished: true if the peer proved the key,
    // else false with `err` saying why.
    bool wait_handshake(std::string& err);
    // The same without blocking: 0 while the handshake is still going,
    // 1 proven, -1 refused (`err` says why).
    int handshake_state(std::string& err);

private:
    struct State;
    TlsLink() = default;
    Fd local_;
    std::shared_ptr<State> st_;
    std::thread thread_;
};

}  // namespace duct::wire
