// Sockets: getaddrinfo for names, dual-stack listening, TCP_NODELAY so the
// small 9P messages are not held back by Nagle's algorithm. Unix-domain
// sockets: only our user and root may connect (mode 0600 on the file, and
// SO_PEERCRED on every connection, which also covers a socket file whose
// mode someone loosened, or one systemd made).
#include "wire/net.h"

#include <arpa/inet.h>
#include <cstdlib>
#include <fcntl.h>
#include <libgen.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"

namespace duct::wire {

namespace {

bool unix_addr(const std::string& path, sockaddr_un& sa, std::string& err) {
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
        err = "unix socket path too long: " + path;
        return false;
    }
    memcpy(sa.sun_path, path.data(), path.size());
    return true;
}

void tune(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

std::string sys(const std::string& what) { return what + ": " + strerror(errno); }

// The uid and pid at the other end of a unix-domain socket; false if the
// kernel cannot say.
bool peer_cred(int fd, ucred& cr) {
    socklen_t len = sizeof cr;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && len == sizeof cr;
}
bool trusted_uid(uid_t uid) { return uid == geteuid() || uid == 0; }

// Binds `fd` to `path` so that the socket file is mode 0600 before anyone
// can connect: bind inside a fresh mode-0700 directory next to `path`,
// chmod, then rename into place (rename also replaces a stale socket
// atomically). No umask change, which would race with other threads.
bool bind_private(int fd, const std::string& path, std::string& err) {
    std::string copy = path;
    std::string dir = dirname(copy.data());
    std::string tmpl = dir + "/.duct-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
        err = sys("cannot make a private directory for " + path);
        return false;
    }
    std::string tmp = tmpl + "/s";
    sockaddr_un sa;
    bool ok = unix_addr(tmp, sa, err);
    if (ok && bind(fd, (sockaddr*)&sa, sizeof sa) < 0) {
        err = sys("bind unix!" + path);
        ok = false;
    }
    if (ok && chmod(tmp.c_str(), 0600) < 0) {
        err = sys("chmod " + path);
        ok = false;
    }
    if (ok && rename(tmp.c_str(), path.c_str()) < 0) {
        err = sys("bind unix!" + path);
        ok = false;
    }
    if (!ok) unlink(tmp.c_str());
    rmdir(tmpl.c_str());
    return ok;
}

// LISTEN_PID/LISTEN_FDS (sd_listen_fds(3)): fd 3 is ours if the variables
// name our pid. They are unset, so nothing we start takes the socket too.
Fd systemd_socket(std::string& err) {
    const char* pid = getenv("LISTEN_PID");
    const char* fds = getenv("LISTEN_FDS");
    std::string p = pid ? pid : "", n = fds ? fds : "";
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (p.empty() || n.empty()) {
        err = "--listen systemd: no socket passed (LISTEN_PID and LISTEN_FDS are not set; run duct from a "
              "systemd .socket unit)";
        return {};
    }
    if (p != std::to_string(getpid())) {
        err = "--listen systemd: LISTEN_PID is " + p + ", not our pid " + std::to_string(getpid()) +
              " (the socket was passed to another process)";
        return {};
    }
    char* end = nullptr;
    long count = strtol(n.c_str(), &end, 10);
    if (*end || count < 1) {
        err = "--listen systemd: LISTEN_FDS is '" + n + "': no socket passed";
        return {};
    }
    int fd = 3;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (fcntl(fd, F_GETFD) < 0 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        err = "--listen systemd: fd 3 is not a listening socket (use ListenStream= in the .socket unit, "
              "Accept=no)";
        return {};
    }
    int type = 0;
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
        err = "--listen systemd: fd 3 is not a stream socket (use ListenStream=)";
        return {};
    }
    if (count > 1) log_info("--listen systemd: %ld sockets passed; using the first (fd 3)", count);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return Fd(fd);
}

}  // namespace

bool is_tcp_socket(int fd) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (sockaddr*)&ss, &len) < 0) return false;
    return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

Fd dial(const Address& a, std::string& err) {
    if (a.kind == Address::Unix) {
        sockaddr_un sa;
        if (!unix_addr(a.path, sa, err)) return {};
        Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) { err = sys("socket"); return {}; }
        if (connect(fd.get(), (sockaddr*)&sa, sizeof sa) < 0) { err = sys("connect " + a.text()); return {}; }
        ucred cr;
        if (peer_cred(fd.get(), cr) && !trusted_uid(cr.uid)) {
            err = a.text() + ": refused: the listener runs as uid " + std::to_string(cr.uid) + " (pid " +
                  std::to_string(cr.pid) + "), neither us (uid " + std::to_string(geteuid()) + ") nor root";
            return {};
        }
        return fd;
    }
    if (a.kind == Address::Systemd) {
        err = "systemd is a --listen address (a socket systemd passes), not one to dial";
        return {};
    }
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    std::string host = a.host.empty() ? "localhost" : a.host;
    int rc = getaddrinfo(host.c_str(), a.port.c_str(), &hints, &res);
    if (rc != 0) {
        err = "cannot resolve " + a.text() + ": " + gai_strerror(rc);
        return {};
    }
    err.clear();
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd) continue;
        if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
            freeaddrinfo(res);
            tune(fd.get());
            return fd;
        }
        err = sys("connect " + a.text());
    }
    freeaddrinfo(res);
    if (err.empty()) err = "connect " + a.text() + ": no usable address";
    return {};
}

Fd listen_on(const Address& a, std::string& err) {
    if (a.kind == Address::Unix) {
        sockaddr_un sa;
        if (!unix_addr(a.path, sa, err)) return {};
        Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) { err = sys("socket"); return {}; }
        struct stat st;
        if (lstat(a.path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
            err = "bind " + a.text() + ": " + a.path + " exists and is not a socket";
            return {};
        }
        if (lstat(a.path.c_str(), &st) == 0) {
            // Replace it only if nobody answers on it.
            Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (connect(probe.get(), (sockaddr*)&sa, sizeof sa) == 0) {
                err = a.path + ": another process is listening there";
                return {};
            }
        }
        if (!bind_private(fd.get(), a.path, err)) return {};
        if (listen(fd.get(), 16) < 0) { err = sys("listen " + a.text()); return {}; }
        return fd;
    }
    if (a.kind == Address::Systemd) return systemd_socket(err);
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = a.host.empty() ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(), a.port.c_str(), &hints, &res);
    if (rc != 0 && a.host.empty()) {  // no IPv6 here: plain IPv4 any-address
        hints.ai_family = AF_INET;
        rc = getaddrinfo(nullptr, a.port.c_str(), &hints, &res);
    }
    if (rc != 0) {
        err = "cannot resolve " + a.text() + ": " + gai_strerror(rc);
        return {};
    }
    err.clear();
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        Fd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd) { err = sys("socket"); continue; }
        int one = 1, zero = 0;
        setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6 && a.host.empty())
            setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0) { err = sys("bind " + a.text()); continue; }
        if (listen(fd.get(), 16) < 0) { err = sys("listen " + a.text()); continue; }
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    if (err.empty()) err = "listen " + a.text() + ": no usable address";
    return {};
}

Fd accept_one(int listen_fd, int wake_fd, std::string& peer, std::string& err, int timeout_ms, bool* timed_out) {
    if (timed_out) *timed_out = false;
    for (;;) {
        pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int r = poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { err = sys("poll"); return {}; }
        if (r == 0) {
            if (timed_out) *timed_out = true;
            return {};
        }
        if (wake_fd >= 0 && (p[1].revents & POLLIN)) return {};
        sockaddr_storage ss;
        socklen_t len = sizeof ss;
        Fd fd(accept4(listen_fd, (sockaddr*)&ss, &len, SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN) continue;
            err = sys("accept");
            return {};
        }
        char host[INET6_ADDRSTRLEN] = "?";
        if (ss.ss_family == AF_INET) {
            auto* s4 = (sockaddr_in*)&ss;
            inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
            peer = std::string(host) + ":" + std::to_string(ntohs(s4->sin_port));
            tune(fd.get());
        } else if (ss.ss_family == AF_INET6) {
            auto* s6 = (sockaddr_in6*)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
            peer = "[" + std::string(host) + "]:" + std::to_string(ntohs(s6->sin6_port));
            tune(fd.get());
        } else {
            ucred cr;
            if (!peer_cred(fd.get(), cr)) {
                log_error("unix-socket peer refused: its credentials are unknown (SO_PEERCRED: %s)", strerror(errno));
                continue;
            }
            if (!trusted_uid(cr.uid)) {
                log_error("unix-socket peer uid %u (pid %d) refused: only uid %u (us) and root may connect",
                          unsigned(cr.uid), int(cr.pid), unsigned(geteuid()));
                continue;
            }
            peer = "unix (uid " + std::to_string(cr.uid) + " pid " + std::to_string(cr.pid) + ")";
        }
        return fd;
    }
}

}  // namespace duct::wire
