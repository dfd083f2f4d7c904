// Sockets for --listen and --dial (TCP over IPv4/IPv6, unix-domain).
// Blocking calls; used by the uplink's thread before a channel exists.
#pragma once
#include <string>

#include "base/fd.h"
#include "wire/address.h"

namespace duct::wire {

// Connects to `a`; tries every address the name resolves to. A unix-domain
// listener must run as our user or root (SO_PEERCRED), else it is refused.
Fd dial(const Address& a, std::string& err);
// A listening socket on `a` ("" host: every address, IPv6 and IPv4).
// A unix socket file is made mode 0600 before anyone can connect to it; a
// stale one (nobody listening) is replaced. `systemd`: the socket systemd
// passed (LISTEN_PID/LISTEN_FDS, fd 3); the variables are then unset.
Fd listen_on(const Address& a, std::string& err);
// True if `fd` is a TCP (IPv4 or IPv6) socket.
bool is_tcp_socket(int fd);
// Waits for one connection; EINTR-safe. Empty Fd + err on failure.
// Returns early with an empty Fd and no error when `wake_fd` becomes readable.
// A unix-domain peer whose uid is neither ours nor root's is logged and
// refused (closed), and accept_one waits for the next.
// With timeout_ms >= 0, waits at most that long: then an empty Fd, no
// error, and *timed_out set.
Fd accept_one(int listen_fd, int wake_fd, std::string& peer, std::string& err, int timeout_ms = -1,
              bool* timed_out = nullptr);

}  // namespace duct::wire
