// Channel: the two fds of the byte channel (read side, write side; a dup of
// one socket or tty when both are the same) and the child process behind
// it, if duct started one (--exec). Transports that make channels live in
// channel.cc; listen/dial come later (issue 5).
// Not thread-safe; owned by uplink.
#pragma once
#include <string>
#include <sys/types.h>

#include "base/fd.h"

namespace duct::wire {

struct Channel {
    Fd in, out;
    pid_t child = -1;     // --exec: the command's process
    std::string name;     // for messages: "stdin/stdout", "exec: ssh host ..."

    Channel() = default;
    Channel(Channel&&) = default;
    Channel& operator=(Channel&&) = default;
    ~Channel();           // reaps the child (waits briefly, then kills)
    // Waits up to `ms` for the child to exit; returns its exit status, or
    // -1 if there is none or it had to be killed.
    int reap(int ms);
};

// From two existing fds (may be equal); they are duplicated, the caller
// keeps its own. Empty Channel + err on failure.
Channel fd_channel(int infd, int outfd, std::string& err);
// stdin/stdout. Fds 0 and 1 are then pointed at /dev/null, so that
// a stray printf can never corrupt the 9P stream.
Channel stdio_channel(std::string& err);
// Runs `/bin/sh -c cmd` with a socketpair as its stdin and stdout.
Channel exec_channel(const std::string& cmd, std::string& err);

}  // namespace duct::wire
