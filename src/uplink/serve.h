// serve_many: `duct --listen ADDR EXPORT -`, an export server for any number
// of peers at once, one Uplink per connection (each with its own export
// session, fids and threads), until stopped.
// Threads: the caller accepts; each connection runs on its own thread.
#pragma once
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <duct/uplink.h>

namespace duct {

// The live connections, for the listener's summary (SIGUSR1 and -v): an
// entry is removed under mu before its Uplink is destroyed.
struct Served {
    mutable std::mutex mu;
    std::vector<std::pair<std::string, const Uplink*>> live;  // peer address, its uplink
    uint64_t finished = 0;
    std::string summary() const;
};

// wake_fd becomes readable when the caller wants to stop; returns the exit status.
int serve_many(const Options& opts, int wake_fd, const std::function<bool()>& stopping, Served& served);

}  // namespace duct
