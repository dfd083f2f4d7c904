// raw_peer.h — the test side of a real export Server: encoded 9P frames go
// in through handle(), replies are collected by tag. Shared by the
// export_*_test.cc binaries, each of which derives its own Peer with the
// conveniences its cases need. A header, so the CMake glob of
// tests/unit/*.cc does not make it a test binary of its own.
//
// Threads: the server's workers (and its reader path, handle()) call
// on_reply; the test thread waits in next()/wait(). before_stop runs on the
// test thread just before the workers are joined (a test that may leave a
// worker blocked unblocks it there).
#pragma once
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "export/server.h"
#include "proto/codec.h"

namespace duct::test {

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void spit(const std::filesystem::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}

// The options every export test starts from: a small msize (room for the
// header) and a few workers.
inline exp::ServerOptions server_options(const std::string& root, uint32_t max_msize = 65536 + 4096,
                                         int threads = 4) {
    exp::ServerOptions o;
    o.root = root;
    o.max_msize = max_msize;
    o.threads = threads;
    return o;
}

class RawPeer {
public:
    explicit RawPeer(const exp::ServerOptions& o) {
        std::string err;
        srv = exp::Server::create(o, [this](std::string f) { on_reply(std::move(f)); }, err);
        EXPECT_TRUE(srv) << err;
    }
    virtual ~RawPeer() {
        if (before_stop) before_stop();
        if (srv) srv->stop();
    }
    RawPeer(const RawPeer&) = delete;
    RawPeer& operator=(const RawPeer&) = delete;

    void send_raw(std::string frame) { srv->handle(std::move(frame)); }
    void send(uint16_t tag, p9::Message m) {
        p9::Fcall f;
        f.tag = tag;
        f.msg = std::move(m);
        send_raw(p9::encode(f, d));
    }
    // The next reply with this tag into `out`; false if none came by `limit`.
    bool next(uint16_t tag, p9::Fcall& out, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        std::unique_lock<std::mutex> g(mu_);
        if (!cv_.wait_for(g, limit, [&] { return !replies_[tag].empty(); })) return false;
        std::string fr = std::move(replies_[tag].front());
        replies_[tag].erase(replies_[tag].begin());
        EXPECT_EQ(p9::decode(fr, d, 0, out), "");
        return true;
    }
    // The same, as a test failure when nothing came (then an empty Fcall).
    p9::Fcall wait(uint16_t tag, int secs = 5) {
        p9::Fcall out;
        bool ok = next(tag, out, std::chrono::seconds(secs));
        EXPECT_TRUE(ok) << "no reply for tag " << tag;
        return out;
    }
    p9::Fcall rpc(p9::Message m) {
        uint16_t tag = next_tag++;
        send(tag, std::move(m));
        return wait(tag);
    }
    size_t count(uint16_t tag) {
        std::lock_guard<std::mutex> g(mu_);
        return replies_[tag].size();
    }
    bool no_reply(uint16_t tag, int ms = 100) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        return count(tag) == 0;
    }
    void forget_replies() {
        std::lock_guard<std::mutex> g(mu_);
        replies_.clear();
        arrival_.clear();
    }
    // Tags in the order their replies arrived.
    std::vector<uint16_t> order() {
        std::lock_guard<std::mutex> g(mu_);
        return arrival_;
    }
    // The errno of an Rlerror reply, 0 for any other reply.
    static int lerr(const p9::Fcall& f) {
        if (auto* e = std::get_if<p9::Rlerror>(&f.msg)) return int(e->ecode);
        return 0;
    }
    static std::string ename(const p9::Fcall& f) {
        if (auto* e = std::get_if<p9::Rerror>(&f.msg)) return e->ename;
        return "";
    }
    // Tversion then Tattach of fid 0 as n_uname `uid`.
    void version_attach(uint32_t uid = 0, const std::string& version = "9P2000.L") {
        auto r = rpc(p9::Tversion{65536, version});
        ASSERT_TRUE(p9::holds<p9::Rversion>(r));
        ASSERT_EQ(std::get<p9::Rversion>(r.msg).version, version);
        if (version == "9P2000") d = p9::Dialect::P2000;
        if (version.rfind("9P2000.L.duct", 0) == 0) d = p9::Dialect::Duct;
        p9::Tattach a;
        a.fid = 0;
        a.afid = p9::NOFID;
        a.uname = "root";
        a.n_uname.value = uid;
        auto ra = rpc(a);
        ASSERT_TRUE(p9::holds<p9::Rattach>(ra)) << lerr(ra) << ename(ra);
    }
    // Twalk; 0 when every name was walked, -(qids+1) for a partial walk,
    // else the error.
    int walk(uint32_t fid, uint32_t newfid, p9::WNames names, p9::WQids* q = nullptr) {
        auto r = rpc(p9::Twalk{fid, newfid, names});
        if (auto* w = std::get_if<p9::Rwalk>(&r.msg)) {
            if (q) *q = w->wqid;
            return w->wqid.size() == names.size() ? 0 : -int(w->wqid.size()) - 1;
        }
        return lerr(r);
    }
    int lopen(uint32_t fid, uint32_t flags) { return lerr(rpc(p9::Tlopen{fid, flags})); }
    int clunk(uint32_t fid) { return lerr(rpc(p9::Tclunk{fid})); }

    std::unique_ptr<exp::Server> srv;
    p9::Dialect d = p9::Dialect::L;
    uint16_t next_tag = 1;
    std::function<void()> before_stop;

private:
    void on_reply(std::string f) {
        std::lock_guard<std::mutex> g(mu_);
        uint16_t tag = p9::frame_tag(f);
        replies_[tag].push_back(std::move(f));
        arrival_.push_back(tag);
        cv_.notify_all();
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<uint16_t, std::vector<std::string>> replies_;
    std::vector<uint16_t> arrival_;
};

}  // namespace duct::test
