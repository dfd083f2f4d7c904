// uplink: the monitor. It builds the channel, the mux, our export and our
// mount, then watches which are alive and shuts them down in order,
// following the original duct's lifecycle:
//   - our mount closes        -> clunk its root (Mount::wait), send the close frame
//   - the close frame arrives -> tear down our export (every fid), keep our mount
//   - both done               -> flush, shut our write side, exit 0
//   - the channel ends first  -> detach our mount, fail its waiting calls with
//                                EIO, exit 1 if a direction was in use or the
//                                peer broke the protocol (a bad frame), else 0
//   - stop() (SIGINT/SIGTERM) -> unmount our mount (orderly: flushed first),
//                                then end; exit 1 if open files were cut off
//                                or our mount had to stay under another one
//   - the peer falls silent   -> (watchdog, issue 5 "No hangs") our mount sent
//                                a request after the last inbound frame and
//                                nothing came for opts.timeout: abort the
//                                channel, detach the mount (calls get EIO),
//                                exit 1 saying so
//
// Threads: the caller of run() is the monitor; it sleeps on `cv` (waking at
// least every timeout/6 for the watchdog) and acts on events posted by the
// mux reader thread (close frame, channel end), by the mount thread (which
// runs Mount::start(), the handshake that itself waits on the peer, then
// Mount::wait()) and by stop(). The prober thread sends the idle probes the
// watchdog asks for, because a send may block on a stuck channel and the
// monitor must not. Only the monitor ends parts, so no part is torn down
// from its own thread. `mu` guards the event flags in Impl; the monitor releases
// it around every call into a part that may block.
#include <duct/uplink.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "base/log.h"
#include "export/server.h"
#include "mount/idmap.h"
#include "mount/mount.h"
#include "mount/mountpoint.h"
#include "mux/mux.h"
#include "proto/codec.h"
#include "proto/errors.h"
#include "wire/channel.h"
#include "wire/net.h"
#include "wire/tls.h"
#include "uplink/auth.h"
#include "uplink/serve.h"

namespace duct {

namespace {
bool none(const std::string& s) { return s.empty() || s == "-"; }
// The channel ended with a read or write error (EPIPE, ECONNRESET: the
// peer went away), not with bytes that broke the protocol. The wire's
// messages say which (frame_reader.cc, frame_writer.cc).
bool io_error(const std::string& why) {
    return why.rfind("reading the channel", 0) == 0 || why.rfind("writing the channel", 0) == 0;
}
int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

struct Uplink::Impl {
    Fd in_dup, out_dup;  // our duplicates of the caller's channel fds
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
    bool mount_up = false;         // Mount::start() succeeded
    std::string mount_error;       // Mount::start() failed: why
    std::atomic<int64_t> last_request{0};  // steady ns: our mount last sent a request
    std::atomic<uint64_t> probes{0};
    bool probe_wanted = false, probe_quit = false;  // monitor -> prober thread (under mu)
    std::atomic<bool> parts_ready{false};  // server/mount/mx exist (summary() may look)
    std::atomic<bool> listening{false};    // serving many peers: summary() lists them
    Served served;

    std::unique_ptr<exp::Server> server;
    std::unique_ptr<mnt::Mount> mount;
    std::unique_ptr<mux::Mux> mx;
    // The address we dialed over TCP without a key (--no-auth), else "".
    std::string plain_tcp_dial;
    std::atomic<uint64_t> dropped_replies{0};
    // st_dev of our mount once it is up; our export refuses to walk into it
    // (ServerOptions::own_mount_dev).
    std::shared_ptr<std::atomic<uint64_t>> own_mount_dev = std::make_shared<std::atomic<uint64_t>>(0);
    Fd stop_wake{eventfd(0, EFD_CLOEXEC)};  // readable once stop() is called (wakes accept)

    int run();
    int run_channel(wire::Channel ch);
    bool make_channel(wire::Channel& ch, std::string& err);
    void reject_request(const std::string& frame);
    void note_own_mount();
    std::string summary() const;
};

Uplink::Uplink(int infd, int outfd, Options opts) : impl_(std::make_unique<Impl>()) {
    // uplink.h promises the caller keeps its own fds: take duplicates now,
    // so the caller may close them before run().
    impl_->in_dup = Fd(fcntl(infd, F_DUPFD_CLOEXEC, 3));
    impl_->out_dup = outfd == infd ? Fd() : Fd(fcntl(outfd, F_DUPFD_CLOEXEC, 3));
    impl_->infd = impl_->in_dup ? impl_->in_dup.get() : infd;
    impl_->outfd = outfd == infd ? impl_->infd : (impl_->out_dup ? impl_->out_dup.get() : outfd);
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

// Also called from other threads (SIGUSR1) while run() is going: it reads
// only atomics through parts that exist once parts_ready is set and live
// until the Uplink is destroyed.
std::string Uplink::Impl::summary() const {
    if (listening) return served.summary();
    if (!parts_ready.load()) return "not connected yet";
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
        if (probes) s += ", " + std::to_string(probes.load()) + " idle probes";
    }
    if (dropped_replies) s += "; " + std::to_string(dropped_replies.load()) + " replies dropped (no mount)";
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

// Tells our export the device of our own mount, so a walk into it (an
// export that holds our mount point, `duct ~ ~/peer` on both ends) fails
// instead of looping through both ducts. DONT_SYNC: the kernel answers from
// what it has, without asking our FUSE mount. Only a device that differs
// from the mount point's parent's counts (it is really mounted).
void Uplink::Impl::note_own_mount() {
    if (!server) return;
    struct statx m, p;
    const int fl = AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC;
    if (statx(AT_FDCWD, opts.mountpoint.c_str(), fl, 0, &m) != 0 ||
        statx(AT_FDCWD, (opts.mountpoint + "/..").c_str(), fl, 0, &p) != 0)
        return;
    if (m.stx_dev_major == p.stx_dev_major && m.stx_dev_minor == p.stx_dev_minor) return;
    own_mount_dev->store(uint64_t(makedev(m.stx_dev_major, m.stx_dev_minor)), std::memory_order_release);
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
        ChannelAuth auth;
        if (!opts.dial.empty()) {
            if (!channel_auth(opts, a.kind == wire::Address::Tcp, auth, err)) return false;
            Fd s = wire::dial(a, err);
            if (!s) return false;
            if (!auth.key) {
                if (a.kind == wire::Address::Tcp) plain_tcp_dial = a.text();
                ch = wire::socket_channel(std::move(s), "dial " + a.text());
                log_info("connected to %s", a.text().c_str());
                return true;
            }
            auto link = wire::TlsLink::start(std::move(s), wire::TlsLink::Client, *auth.key, a.text(),
                                             auth.handshake_ms, stop_wake.get(), false, err);
            if (!link || !link->wait_handshake(err)) return false;
            ch = wire::tls_channel(std::move(link), "dial " + a.text());
            log_info("connected to %s (TLS, key %s)", a.text().c_str(), opts.key_file.c_str());
            return true;
        }
        Fd l = wire::listen_on(a, err);
        if (!l) return false;
        // The kind of a systemd socket is known only now.
        bool ok = channel_auth(opts, wire::is_tcp_socket(l.get()), auth, err);
        if (ok) log_info("listening on %s for one peer%s", a.text().c_str(), auth.key ? " (TLS)" : "");
        // A peer that does not prove the key is refused, and we wait for the next.
        // Handshakes run on their links' own threads while we keep accepting:
        // the first peer to prove the key is ours, so peers that connect and
        // say nothing (each dropped after --timeout) hold no one up.
        struct Pending {
            std::unique_ptr<wire::TlsLink> link;
            std::string name;
        };
        std::vector<Pending> pending;
        while (ok) {
            for (auto it = pending.begin(); it != pending.end();) {
                std::string why;
                int hs = it->link->handshake_state(why);
                if (hs == 0) {
                    ++it;
                } else if (hs > 0) {
                    ch = wire::tls_channel(std::move(it->link), it->name);
                    break;
                } else {
                    log_error("%s", why.c_str());
                    it = pending.erase(it);
                }
            }
            if (ch.in) break;  // the rest are dropped with `pending`
            {
                std::lock_guard<std::mutex> g(mu);
                if (stop_requested) {
                    err = auth.key ? "stopped before a peer proved the key" : "stopped before a peer connected";
                    ok = false;
                    break;
                }
            }
            std::string peer;
            bool timed_out = false;
            // While handshakes are going, look at them every 50 ms.
            Fd s = wire::accept_one(l.get(), stop_wake.get(), peer, err, pending.empty() ? -1 : 50, &timed_out);
            if (timed_out) continue;
            if (!s) {
                if (err.empty()) err = auth.key ? "stopped before a peer proved the key" : "stopped before a peer connected";
                ok = false;
                break;
            }
            log_info("peer %s connected", peer.c_str());
            std::string name = "listen " + a.text() + " peer " + peer;
            if (!auth.key) {
                ch = wire::socket_channel(std::move(s), name);
                break;
            }
            auto link = wire::TlsLink::start(std::move(s), wire::TlsLink::Server, *auth.key, peer,
                                             auth.handshake_ms, stop_wake.get(), false, err);
            if (!link) {
                ok = false;
                break;
            }
            pending.push_back(Pending{std::move(link), std::move(name)});
        }
        if (a.kind == wire::Address::Unix) unlink(a.path.c_str());
        return ok;
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
        listening = true;
        return serve_many(opts, stop_wake.get(), [this] {
            std::lock_guard<std::mutex> g(mu);
            return stop_requested;
        }, served);
    }
    std::string err;
    if (!none(opts.mountpoint)) {
        // Before the channel: a bad mount point is said as such, not hidden
        // behind whatever the channel does (a dead one: "channel closed").
        std::string real;
        if (!mnt::check_mountpoint(opts.mountpoint, real, err)) {
            log_error("mount %s: %s", opts.mountpoint.c_str(), err.c_str());
            return kExitFailed;
        }
    }
    wire::Channel ch;
    bool made = make_channel(ch, err);
    // The Channel holds its own duplicates: drop ours, or a pipe's write
    // end would stay open here and the peer never see our EOF.
    in_dup.reset();
    out_dup.reset();
    if (!made) {
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
        so.read_only = opts.read_only;
        so.as_uid = opts.as_uid;
        so.as_gid = opts.as_gid;
        so.trace = opts.trace;
        so.own_mount_dev = own_mount_dev;
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
        mo.idmap = opts.idmap;
        mo.timeout = opts.timeout;
        mo.cache_timeout = opts.cache_timeout;
        // auto: the kernel's v9fs when it can do everything asked (it maps no ids).
        bool kernel = opts.mount_with == "kernel" ||
                      (opts.mount_with == "auto" && geteuid() == 0 && (opts.idmap.empty() || opts.idmap == "none") &&
                       mnt::Mount::kernel_available());
        // Every request our mount sends (and every probe) stamps
        // last_request, which the watchdog compares with the mux's last_in.
        auto msend = [this](std::string frame) {
            last_request.store(now_ns(), std::memory_order_relaxed);
            mx->send(std::move(frame));
        };
        mount = kernel ? mnt::Mount::create_kernel(mo, msend) : mnt::Mount::create(mo, msend);
        log_info("mount backend: %s", kernel ? "kernel v9fs (trans=fd)" : "FUSE");
    }

    mux::Sinks sinks;
    sinks.request = [this](std::string f) {
        if (server) server->handle(std::move(f));
        else reject_request(f);
    };
    sinks.reply = [this](std::string f) {
        if (mount) {
            mount->deliver(std::move(f));
            return;
        }
        // No mount, so no request of ours can be outstanding: the peer
        // breaks the protocol, and there is no message to answer it with
        // (an R-message has no reply). End the channel saying so; never
        // drop it in silence (issue 11).
        dropped_replies++;
        mx->fail("peer sent R-message type " + std::to_string(uint8_t(f[4])) + " (tag " +
                 std::to_string(uint8_t(f[5]) | uint8_t(f[6]) << 8) +
                 "; no request of ours is outstanding: we mount nothing)");
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
        // A duct listening with --key answers plain 9P by hanging up (the
        // bytes are no TLS record): all a dialer without a key sees is a
        // reset or an EOF before any frame. Say what most likely happened.
        if (!plain_tcp_dial.empty() && mx && mx->stats().frames_in == 0) {
            std::string hint = "the peer at " + plain_tcp_dial +
                               " hung up before answering anything: a duct listening with --key does that to a "
                               "peer without one; dial it with --key FILE, the listener's key file";
            channel_why = channel_why.empty() ? hint : channel_why + " (" + hint + ")";
        }
        cv.notify_all();
    };
    // The largest frame either direction may carry: msize bounds both.
    // A peer that reads none of our replies for --timeout while more than
    // the writer's budget waits for it is cut off (the reader never waits
    // for the writer, so nothing else would bound that memory).
    wire::WriterLimits wl;
    wl.stall = std::chrono::seconds(opts.timeout);
    mx = std::make_unique<mux::Mux>(std::move(ch.in), std::move(ch.out), opts.msize, sinks, opts.trace, wl);
    mx->start();
    parts_ready = true;
    if (server) log_info("exporting %s", opts.export_path.c_str());

    // The mount thread: handshake and mount(2) (both wait on the peer, so
    // the monitor must stay free to notice a channel end or a silent peer
    // meanwhile), then Mount::wait() until the mount is gone.
    std::thread mount_thread;
    if (mount) {
        mount_thread = std::thread([this] {
            std::string merr;
            bool ok = mount->start(merr);
            {
                std::lock_guard<std::mutex> g(mu);
                if (ok) mount_up = true;
                else mount_error = merr;
                cv.notify_all();
            }
            if (ok) {
                log_info("mounted the peer's export on %s", opts.mountpoint.c_str());
                note_own_mount();
                mount->wait();
            }
            std::lock_guard<std::mutex> g(mu);
            mount_gone = true;
            cv.notify_all();
        });
    }

    // The prober: sends one probe per request from the watchdog below.
    // Ends when the monitor is done (probe_quit); mx->abort() unblocks a
    // probe stuck on a full channel first.
    std::thread prober;
    if (mount && opts.timeout > 0) {
        prober = std::thread([this] {
            std::unique_lock<std::mutex> pg(mu);
            for (;;) {
                cv.wait(pg, [&] { return probe_wanted || probe_quit; });
                if (probe_quit) return;
                probe_wanted = false;
                pg.unlock();
                if (mount->probe()) probes++;
                pg.lock();
            }
        });
    }

    const int64_t timeout_ns = int64_t(opts.timeout) * 1000000000;
    int64_t last_probe = 0;
    int rc = kExitOk;
    bool export_done = !server, mount_done = !mount, close_sent = false, unmounting = false, silent = false,
         stop_grace_over = false;
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
            if (!mount_error.empty()) {
                // start() failed: the mount never existed, so no close frame.
                if (!silent && !channel_ended) log_error("mount %s: %s", opts.mountpoint.c_str(), mount_error.c_str());
                rc = kExitFailed;
                if (!channel_ended) {
                    g.unlock();
                    mx->close_write();
                    g.lock();
                }
                break;
            }
            if (size_t cut = mount->files_cut_off()) {
                log_error("unmounted %s while %zu open file%s still in use: cut off (what uses %s gets "
                          "errors from now on)",
                          opts.mountpoint.c_str(), cut, cut == 1 ? " was" : "s were", cut == 1 ? "it" : "them");
                rc = kExitFailed;
            }
            if (mount->left_covered()) rc = kExitFailed;  // Mount said why
            if (!channel_ended && !silent && !close_sent) {
                close_sent = true;
                g.unlock();
                mx->send_close_frame();
                log_info("unmounted %s; told the peer", opts.mountpoint.c_str());
                g.lock();
            }
            continue;
        }
        if (channel_ended || silent) {
            bool in_use = !mount_done || (!export_done && server->in_use());
            if (silent) {
                rc = kExitFailed;
            } else if (in_use) {
                rc = kExitFailed;
                log_error("channel %s while %s was in use%s%s", channel_clean ? "closed by the peer" : "broke",
                          !mount_done ? "our mount" : "our export", channel_why.empty() ? "" : ": ",
                          channel_why.c_str());
            } else if (!channel_clean && !io_error(channel_why)) {
                // Bytes came that are not 9P (a bad size, a bad frame): an
                // error even when neither direction was in use.
                rc = kExitFailed;
                log_error("channel carried something that is not 9P: %s", channel_why.c_str());
            } else {
                log_info("channel closed");
            }
            if (!mount_done) {
                g.unlock();
                mount->channel_lost();
                if (!mount_up && verbose()) log_info("mount of %s abandoned", opts.mountpoint.c_str());
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
                // Still in the handshake: nothing is mounted yet, so give up
                // on it as if the channel had gone.
                if (mount_up) mount->unmount();
                else mount->channel_lost();
                g.lock();
                continue;
            }
            if (mount_done) {
                // The peer may be stopping too (SIGTERM to both ends): give
                // its close frame a moment to arrive, so neither end sees
                // the channel vanish under a mount it is still unmounting.
                // A peer that has read nothing for a second is not unmounting:
                // neither wait for it nor try to flush to it.
                bool unread = mx->stalled_for() >= std::chrono::seconds(1);
                if (!export_done && !stop_grace_over && !unread) {
                    stop_grace_over = true;
                    cv.wait_for(g, std::chrono::seconds(2), [&] { return peer_closed || channel_ended; });
                    continue;
                }
                g.unlock();
                auto stalled = mx->stalled_for();
                if (!mx->close_write_within(unread ? std::chrono::seconds(0) : std::chrono::seconds(5))) {
                    rc = kExitFailed;
                    if (unread)
                        log_error("stopping: the peer has read nothing for %.0f s; dropped what was queued for it",
                                  double(stalled.count()) / 1000);
                    else
                        log_error("stopping: the peer did not read what was queued for it within 5 s; dropped it");
                }
                g.lock();
                break;
            }
        }
        // The watchdog (issue 5 "No hangs"): our mount is waiting for the
        // peer (a request or probe went out after the last frame came in)
        // and nothing has arrived for `timeout` seconds.
        if (timeout_ns > 0 && !mount_done) {
            int64_t now = now_ns(), in = mx->last_in(), out = last_request.load();
            if (out > in && now - in > timeout_ns) {
                silent = true;
                log_error("the peer sent nothing for %.0f s while our mount of %s waited for a reply "
                          "(--timeout %d): the peer is stopped or the channel carries no bytes; "
                          "failing its calls with EIO and detaching it",
                          double(now - in) / 1e9, opts.mountpoint.c_str(), opts.timeout);
                g.unlock();
                mx->abort();
                g.lock();
                continue;
            }
            // Idle for a third of the timeout: ask the peer for a cheap
            // answer, so a silent peer is noticed before anyone waits on it.
            // The prober thread sends it: sending may wait for room on a
            // stuck channel, and the monitor must stay free to time out.
            if (mount_up && now - in >= timeout_ns / 3 && now - last_probe >= timeout_ns / 3) {
                last_probe = now;
                probe_wanted = true;
                cv.notify_all();
            }
        }
        if (timeout_ns > 0 && !mount_done)
            cv.wait_for(g, std::chrono::nanoseconds(std::min<int64_t>(timeout_ns / 6, 1000000000)));
        else
            cv.wait(g);
    }
    probe_quit = true;
    cv.notify_all();
    g.unlock();
    if (prober.joinable()) prober.join();
    if (mount_thread.joinable()) mount_thread.join();
    mx->stop();
    if (server) server->stop();
    // The peer ended its side (EOF) but may still read ours: the export's
    // answers to its last requests (a plain client that sends Tversion and
    // closes, a half-closed socket) are written before we go.
    if (channel_ended && channel_clean && !silent) mx->close_write_within(std::chrono::seconds(2));
    if (verbose()) log_info("summary: %s", summary().c_str());
    int child = ch.reap(silent ? 500 : 5000);
    if (child > 0) log_info("--exec command exited with status %d", child);
    std::lock_guard<std::mutex> f(mu);
    finished = true;
    return rc;
}

bool valid_address(const std::string& addr, std::string& why) {
    wire::Address a;
    return wire::parse_address(addr, a, why);
}

bool valid_idmap(const std::string& spec, std::string& why) {
    mnt::IdMap m;
    return mnt::IdMap::parse(spec, m, why);
}

int uplink(int infd, int outfd, const std::string& export_path, const std::string& mountpoint) {
    Options o;
    o.export_path = export_path;
    o.mountpoint = mountpoint;
    Uplink u(infd, outfd, o);
    return u.run();
}

}  // namespace duct
