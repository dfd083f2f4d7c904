// Sockets: getaddrinfo for names, dual-stack listening, TCP_NODELAY so the
// small 9P messages are not held back by Nagle's algorithm.
#include "wire/net.h"

#include <arpa/inet.h>
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

}  // namespace

Fd dial(const Address& a, std::string& err) {
    if (a.kind == Address::Unix) {
        sockaddr_un sa;
        if (!unix_addr(a.path, sa, err)) return {};
        Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) { err = sys("socket"); return {}; }
        if (connect(fd.get(), (sockaddr*)&sa, sizeof sa) < 0) { err = sys("connect " + a.text()); return {}; }
        return fd;
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
        if (lstat(a.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
            // Replace it only if nobody answers on it.
            Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
            if (connect(probe.get(), (sockaddr*)&sa, sizeof sa) == 0) {
                err = a.path + ": another process is listening there";
                return {};
            }
            unlink(a.path.c_str());
        }
        if (bind(fd.get(), (sockaddr*)&sa, sizeof sa) < 0) { err = sys("bind " + a.text()); return {}; }
        if (listen(fd.get(), 16) < 0) { err = sys("listen " + a.text()); return {}; }
        return fd;
    }
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

Fd accept_one(int listen_fd, int wake_fd, std::string& peer, std::string& err) {
    for (;;) {
        pollfd p[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int r = poll(p, wake_fd >= 0 ? 2 : 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { err = sys("poll"); return {}; }
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
            peer = "unix";
        }
        return fd;
    }
}

}  // namespace duct::wire
