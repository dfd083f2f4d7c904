// serve_many: accept loop + one thread per peer. Finished connections are
// joined as new ones arrive and at the end; stop() reaches every live one.
#include "uplink/serve.h"

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "base/log.h"
#include "uplink/auth.h"
#include "wire/net.h"
#include "wire/tls.h"

namespace duct {

namespace {
struct Conn {
    std::unique_ptr<wire::TlsLink> tls;  // --key: the pump behind `sock`; destroyed last
    Fd sock;
    std::mutex mu;  // guards `up` against stop() while its thread destroys it
    std::unique_ptr<Uplink> up;
    std::thread thread;
    std::atomic<bool> done{false};
};
}  // namespace

std::string Served::summary() const {
    std::lock_guard<std::mutex> g(mu);
    std::string s = std::to_string(live.size()) + " peer(s) connected, " + std::to_string(finished) + " finished";
    for (auto& [peer, up] : live) s += "\n  " + peer + ": " + up->summary();
    return s;
}

int serve_many(const Options& opts, int wake_fd, const std::function<bool()>& stopping, Served& served) {
    std::string err;
    wire::Address a;
    if (!wire::parse_address(opts.listen, a, err)) {
        log_error("%s", err.c_str());
        return kExitFailed;
    }
    Fd l = wire::listen_on(a, err);
    if (!l) {
        log_error("%s", err.c_str());
        return kExitFailed;
    }
    ChannelAuth auth;
    if (!channel_auth(opts, wire::is_tcp_socket(l.get()), auth, err)) {
        log_error("%s", err.c_str());
        return kExitFailed;
    }
    log_info("serving %s to any number of peers on %s%s", opts.export_path.c_str(), a.text().c_str(),
             auth.key ? " (TLS)" : "");
    Options child = opts;
    child.listen.clear();
    std::list<std::unique_ptr<Conn>> conns;
    // A finished connection is taken off `served.live` and its Uplink
    // destroyed by its own thread (which closes the peer's socket at once,
    // not at the next accept); here it is only joined.
    auto reap = [&](bool all) {
        for (auto it = conns.begin(); it != conns.end();) {
            if (all || (*it)->done) {
                (*it)->thread.join();
                it = conns.erase(it);
            } else {
                ++it;
            }
        }
    };
    int rc = kExitOk;
    while (!stopping()) {
        std::string peer;
        Fd s = wire::accept_one(l.get(), wake_fd, peer, err);
        if (!s) {
            if (!err.empty()) {
                log_error("%s", err.c_str());
                rc = kExitFailed;
            }
            break;
        }
        log_info("peer %s connected", peer.c_str());
        reap(false);
        auto c = std::make_unique<Conn>();
        if (auth.key) {
            // The handshake runs on the link's own thread (a silent peer
            // holds only that, for at most handshake_ms); the Uplink meanwhile
            // waits on the link's plain end, which stays silent until the
            // peer has proven the key, and sees EOF if it does not.
            c->tls = wire::TlsLink::start(std::move(s), wire::TlsLink::Server, *auth.key, peer, auth.handshake_ms,
                                          wake_fd, true, err);
            if (!c->tls) {
                log_error("peer %s: %s", peer.c_str(), err.c_str());
                continue;
            }
            c->sock = c->tls->take_local();
        } else {
            c->sock = std::move(s);
        }
        c->up = std::make_unique<Uplink>(c->sock.get(), c->sock.get(), child);
        {
            std::lock_guard<std::mutex> g(served.mu);
            served.live.emplace_back(peer, c->up.get());
        }
        Conn* cp = c.get();
        c->thread = std::thread([cp, peer, &served] {
            int r = cp->up->run();
            log_info("peer %s done (status %d)", peer.c_str(), r);
            {
                std::lock_guard<std::mutex> g(served.mu);
                auto& v = served.live;
                for (auto e = v.begin(); e != v.end(); ++e)
                    if (e->second == cp->up.get()) {
                        v.erase(e);
                        break;
                    }
                served.finished++;
            }
            {
                std::lock_guard<std::mutex> g(cp->mu);
                cp->up.reset();
            }
            cp->sock.reset();
            cp->done = true;
        });
        conns.push_back(std::move(c));
    }
    for (auto& c : conns) {
        std::lock_guard<std::mutex> g(c->mu);
        if (c->up) c->up->stop();
    }
    reap(true);
    if (a.kind == wire::Address::Unix) unlink(a.path.c_str());
    return rc;
}

}  // namespace duct
