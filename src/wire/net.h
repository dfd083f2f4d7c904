// Sockets for --listen and --dial (TCP over IPv4/IPv6, unix-domain).
// Blocking calls; used by the uplink's thread before a channel exists.
#pragma once
#include <string>

#include "base/fd.h"
#include "wire/address.h"

namespace duct::wire {

// Connects to `a`; tries every address the name resolves to.
Fd dial(const Address& a, std::string& err);
// A listening socket on `a` ("" host: every address, IPv6 and IPv4).
// A stale unix socket file (nobody listening) is replaced.
Fd listen_on(const Address& a, std::string& err);
// Waits for one connection; EINTR-safe. Empty Fd + err on failure.
// Returns early with an empty Fd and no error when `wake_fd` becomes readable.
Fd accept_one(int listen_fd, int wake_fd, std::string& peer, std::string& err);

}  // namespace duct::wire
