// TLS 1.3 with an external PSK (RFC 8446 section 2.2, OpenSSL's
// psk_use_session / psk_find_session callbacks): both ends build the same
// SSL_SESSION from the key, identity "duct-key-v1". Certificates are never
// used; the server refuses any ClientHello that does not carry a PSK binder
// made with our key, so a peer without the key gets nothing but an alert.
// Only the psk_dhe_ke mode is allowed (OpenSSL's default without
// SSL_OP_ALLOW_NO_DHE_KEX).
//
// The pump is one thread with both fds non-blocking and poll(): an SSL
// object must not be used from two threads at once.
#include "wire/tls.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <vector>

#include "base/log.h"

namespace duct::wire {

namespace {

const unsigned char kIdentity[] = "duct-key-v1";
const size_t kIdentityLen = sizeof kIdentity - 1;
const unsigned char kSuite[2] = {0x13, 0x01};  // TLS_AES_128_GCM_SHA256

using Clock = std::chrono::steady_clock;

// The key is reached from the callbacks through the SSL's ex_data.
int key_index() {
    static int idx = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return idx;
}

SSL_SESSION* make_session(SSL* ssl) {
    auto* key = static_cast<const Key*>(SSL_get_ex_data(ssl, key_index()));
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, kSuite);
    if (!key || !cipher) return nullptr;
    SSL_SESSION* s = SSL_SESSION_new();
    if (!s) return nullptr;
    if (!SSL_SESSION_set1_master_key(s, key->bytes.data(), key->bytes.size()) ||
        !SSL_SESSION_set_cipher(s, cipher) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return nullptr;
    }
    return s;
}

int use_session(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    SSL_SESSION* s = make_session(ssl);
    if (!s) return 0;
    if (md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
        // A HelloRetryRequest chose a suite with another hash: no PSK then,
        // and the server refuses us.
        SSL_SESSION_free(s);
        *sess = nullptr;
        return 1;
    }
    *id = kIdentity;
    *idlen = kIdentityLen;
    *sess = s;
    return 1;
}

int find_session(SSL* ssl, const unsigned char* id, size_t idlen, SSL_SESSION** sess) {
    if (idlen != kIdentityLen || memcmp(id, kIdentity, idlen) != 0) return 0;  // abort the handshake
    *sess = make_session(ssl);
    return *sess ? 1 : 0;
}

// A client that offers no PSK at all would make the server look for a
// certificate; we have none, and want the refusal to say why.
int client_hello(SSL* ssl, int* alert, void*) {
    const unsigned char* ext;
    size_t len;
    if (SSL_client_hello_get0_ext(ssl, 41 /* pre_shared_key */, &ext, &len) != 1) {
        *alert = SSL_AD_ACCESS_DENIED;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

SSL_CTX* make_ctx(TlsLink::Role role, std::string& err) {
    SSL_CTX* ctx = SSL_CTX_new(role == TlsLink::Client ? TLS_client_method() : TLS_server_method());
    if (!ctx) {
        err = "cannot set up TLS";
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (role == TlsLink::Client) {
        SSL_CTX_set_psk_use_session_callback(ctx, use_session);
    } else {
        SSL_CTX_set_psk_find_session_callback(ctx, find_session);
        SSL_CTX_set_client_hello_cb(ctx, client_hello, nullptr);
    }
    return ctx;
}

// OpenSSL's queued errors as one readable phrase.
std::string ssl_errors() {
    std::string s;
    unsigned long e;
    while ((e = ERR_get_error()) != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        const char* reason = ERR_reason_error_string(e);
        if (!s.empty()) s += "; ";
        s += reason ? reason : buf;
    }
    return s;
}

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

}  // namespace

struct TlsLink::State {
    Key key;
    Role role;
    std::string peer;
    Fd sock, pair;     // the TCP connection; the pump's end of the socketpair
    Fd stop{eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    int wake_fd = -1;
    int timeout_ms = 30000;
    bool log_refusal = false;

    std::mutex mu;
    std::condition_variable cv;
    enum { Pending, Proven, Refused } hs = Pending;
    std::string why;

    void handshake_done(bool ok, const std::string& w) {
        std::lock_guard<std::mutex> g(mu);
        hs = ok ? Proven : Refused;
        why = w;
        cv.notify_all();
    }
    bool stopping() const {
        uint64_t v;
        return read(stop.get(), &v, sizeof v) == sizeof v;
    }
    void run();
    bool handshake(SSL* ssl, std::string& why);
    void pump(SSL* ssl);
};

std::unique_ptr<TlsLink> TlsLink::start(Fd sock, Role role, const Key& key, const std::string& peer, int timeout_ms,
                                        int wake_fd, bool log_refusal, std::string& err) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        err = std::string("socketpair: ") + strerror(errno);
        return nullptr;
    }
    std::unique_ptr<TlsLink> l(new TlsLink);
    l->local_ = Fd(sv[0]);
    auto st = std::make_shared<State>();
    st->pair = Fd(sv[1]);
    st->sock = std::move(sock);
    st->key = key;
    st->role = role;
    st->peer = peer;
    st->wake_fd = wake_fd;
    st->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    st->log_refusal = log_refusal;
    if (!st->stop) {
        err = std::string("eventfd: ") + strerror(errno);
        return nullptr;
    }
    l->st_ = st;
    l->thread_ = std::thread([st] { st->run(); });
    return l;
}

TlsLink::~TlsLink() {
    if (st_) {
        uint64_t one = 1;
        (void)!write(st_->stop.get(), &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
}

bool TlsLink::wait_handshake(std::string& err) {
    std::unique_lock<std::mutex> g(st_->mu);
    st_->cv.wait(g, [&] { return st_->hs != State::Pending; });
    err = st_->why;
    return st_->hs == State::Proven;
}

int TlsLink::handshake_state(std::string& err) {
    std::lock_guard<std::mutex> g(st_->mu);
    if (st_->hs == State::Pending) return 0;
    err = st_->why;
    return st_->hs == State::Proven ? 1 : -1;
}

void TlsLink::State::run() {
    std::string err;
    SSL_CTX* ctx = make_ctx(role, err);
    SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl) {
        handshake_done(false, "cannot set up TLS for " + peer + ": " + ssl_errors());
    } else {
        SSL_set_ex_data(ssl, key_index(), &key);
        set_nonblock(sock.get());
        set_nonblock(pair.get());
        SSL_set_fd(ssl, sock.get());
        if (role == Client) SSL_set_connect_state(ssl);
        else SSL_set_accept_state(ssl);
        std::string why;
        if (handshake(ssl, why)) {
            handshake_done(true, "");
            pump(ssl);
        } else {
            if (log_refusal) log_error("%s", why.c_str());
            handshake_done(false, why);
        }
        SSL_free(ssl);
    }
    if (ctx) SSL_CTX_free(ctx);
    ERR_clear_error();
    // Our end of the socketpair closes: the other end sees EOF.
    pair.reset();
    sock.reset();
}

bool TlsLink::State::handshake(SSL* ssl, std::string& why) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    const std::string refused = "peer " + peer + " did not prove the key in " + key.file;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(ssl);
        if (r == 1) return true;
        int e = SSL_get_error(ssl, r);
        short ev;
        if (e == SSL_ERROR_WANT_READ) ev = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE) ev = POLLOUT;
        else {
            int sys_errno = errno;
            std::string detail = ssl_errors();
            bool eof = e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && sys_errno == 0) ||
                       detail.find("unexpected eof") != std::string::npos;
            if (eof) detail = "the connection closed during the TLS handshake";
            else if (e == SSL_ERROR_SYSCALL && detail.empty())
                detail = std::string("connection error during the TLS handshake: ") + strerror(sys_errno);
            else if (role == Server && (detail.find("wrong version number") != std::string::npos ||
                                        detail.find("packet length too long") != std::string::npos ||
                                        detail.find("http request") != std::string::npos))
                detail = "it does not speak TLS (plain 9P from a peer without --key?): " + detail;
            else detail = "TLS handshake failed: " + detail;
            if (role == Client)
                detail += "; is it a duct given --key with the same key file? (a peer without --key "
                          "speaks plain 9P: dial it with --no-auth)";
            why = refused + ": " + detail;
            return false;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            why = refused + ": no TLS handshake within " + std::to_string(timeout_ms / 1000) + " s";
            return false;
        }
        pollfd p[3] = {{sock.get(), ev, 0}, {stop.get(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
        int n = poll(p, wake_fd >= 0 ? 3 : 2, int(left));
        if (n < 0 && errno != EINTR) {
            why = std::string("poll: ") + strerror(errno);
            return false;
        }
        if ((p[1].revents & POLLIN) || (wake_fd >= 0 && (p[2].revents & POLLIN))) {
            why = "stopped during the TLS handshake with " + peer;
            return false;
        }
    }
}

// Both directions until both are done (see tls.h). `up`: from our end of
// the socketpair to the peer; `down`: from the peer to our end.
void TlsLink::State::pump(SSL* ssl) {
    std::vector<char> up(1 << 16), down(1 << 16);
    size_t up_off = 0, up_len = 0, down_off = 0, down_len = 0;
    bool local_eof = false, local_gone = false, net_eof = false, closed_down = false, sent_notify = false;
    bool have_deadline = false;
    Clock::time_point deadline;
    auto fail = [&](const std::string& what) {
        log_error("channel %s: %s", peer.c_str(), what.c_str());
    };
    for (;;) {
        bool net_r = false, net_w = false, loc_r = false, loc_w = false, progress = true;
        while (progress) {
            progress = false;
            net_r = net_w = loc_r = loc_w = false;
            // Peer -> us.
            if (!net_eof && down_off == down_len) {
                ERR_clear_error();
                int n = SSL_read(ssl, down.data(), int(down.size()));
                if (n > 0) {
                    down_off = 0;
                    down_len = size_t(n);
                    progress = true;
                } else {
                    int e = SSL_get_error(ssl, n);
                    if (e == SSL_ERROR_WANT_READ) net_r = true;
                    else if (e == SSL_ERROR_WANT_WRITE) net_w = true;
                    else {
                        // close_notify, or the connection ended without one
                        // (the peer died): to us both are the end of input.
                        if (e != SSL_ERROR_ZERO_RETURN) {
                            std::string d = ssl_errors();
                            if (!d.empty() && d.find("unexpected eof") == std::string::npos) {
                                fail("TLS: " + d);
                                return;
                            }
                        }
                        net_eof = true;
                        progress = true;
                    }
                }
            }
            if (down_off < down_len && !local_gone) {
                ssize_t w = send(pair.get(), down.data() + down_off, down_len - down_off, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w > 0) {
                    down_off += size_t(w);
                    progress = true;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    loc_w = true;
                } else {
                    local_gone = true;  // nobody reads our end any more
                    down_off = down_len;
                    progress = true;
                }
            }
            if (net_eof && down_off == down_len && !closed_down) {
                shutdown(pair.get(), SHUT_WR);
                closed_down = true;
                progress = true;
            }
            // Us -> peer.
            if (!local_eof && up_off == up_len) {
                ssize_t r = recv(pair.get(), up.data(), up.size(), MSG_DONTWAIT);
                if (r > 0) {
                    up_off = 0;
                    up_len = size_t(r);
                    progress = true;
                } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                    local_eof = true;
                    progress = true;
                } else {
                    loc_r = true;
                }
            }
            if (up_off < up_len) {
                ERR_clear_error();
                int n = SSL_write(ssl, up.data() + up_off, int(up_len - up_off));
                if (n > 0) {
                    up_off += size_t(n);
                    progress = true;
                } else {
                    int e = SSL_get_error(ssl, n);
                    if (e == SSL_ERROR_WANT_WRITE) net_w = true;
                    else if (e == SSL_ERROR_WANT_READ) net_r = true;
                    else {
                        std::string d = ssl_errors();
                        fail("TLS write: " + (d.empty() ? std::string(strerror(errno)) : d));
                        return;
                    }
                }
            }
            if (local_eof && up_off == up_len && !sent_notify) {
                ERR_clear_error();
                int r = SSL_shutdown(ssl);
                if (r >= 0) {
                    sent_notify = true;
                    progress = true;
                } else if (SSL_get_error(ssl, r) == SSL_ERROR_WANT_WRITE) {
                    net_w = true;
                } else {
                    sent_notify = true;  // the connection is gone already
                }
            }
        }
        // Done when nothing more can move: our side has said all it will and
        // either the peer has too or nobody here listens any more.
        if (sent_notify && (closed_down || local_gone)) return;
        if (stopping() && !have_deadline) {
            have_deadline = true;
            deadline = Clock::now() + std::chrono::seconds(2);
        }
        int wait = -1;
        if (have_deadline) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) return;
            wait = int(left);
        }
        // An fd we wait nothing from is left out: its POLLHUP/POLLERR would
        // wake us over and over.
        short net_ev = short((net_r ? POLLIN : 0) | (net_w ? POLLOUT : 0));
        short loc_ev = short((loc_r ? POLLIN : 0) | (loc_w ? POLLOUT : 0));
        pollfd p[3] = {{net_ev ? sock.get() : -1, net_ev, 0},
                       {local_gone && !loc_ev ? -1 : pair.get(), loc_ev, 0},
                       {stop.get(), short(have_deadline ? 0 : POLLIN), 0}};
        int n = poll(p, 3, wait);
        if (n < 0 && errno != EINTR) {
            fail(std::string("poll: ") + strerror(errno));
            return;
        }
        // Our end fully closed (POLLHUP) while we still wait for the peer:
        // nobody is left to read what it sends.
        if (p[1].revents & (POLLHUP | POLLERR)) local_gone = true;
    }
}

}  // namespace duct::wire
