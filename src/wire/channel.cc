// Transports: fd pairs, stdio and --exec. Every fd is close-on-exec so
// children (the --exec command, fusermount) inherit only what they should.
//
// The --exec command runs in a process group of its own, so that at the end
// duct stops it together with everything it started (a pipeline, a proxy,
// a helper that kept the socket): SIGTERM to the group, SIGKILL a second
// later. Not when duct runs in the foreground of its controlling terminal:
// a background group cannot read the terminal (SIGTTIN), and ssh must ask
// for a password there; Ctrl-C reaches duct's whole group anyway.
#include "wire/channel.h"
#include "wire/tls.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace duct::wire {

Channel& Channel::operator=(Channel&& o) noexcept {
    if (this != &o) {
        if (child > 0) reap(2000);
        in.reset();
        out.reset();
        tls = std::move(o.tls);
        in = std::move(o.in);
        out = std::move(o.out);
        tty_in = std::move(o.tty_in);
        tty_out = std::move(o.tty_out);
        child = std::exchange(o.child, -1);
        group = std::exchange(o.group, -1);
        name = std::move(o.name);
    }
    return *this;
}

Channel::~Channel() {
    if (child > 0) reap(2000);
    // Our ends first: the pump sees EOF and sends what it still holds.
    in.reset();
    out.reset();
}

namespace {

// Waits up to `ms` for `pid` to exit and reaps it: 1 if it did (`status`
// is set), 0 if it still runs, -1 if it is no child of ours (any more).
int wait_exit(pid_t pid, int ms, int& status) {
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return -1;
        if (waited >= ms) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// The rest of the command's process group: SIGTERM, and SIGKILL if any
// is left a second later. Called after the leader was reaped: its number
// cannot be reused while any member of the group lives.
void stop_group(pid_t group) {
    if (group <= 0 || kill(-group, SIGTERM) != 0) return;
    for (int i = 0; i < 100; i++) {
        if (kill(-group, 0) != 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(-group, SIGKILL);
}

}  // namespace

int Channel::reap(int ms) {
    if (child <= 0) return -1;
    int status = 0, rc = -1;
    int r = wait_exit(child, ms, status);
    if (r > 0) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else if (r == 0) {
        kill(group > 0 ? -group : child, SIGTERM);
        if (wait_exit(child, 1000, status) == 0) {
            kill(group > 0 ? -group : child, SIGKILL);
            waitpid(child, &status, 0);
        }
    }
    child = -1;
    stop_group(std::exchange(group, -1));
    return rc;
}

std::unique_ptr<RawTty> RawTty::make(int fd, std::string& err) {
    termios t;
    if (!isatty(fd) || tcgetattr(fd, &t) < 0) return nullptr;
    std::unique_ptr<RawTty> r(new RawTty(Fd(fcntl(fd, F_DUPFD_CLOEXEC, 3)), t));
    cfmakeraw(&t);
    t.c_iflag &= ~(IXON | IXOFF | IXANY);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) < 0) err = std::string("cannot put the tty in raw mode: ") + std::strerror(errno);
    return r;
}

RawTty::~RawTty() {
    if (fd_) tcsetattr(fd_.get(), TCSADRAIN, &saved_);
}

Channel socket_channel(Fd sock, const std::string& name) {
    Channel c;
    c.out = Fd(fcntl(sock.get(), F_DUPFD_CLOEXEC, 3));
    c.in = std::move(sock);
    c.name = name;
    return c;
}

Channel tls_channel(std::unique_ptr<TlsLink> link, const std::string& name) {
    Channel c = socket_channel(link->take_local(), name);
    c.tls = std::move(link);
    return c;
}

Channel fd_channel(int infd, int outfd, std::string& err) {
    Channel c;
    c.in = Fd(fcntl(infd, F_DUPFD_CLOEXEC, 3));
    c.out = Fd(fcntl(outfd, F_DUPFD_CLOEXEC, 3));
    if (!c.in || !c.out) {
        err = std::string("cannot use the channel's file descriptors: ") + std::strerror(errno);
        return Channel{};
    }
    c.name = "fds " + std::to_string(infd) + "," + std::to_string(outfd);
    c.tty_in = RawTty::make(c.in.get(), err);
    if (outfd != infd && isatty(outfd)) c.tty_out = RawTty::make(c.out.get(), err);
    if (!err.empty()) return Channel{};
    return c;
}

Channel stdio_channel(std::string& err) {
    Channel c = fd_channel(0, 1, err);
    if (!c.in) return c;
    c.name = "stdin/stdout";
    Fd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (null) {
        dup2(null.get(), 0);
        dup2(null.get(), 1);
    }
    return c;
}

Channel exec_channel(const std::string& cmd, std::string& err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err = std::string("socketpair: ") + std::strerror(errno);
        return Channel{};
    }
    Fd ours(sv[0]), theirs(sv[1]);
    bool own_group = true;
    Fd tty(open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC));
    if (tty && tcgetpgrp(tty.get()) == getpgrp()) own_group = false;  // see the top of this file
    pid_t pid = fork();
    if (pid < 0) {
        err = std::string("fork: ") + std::strerror(errno);
        return Channel{};
    }
    if (pid == 0) {
        // Child: the socket becomes stdin and stdout (dup2 clears CLOEXEC).
        dup2(theirs.get(), 0);
        dup2(theirs.get(), 1);
        if (own_group) setpgid(0, 0);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
        const char msg[] = "duct: cannot run /bin/sh for --exec\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    Channel c;
    c.child = pid;
    if (own_group) {
        setpgid(pid, pid);  // as the child does: whichever runs first (EACCES once it has exec'd)
        c.group = pid;
    }
    c.in = std::move(ours);
    c.out = Fd(fcntl(c.in.get(), F_DUPFD_CLOEXEC, 3));
    c.name = "exec: " + cmd;
    return c;
}

}  // namespace duct::wire
