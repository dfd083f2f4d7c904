// serve_many: `duct --listen ADDR EXPORT -`, an export server for any number
// of peers at once, one Uplink per connection (each with its own export
// session, fids and threads), until stopped.
// Threads: the caller accepts; each connection runs on its own thread.
#pragma once
#include <functional>

#include <duct/uplink.h>

namespace duct {

// wake_fd becomes readable when the caller wants to stop; returns the exit status.
int serve_many(const Options& opts, int wake_fd, const std::function<bool()>& stopping);

}  // namespace duct
