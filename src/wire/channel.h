// Channel: the two fds of the byte channel (read side, write side; a dup of
// one socket or tty when both are the same) and the child process behind
// it, if duct started one (--exec). Transports that make channels live in
// channel.cc; sockets for --listen/--dial in net.cc.
// Not thread-safe; owned by uplink.
#pragma once
#include <memory>
#include <string>
#include <sys/types.h>
#include <termios.h>

#include "base/fd.h"

namespace duct::wire {

class TlsLink;

// Puts a tty into raw mode (8 bits, no echo, no CR/LF or flow-control
// mangling: 9P is binary) and restores its settings when destroyed.
class RawTty {
public:
    static std::unique_ptr<RawTty> make(int fd, std::string& err);  // nullptr if not a tty
    ~RawTty();
private:
    RawTty(Fd fd, const termios& saved) : fd_(std::move(fd)), saved_(saved) {}
    Fd fd_;  // our own dup: the channel's fds may close first
    termios saved_;
};

struct Channel {
    // --key: the TLS pump behind `in`/`out` (one end of its socketpair).
    // Declared first, so it is destroyed last, once our ends are closed.
    std::unique_ptr<TlsLink> tls;
    Fd in, out;
    std::unique_ptr<RawTty> tty_in, tty_out;  // declared after the Fds: restored while they are still open
    pid_t child = -1;     // --exec: the command's process
    pid_t group = -1;     // --exec: its process group, when it has its own (exec_channel)
    std::string name;     // for messages: "stdin/stdout", "exec: ssh host ..."

    Channel() = default;
    // A moved-from Channel must not reap the child it handed over.
    Channel(Channel&& o) noexcept { *this = std::move(o); }
    Channel& operator=(Channel&& o) noexcept;
    ~Channel();           // reaps the child (waits briefly, then kills); ends the TLS pump
    // Waits up to `ms` for the child to exit, else SIGTERMs it (SIGKILL a
    // second later); then whatever it started that is still in its process
    // group gets the same. Returns the child's exit status, or -1 if there
    // is none or it had to be killed.
    int reap(int ms);
};

// From two existing fds (may be equal); they are duplicated, the caller
// keeps its own. A tty is put in raw mode for the channel's life.
// Empty Channel + err on failure.
Channel fd_channel(int infd, int outfd, std::string& err);
// stdin/stdout. Fds 0 and 1 are then pointed at /dev/null, so that
// a stray printf can never corrupt the 9P stream.
Channel stdio_channel(std::string& err);
// Runs `/bin/sh -c cmd` with a socketpair as its stdin and stdout, in a
// process group of its own unless duct runs in the foreground of its
// terminal (see channel.cc).
Channel exec_channel(const std::string& cmd, std::string& err);
// A connected socket (from --dial or --listen); the Channel takes it.
Channel socket_channel(Fd sock, const std::string& name);
// The plain end of a TLS link (tls.h) whose handshake has succeeded.
Channel tls_channel(std::unique_ptr<TlsLink> link, const std::string& name);

}  // namespace duct::wire
