// uplink: the monitor. It builds the channel, the mux, our export and our
// mount, then watches which are alive and shuts them down in order,
// following the original duct's lifecycle:
//   - our mount closes        -> clunk its root (Mount::wait), send the close frame
//   - the close frame arrives -> tear down our export (every fid), keep our mount
//   - both done               -> flush, shut our write side, exit 0
//   - the channel ends first  -> detach our mount, fail its waiting calls with
//                                EIO, exit 1 if a direction was in use, else 0
//   - stop() (SIGINT/SIGTERM) -> unmount our mount (orderly), then end
//
// Threads: the caller of run() is the monitor; it sleeps on `cv` and acts on
// events posted by the mux reader thread (close frame, channel end), by the
// mount thread (mount gone) and by stop(). Only the monitor starts or ends
// parts, so no part is torn down from its own thread.
#include <duct/uplink.h>

#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/eventfd.h>
#include <thread>
#include <unistd.h>

#include "base/log.h"
#include "export/server.h"
#include "mount/mount.h"
#include "mux/mux.h"
#include "proto/codec.h"
#include "proto/errors.h"
#include "wire/channel.h"
#include "wire/net.h"
#include "uplink/serve.h"

namespace duct {

namespace {
bool none(const std::string& s) { return s.empty() || s == "-"; }
}  // namespace

struct Uplink::Impl {
    int infd, outfd;
    Options opts;

    std::mutex mu;  // guards the event flags below
    std::condition_variable cv;
    bool peer_closed = false;      // close frame received
    bool mount_gone = false;       // Mount::wait() returned
    bool channel_ended = false;
    bool channel_clean = false;
    std::string channel_why;
    bool stop_requested = false;
    bool finished = false;         // run() has returned

    std::unique_ptr<exp::Server> server;
    std::unique_ptr<mnt::Mount> mount;
    std::unique_ptr<mux::Mux> mx;
    std::atomic<uint64_t> dropped_replies{0};
    Fd stop_wake{eventfd(0, EFD_CLOEXEC)};  // readable once stop() is called (wakes accept)

    int run();
    int run_channel(wire::Channel ch);
    bool make_channel(wire::Channel& ch, std::string& err);
    void reject_request(const std::string& frame);
    std::string summary() const;
};

Uplink::Uplink(int infd, int outfd, Options opts) : impl_(std::make_unique<Impl>()) {
    impl_->infd = infd;
    impl_->outfd = outfd;
    impl_->opts = std::move(opts);
}

Uplink::~Uplink() = default;

int Uplink::run() { return impl_->run(); }

void Uplink::stop() {
    {
        std::lock_guard<std::mutex> g(impl_->mu);
        impl_->stop_requested = true;
    }
    uint64_t one = 1;
    (void)!::write(impl_->stop_wake.get(), &one, sizeof one);
    impl_->cv.notify_all();
}

std::string Uplink::summary() const { return impl_->summary(); }

std::string Uplink::Impl::summary() const {
    std::string s;
    if (mx) {
        auto m = mx->stats();
        s += "channel in " + std::to_string(m.frames_in) + " msgs/" + std::to_string(m.bytes_in) +
             " bytes, out " + std::to_string(m.frames_out) + " msgs/" + std::to_string(m.bytes_out) + " bytes";
    }
    if (server) {
        auto e = server->stats();
        s += "; export " + std::to_string(e.requests) + " requests, " + std::to_string(e.errors) +
             " errors, read " + std::to_string(e.bytes_read) + " written " + std::to_string(e.bytes_written);
    }
    if (mount) {
        auto m = mount->stats();
        s += "; mount " + std::to_string(m.requests) + " requests, " + std::to_string(m.errors) +
             " errors, read " + std::to_string(m.bytes_read) + " written " + std::to_string(m.bytes_written);
    }
    return s;
}

// A request reached a duct that exports nothing: answer it so the peer's
// mount fails with a clear message instead of waiting.
void Uplink::Impl::reject_request(const std::string& frame) {
    p9::Fcall r;
    r.tag = p9::frame_tag(frame);
    r.msg = p9::Rerror{"duct: this end exports nothing"};
    mx->send(p9::encode(r, p9::Dialect::P2000));
}

// The channel, from whichever source the options name. A listener that
// mounts takes exactly one peer and closes the listening socket.
bool Uplink::Impl::make_channel(wire::Channel& ch, std::string& err) {
    if (!opts.exec.empty()) {
        ch = wire::exec_channel(opts.exec, err);
        return bool(ch.in);
    }
    if (!opts.dial.empty() || !opts.listen.empty()) {
        wire::Address a;
        if (!wire::parse_address(opts.dial.empty() ? opts.listen : opts.dial, a, err)) return false;
        if (!opts.dial.empty()) {
            Fd s = wire::dial(a, err);
            if (!s) return false;
            ch = wire::socket_channel(std::move(s), "dial " + a.text());
            log_info("connected to %s", a.text().c_str());
            return true;
        }
        Fd l = wire::listen_on(a, err);
        if (!l) return false;
        log_info("listening on %s for one peer", a.text().c_str());
        std::string peer;
        Fd s = wire::accept_one(l.get(), stop_wake.get(), peer, err);
        if (a.kind == wire::Address::Unix) unlink(a.path.c_str());
        if (!s) {
            if (err.empty()) err = "stopped before a peer connected";
            return false;
        }
        log_info("peer %s connected", peer.c_str());
        ch = wire::socket_channel(std::move(s), "listen " + a.text() + " peer " + peer);
        return true;
    }
    ch = wire::fd_channel(infd, outfd, err);
    return bool(ch.in);
}

int Uplink::Impl::run() {
    signal(SIGPIPE, SIG_IGN);  // a dead channel is an error value, not a signal
    log_config().trace = opts.trace;
    log_config().verbose = opts.verbose;
    if (!opts.listen.empty() && none(opts.mountpoint)) {
        // An export server: any number of peers, one uplink each.
        return serve_many(opts, stop_wake.get(), [this] {
            std::lock_guard<std::mutex> g(mu);
            return stop_requested;
        });
    }
    std::string err;
    wire::Channel ch;
    if (!make_channel(ch, err)) {
        log_error("%s", err.c_str());
        return kExitFailed;
    }
    return run_channel(std::move(ch));
}

int Uplink::Impl::run_channel(wire::Channel ch) {
    std::string err;

    auto send = [this](std::string frame) { mx->send(std::move(frame)); };
    if (!none(opts.export_path)) {
        exp::ServerOptions so;
        so.root = opts.export_path;
        so.max_msize = opts.msize;
        so.threads = opts.export_threads;
        so.trace = opts.trace;
        server = exp::Server::create(so, send, err);
        if (!server) {
            log_error("export %s: %s", opts.export_path.c_str(), err.c_str());
            return kExitFailed;
        }
    }
    if (!none(opts.mountpoint)) {
        mnt::MountOptions mo;
        mo.mountpoint = opts.mountpoint;
        mo.dialect = opts.dialect;
        mo.msize = opts.msize;
        mo.uname = opts.uname;
        mo.aname = opts.aname;
        mo.trace = opts.trace;
        mo.kernel_options = opts.kernel_options;
        bool kernel = opts.mount_with == "kernel" ||
                      (opts.mount_with == "auto" && geteuid() == 0 && mnt::Mount::kernel_available());
        mount = kernel ? mnt::Mount::create_kernel(mo, send) : mnt::Mount::create(mo, send);
        log_info("mount backend: %s", kernel ? "kernel v9fs (trans=fd)" : "FUSE");
    }

    mux::Sinks sinks;
    sinks.request = [this](std::string f) {
        if (server) server->handle(std::move(f));
        else reject_request(f);
    };
    sinks.reply = [this](std::string f) {
        if (mount) mount->deliver(std::move(f));
        else dropped_replies++;
    };
    sinks.close = [this] {
        std::lock_guard<std::mutex> g(mu);
        peer_closed = true;
        cv.notify_all();
    };
    sinks.end = [this](bool clean, const std::string& why) {
        std::lock_guard<std::mutex> g(mu);
        channel_ended = true;
        channel_clean = clean;
        channel_why = why;
        cv.notify_all();
    };
    // The largest frame either direction may carry: msize bounds both.
    mx = std::make_unique<mux::Mux>(std::move(ch.in), std::move(ch.out), opts.msize, sinks, opts.trace);
    mx->start();

    std::thread mount_thread;
    if (mount) {
        if (!mount->start(err)) {
            log_error("mount %s: %s", opts.mountpoint.c_str(), err.c_str());
            mx->close_write();
            mx->stop();
            if (server) server->stop();
            return kExitFailed;
        }
        log_info("mounted the peer's export on %s", opts.mountpoint.c_str());
        mount_thread = std::thread([this] {
            mount->wait();
            std::lock_guard<std::mutex> g(mu);
            mount_gone = true;
            cv.notify_all();
        });
    }
    if (server) log_info("exporting %s", opts.export_path.c_str());

    int rc = kExitOk;
    bool export_done = !server, mount_done = !mount, close_sent = false, unmounting = false;
    std::unique_lock<std::mutex> g(mu);
    for (;;) {
        if (peer_closed && !export_done) {
            g.unlock();
            server->teardown();
            log_info("peer unmounted; export of %s torn down", opts.export_path.c_str());
            g.lock();
            export_done = true;
            continue;
        }
        if (mount_gone && !mount_done) {
            mount_done = true;
            if (!channel_ended && !close_sent) {
                close_sent = true;
                g.unlock();
                mx->send_close_frame();
                log_info("unmounted %s; told the peer", opts.mountpoint.c_str());
                g.lock();
            }
            continue;
        }
        if (channel_ended) {
            bool in_use = !mount_done || (!export_done && server->in_use());
            if (in_use) {
                rc = kExitFailed;
                log_error("channel %s while %s was in use%s%s", channel_clean ? "closed by the peer" : "broke",
                          !mount_done ? "our mount" : "our export", channel_why.empty() ? "" : ": ",
                          channel_why.c_str());
            } else {
                log_info("channel closed");
            }
            if (!mount_done) {
                g.unlock();
                mount->channel_lost();
                g.lock();
                cv.wait(g, [&] { return mount_gone; });
                mount_done = true;
            }
            break;
        }
        if (export_done && mount_done) {
            g.unlock();
            mx->close_write();
            g.lock();
            break;
        }
        if (stop_requested) {
            if (!mount_done && !unmounting) {
                unmounting = true;
                g.unlock();
                log_info("stopping: unmounting %s", opts.mountpoint.c_str());
                mount->unmount();
                g.lock();
                continue;
            }
            if (mount_done) {
                g.unlock();
                mx->close_write();
                g.lock();
                break;
            }
        }
        cv.wait(g);
    }
    g.unlock();
    if (mount_thread.joinable()) mount_thread.join();
    mx->stop();
    if (server) server->stop();
    if (verbose()) log_info("summary: %s", summary().c_str());
    int child = ch.reap(5000);
    if (child > 0) log_info("--exec command exited with status %d", child);
    std::lock_guard<std::mutex> f(mu);
    finished = true;
    return rc;
}

bool valid_address(const std::string& addr, std::string& why) {
    wire::Address a;
    return wire::parse_address(addr, a, why);
}

int uplink(int infd, int outfd, const std::string& export_path, const std::string& mountpoint) {
    Options o;
    o.export_path = export_path;
    o.mountpoint = mountpoint;
    Uplink u(infd, outfd, o);
    return u.run();
}

}  // namespace duct
