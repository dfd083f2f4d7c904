// mount against a fake 9P2000.L server that misbehaves on purpose (issue 9,
// items 7, 8 and 16): an error code no errno can be, a request whose reply
// and Tflush are never answered, a reply dropped while the others flow.
// The test plays the mux and the server (as mount_diod_test.cc plays the
// mux for diod): Mount's send callback queues each T-frame, a server thread
// decodes it and hands the answer, if any, to Mount::deliver(). The
// callers are child processes doing stat(2) on the real FUSE mount, so a
// call that hangs (the bug) is seen as a child that does not end; TearDown
// then unmounts lazily and aborts the FUSE connection, which frees it.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "mount/client.h"
#include "mount/mount.h"
#include "proto/codec.h"
#include "mount/mountpoint.h"

using namespace duct;
using namespace duct::p9;
using namespace std::chrono_literals;

namespace {

bool is_mounted(const std::string& path) { return !mnt::mounts_at(path).empty(); }

// What the fake does with a Tgetattr of a file (by name).
enum class Mode { Normal, BadErrno, Silent };

class FakeServer {
public:
    std::map<std::string, Mode> files = {{"a", Mode::Normal}, {"b", Mode::Normal}};
    bool answer_flush_of_silent = true;  // false: a Tflush of a silent request is ignored too
    std::function<void(std::string)> deliver;

    void start() { th_ = std::thread([this] { loop(); }); }
    void stop() {
        {
            std::lock_guard<std::mutex> g(mu_);
            quit_ = true;
            cv_.notify_all();
        }
        if (th_.joinable()) th_.join();
    }
    void push(std::string frame) {
        std::lock_guard<std::mutex> g(mu_);
        q_.push_back(std::move(frame));
        cv_.notify_all();
    }
    // Waits until a Tgetattr of a silent file came; its tag and fid.
    bool wait_silent(uint16_t& tag, uint32_t& fid, std::chrono::milliseconds d) {
        std::unique_lock<std::mutex> g(mu_);
        if (!cv_.wait_for(g, d, [&] { return !silent_.empty(); })) return false;
        tag = silent_.begin()->first;
        fid = silent_.begin()->second;
        return true;
    }
    // Answers the silent requests after all (a peer that was only slow).
    void answer_silent() {
        std::map<uint16_t, uint32_t> s;
        {
            std::lock_guard<std::mutex> g(mu_);
            s.swap(silent_);
        }
        for (auto& [tag, fid] : s) reply(tag, attr_of(fid));
    }
    // Every tag and Twalk newfid seen after mark().
    void mark() {
        std::lock_guard<std::mutex> g(mu_);
        tags_seen_.clear();
        newfids_seen_.clear();
    }
    std::multiset<uint16_t> tags_seen() { std::lock_guard<std::mutex> g(mu_); return tags_seen_; }
    std::vector<uint32_t> newfids_seen() { std::lock_guard<std::mutex> g(mu_); return newfids_seen_; }
    int flushes() { std::lock_guard<std::mutex> g(mu_); return flushes_; }
    // The Tflush goes out before the caller gets its EIO, but this server
    // reads it on its own thread: wait (bounded) until it has counted n.
    int flushes_within(int n, std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        while (flushes() < n && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return flushes();
    }

private:
    void reply(uint16_t tag, Message m) {
        Fcall f;
        f.tag = tag;
        f.msg = std::move(m);
        deliver(encode(f, Dialect::L));
    }
    Message attr_of(uint32_t fid) {
        std::string name;
        {
            std::lock_guard<std::mutex> g(mu_);
            name = fids_[fid];
        }
        Rgetattr a{};
        a.valid = GETATTR_BASIC;
        a.qid = qid_of(name);
        a.mode = name.empty() ? (S_IFDIR | 0755) : (S_IFREG | 0644);
        a.nlink = 1;
        a.blksize = 4096;
        return a;
    }
    Qid qid_of(const std::string& name) {
        Qid q;
        q.type = name.empty() ? QTDIR : QTFILE;
        q.path = name.empty() ? 1 : 100 + std::hash<std::string>{}(name) % 100000;
        return q;
    }
    void loop() {
        for (;;) {
            std::string frame;
            {
                std::unique_lock<std::mutex> g(mu_);
                cv_.wait(g, [&] { return quit_ || !q_.empty(); });
                if (quit_) return;
                frame = std::move(q_.front());
                q_.pop_front();
            }
            Fcall t;
            if (!decode(frame, Dialect::L, 0, t).empty()) continue;
            handle(t);
        }
    }
    void handle(const Fcall& t) {
        {
            std::lock_guard<std::mutex> g(mu_);
            tags_seen_.insert(t.tag);
        }
        if (auto* v = std::get_if<Tversion>(&t.msg)) return reply(t.tag, Rversion{v->msize, "9P2000.L"});
        if (auto* a = std::get_if<Tattach>(&t.msg)) {
            std::lock_guard<std::mutex> g(mu_);
            fids_[a->fid] = "";
            Fcall f;
            f.tag = t.tag;
            f.msg = Rattach{qid_of("")};
            deliver(encode(f, Dialect::L));
            return;
        }
        if (auto* w = std::get_if<Twalk>(&t.msg)) {
            std::string from, name;
            {
                std::lock_guard<std::mutex> g(mu_);
                newfids_seen_.push_back(w->newfid);
                from = fids_[w->fid];
                if (w->wname.empty()) {
                    fids_[w->newfid] = from;
                } else if (from.empty() && w->wname.size() == 1 && files.count(w->wname[0])) {
                    name = w->wname[0];
                    fids_[w->newfid] = name;
                } else {
                    name = "-";
                }
            }
            if (name == "-") return reply(t.tag, Rlerror{ENOENT});
            Rwalk r;
            if (!w->wname.empty()) r.wqid.push_back(qid_of(name));
            return reply(t.tag, r);
        }
        if (auto* ga = std::get_if<Tgetattr>(&t.msg)) {
            Mode mode = Mode::Normal;
            {
                std::lock_guard<std::mutex> g(mu_);
                auto it = files.find(fids_[ga->fid]);
                if (it != files.end()) mode = it->second;
                if (mode == Mode::Silent) {
                    silent_[t.tag] = ga->fid;
                    cv_.notify_all();
                    return;
                }
            }
            if (mode == Mode::BadErrno) return reply(t.tag, Rlerror{600});
            return reply(t.tag, attr_of(ga->fid));
        }
        if (auto* fl = std::get_if<Tflush>(&t.msg)) {
            {
                std::lock_guard<std::mutex> g(mu_);
                flushes_++;
                bool silent = silent_.count(fl->oldtag);
                if (silent && !answer_flush_of_silent) return;
                silent_.erase(fl->oldtag);  // flushed: never answered now
            }
            return reply(t.tag, Rflush{});
        }
        if (auto* c = std::get_if<Tclunk>(&t.msg)) {
            {
                std::lock_guard<std::mutex> g(mu_);
                fids_.erase(c->fid);
            }
            return reply(t.tag, Rclunk{});
        }
        if (std::holds_alternative<Txattrwalk>(t.msg)) return reply(t.tag, Rlerror{ENODATA});
        reply(t.tag, Rlerror{EOPNOTSUPP});
    }

    std::mutex mu_;  // guards everything below and `files` after start()
    std::condition_variable cv_;
    std::deque<std::string> q_;
    bool quit_ = false;
    std::map<uint32_t, std::string> fids_;  // fid -> name ("" = root)
    std::map<uint16_t, uint32_t> silent_;   // unanswered Tgetattr: tag -> fid
    std::multiset<uint16_t> tags_seen_;
    std::vector<uint32_t> newfids_seen_;
    int flushes_ = 0;
    std::thread th_;
};

// A child that stats `path` and exits with 0 or the errno. It closes
// what it inherited: a child stuck in the mount holding our /dev/fuse
// descriptor would keep the connection alive after we die.
pid_t stat_child(const std::string& path) {
    pid_t pid = fork();
    if (pid == 0) {
        for (int fd = 3; fd < 1024; fd++) close(fd);
        struct stat st;
        _exit(stat(path.c_str(), &st) == 0 ? 0 : errno);
    }
    return pid;
}

// Waits up to d for pid; its exit status (or signal + 1000), -1 if still running.
int reap(pid_t pid, std::chrono::milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    int st;
    while (std::chrono::steady_clock::now() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

class FakeMount : public ::testing::Test {
protected:
    void SetUp() override {
        if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/fuse not usable";
        if (geteuid() != 0) GTEST_SKIP() << "needs root (FUSE mount with allow_other)";
        char t[] = "/tmp/duct-fake-XXXXXX";
        ASSERT_TRUE(mkdtemp(t));
        mp_ = t;
    }
    void mount_with(int timeout_s) {
        srv_.deliver = [this](std::string f) { m_->deliver(std::move(f)); };
        srv_.start();
        mnt::MountOptions o;
        o.mountpoint = mp_;
        o.fsname = "fake-test";
        o.timeout = timeout_s;
        o.trace = getenv("DUCT_TEST_TRACE") != nullptr;
        m_ = mnt::Mount::create(o, [this](std::string f) { srv_.push(std::move(f)); });
        std::string err;
        ASSERT_TRUE(m_->start(err)) << err;
        started_ = true;
        ASSERT_TRUE(is_mounted(mp_));
    }
    void TearDown() override {
        if (m_ && started_) {
            // A hung caller (the bug) keeps the mount busy: the lazy path
            // of channel_lost() detaches it and aborts the connection.
            m_->channel_lost();
            m_->wait();
        }
        for (pid_t p : kids_) {
            kill(p, SIGKILL);
            reap(p, 5000ms);
        }
        srv_.stop();
        m_.reset();
        if (!mp_.empty() && is_mounted(mp_)) umount2(mp_.c_str(), MNT_DETACH);
        if (!mp_.empty()) rmdir(mp_.c_str());
    }
    std::string P(const std::string& rel) { return mp_ + "/" + rel; }
    int stat_in_child(const std::string& rel, std::chrono::milliseconds d) {
        pid_t p = stat_child(P(rel));
        int rc = reap(p, d);
        if (rc == -1) kids_.push_back(p);
        return rc;
    }

    std::string mp_;
    FakeServer srv_;
    std::unique_ptr<mnt::Mount> m_;
    bool started_ = false;
    std::vector<pid_t> kids_;
};

// Item 7: Rlerror 600 is no errno; FUSE would refuse it and the caller would
// wait forever. It must come back as EIO, and the mount go on working.
TEST_F(FakeMount, ErrorCodeAbove511IsEio) {
    srv_.files["bad"] = Mode::BadErrno;
    mount_with(0);
    EXPECT_EQ(stat_in_child("bad", 10s), EIO) << "-1: stat hung";
    EXPECT_EQ(stat_in_child("a", 10s), 0);
}

// Item 8: a Tgetattr the peer never answers, nor its Tflush. SIGKILL of the
// caller must end it within a few seconds (the Rflush wait is bounded), and
// until an answer comes neither its tag nor its fid is used again.
TEST_F(FakeMount, KilledCallerOfUnansweredRequestIsReaped) {
    srv_.files["stuck"] = Mode::Silent;
    srv_.answer_flush_of_silent = false;
    mount_with(0);  // no --timeout: only the interrupt can end it
    pid_t p = stat_child(P("stuck"));
    uint16_t tag;
    uint32_t fid;
    ASSERT_TRUE(srv_.wait_silent(tag, fid, 10000ms));
    srv_.mark();
    auto t0 = std::chrono::steady_clock::now();
    kill(p, SIGKILL);
    int rc = reap(p, 8000ms);
    if (rc == -1) kids_.push_back(p);
    EXPECT_EQ(rc, 1000 + SIGKILL) << "the SIGKILLed caller was not reaped within 8 s";
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(secs, 6.0);
    EXPECT_GE(srv_.flushes_within(1, std::chrono::seconds(5)), 1);
    // The mount still serves: names that exist and names that do not (each
    // failed walk frees its newfid for the next: a freed `fid` would show).
    EXPECT_EQ(stat_in_child("a", 10s), 0);
    for (int i = 0; i < 5; i++) EXPECT_EQ(stat_in_child("nope" + std::to_string(i), 10s), ENOENT);
    for (uint32_t f : srv_.newfids_seen()) EXPECT_NE(f, fid) << "its fid was reused while the peer may act on it";
    // The peer answers after all: the fid is free again (not leaked).
    srv_.answer_silent();
    srv_.mark();
    for (int i = 0; i < 5; i++) EXPECT_EQ(stat_in_child("late" + std::to_string(i), 10s), ENOENT);
    auto nf = srv_.newfids_seen();
    EXPECT_NE(std::find(nf.begin(), nf.end(), fid), nf.end()) << "the fid never came back to the free list";
}

// Item 16: one reply dropped while others flow. With --timeout 1 the call
// fails (EIO) within the bound, a Tflush goes for it, later calls work.
TEST_F(FakeMount, DroppedReplyFailsAfterTimeout) {
    srv_.files["dropped"] = Mode::Silent;  // Tflush is answered: Rflush
    mount_with(1);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(stat_in_child("dropped", 10s), EIO) << "-1: stat hung";
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_GE(secs, 0.9);
    EXPECT_LT(secs, 5.0);
    EXPECT_GE(srv_.flushes_within(1, std::chrono::seconds(5)), 1);
    EXPECT_EQ(stat_in_child("a", 10s), 0);
    EXPECT_EQ(stat_in_child("b", 10s), 0);
}

// ---- the Client alone (no FUSE): tags and fids of abandoned requests ----

// A peer inside the send callback: answers every request at once, except
// those `hold` picks, which it keeps (tag -> frame) to answer later.
struct ClientPeer {
    std::unique_ptr<mnt::Client> c;
    std::function<bool(const Fcall&)> hold = [](const Fcall&) { return false; };
    std::map<uint16_t, Fcall> held;
    std::vector<Fcall> seen;
    std::mutex mu;  // guards held, seen
    ClientPeer() {
        c = std::make_unique<mnt::Client>([this](std::string f) { on_send(std::move(f)); }, false, 8192);
    }
    void on_send(std::string frame) {
        Fcall t;
        ASSERT_EQ(decode(frame, Dialect::L, 0, t), "");
        {
            std::lock_guard<std::mutex> g(mu);
            seen.push_back(t);
            if (hold(t)) {
                held[t.tag] = t;
                return;
            }
        }
        answer(t);
    }
    void answer(const Fcall& t, bool ok = true) {
        Fcall r;
        r.tag = t.tag;
        if (!ok) r.msg = Rlerror{ENOENT};
        else if (std::holds_alternative<Tgetattr>(t.msg)) r.msg = Rgetattr{};
        else if (auto* w = std::get_if<Twalk>(&t.msg)) r.msg = Rwalk{WQids(w->wname.size(), Qid{})};
        else if (std::holds_alternative<Tclunk>(t.msg)) r.msg = Rclunk{};
        else if (std::holds_alternative<Tflush>(t.msg)) r.msg = Rflush{};
        else r.msg = Rlerror{EOPNOTSUPP};
        c->deliver(encode(r, Dialect::L));
    }
    Fcall take_held(uint16_t tag) {
        std::lock_guard<std::mutex> g(mu);
        Fcall f = held.at(tag);
        held.erase(tag);
        return f;
    }
    size_t count_flushes_of(uint16_t oldtag) {
        std::lock_guard<std::mutex> g(mu);
        size_t n = 0;
        for (auto& f : seen)
            if (auto* fl = std::get_if<Tflush>(&f.msg); fl && fl->oldtag == oldtag) n++;
        return n;
    }
};

// Item 16 + flush(5): an overdue request answers EIO, is flushed, and its
// tag is not used again, through a full turn of the 16-bit tag space,
// until the Rflush comes; then it is.
TEST(ClientAbandon, OverdueTagStaysReservedUntilRflush) {
    ClientPeer peer;
    peer.c->set_timeout_ms(100);
    bool first = true;
    peer.hold = [&](const Fcall& t) {
        bool h = (first && std::holds_alternative<Tgetattr>(t.msg)) || std::holds_alternative<Tflush>(t.msg);
        if (std::holds_alternative<Tgetattr>(t.msg)) first = false;
        return h;
    };
    Fcall r;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(peer.c->rpc(Tgetattr{7, GETATTR_BASIC}, r), EIO);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    ASSERT_EQ(peer.held.size(), 2u);  // the Tgetattr and its Tflush
    uint16_t stuck = 0, ftag = 0;
    for (auto& [tag, f] : peer.held) {
        if (std::holds_alternative<Tgetattr>(f.msg)) stuck = tag;
        else ftag = tag;
    }
    EXPECT_EQ(peer.count_flushes_of(stuck), 1u);
    EXPECT_EQ(peer.c->abandoned(), 1u);
    peer.hold = [](const Fcall&) { return false; };
    for (int i = 0; i < 70000; i++) ASSERT_EQ(peer.c->rpc(Tgetattr{1, GETATTR_BASIC}, r), 0);
    {
        std::lock_guard<std::mutex> g(peer.mu);
        size_t uses = 0;
        for (auto& f : peer.seen) uses += f.tag == stuck || f.tag == ftag;
        EXPECT_EQ(uses, 2u) << "a reserved tag was used again";  // the two held requests themselves
        peer.seen.clear();
    }
    peer.answer(peer.take_held(ftag));  // Rflush: the request never happened
    EXPECT_EQ(peer.c->abandoned(), 0u);
    for (int i = 0; i < 70000; i++) ASSERT_EQ(peer.c->rpc(Tgetattr{1, GETATTR_BASIC}, r), 0);
    std::lock_guard<std::mutex> g(peer.mu);
    size_t uses = 0;
    for (auto& f : peer.seen) uses += f.tag == stuck;
    EXPECT_GE(uses, 1u) << "the tag never became free again";
}

// The fids of an abandoned Twalk: its newfid is not handed out again while
// the walk may still happen; a late success made it on the peer, so it is
// clunked, and only after Rclunk is it free.
TEST(ClientAbandon, FidsOfAbandonedWalkAreNotReused) {
    ClientPeer peer;
    peer.c->set_timeout_ms(100);
    // The walk and its Tflush both wait: the walk may still happen.
    peer.hold = [](const Fcall& t) {
        return std::holds_alternative<Twalk>(t.msg) || std::holds_alternative<Tflush>(t.msg);
    };
    uint32_t dir = peer.c->alloc_fid();
    uint32_t nf = peer.c->alloc_fid();
    Fcall r;
    EXPECT_EQ(peer.c->rpc(Twalk{dir, nf, {"x"}}, r), EIO);
    peer.c->free_fid(nf);  // what walk() does on an error
    uint16_t wtag = 0;
    for (auto& [tag, f] : peer.held)
        if (std::holds_alternative<Twalk>(f.msg)) wtag = tag;
    peer.hold = [](const Fcall& t) { return std::holds_alternative<Tflush>(t.msg); };
    std::set<uint32_t> got;
    for (int i = 0; i < 20; i++) got.insert(peer.c->alloc_fid());
    EXPECT_EQ(got.count(nf), 0u) << "the abandoned walk's newfid was handed out again";
    for (uint32_t f : got) peer.c->free_fid(f);
    // The walk succeeds after all (its reply before the Rflush): the
    // client must clunk nf first.
    peer.hold = [](const Fcall&) { return false; };
    peer.answer(peer.take_held(wtag));
    EXPECT_EQ(peer.c->abandoned(), 0u);
    // The Tclunk goes with the next request sent.
    ASSERT_EQ(peer.c->rpc(Tgetattr{dir, GETATTR_BASIC}, r), 0);
    bool clunked = false;
    {
        std::lock_guard<std::mutex> g(peer.mu);
        for (auto& f : peer.seen)
            if (auto* c = std::get_if<Tclunk>(&f.msg); c && c->fid == nf) clunked = true;
    }
    EXPECT_TRUE(clunked) << "the fid a late Rwalk made was never clunked";
    std::set<uint32_t> again;
    for (int i = 0; i < 25; i++) again.insert(peer.c->alloc_fid());
    EXPECT_EQ(again.count(nf), 1u) << "nf never became free again";
}

// Item 8 at the Client: an interrupted request whose Tflush is never
// answered gives up after kFlushWaitMs with EINTR (tested through FUSE in
// KilledCallerOfUnansweredRequestIsReaped); here: a flushed Tclunk that
// the peer drops leaves the fid on the peer, so it is clunked again.
TEST(ClientAbandon, FlushedClunkIsSentAgain) {
    ClientPeer peer;
    peer.c->set_timeout_ms(100);
    uint32_t f = peer.c->alloc_fid();
    bool once = true;
    peer.hold = [&](const Fcall& t) {
        bool h = once && std::holds_alternative<Tclunk>(t.msg);
        if (h) once = false;
        return h;
    };
    EXPECT_EQ(peer.c->clunk(f), EIO);  // overdue; Rflush comes at once
    ASSERT_EQ(peer.held.size(), 1u);
    peer.held.clear();  // the peer never answers the Tclunk itself
    Fcall r;
    ASSERT_EQ(peer.c->rpc(Tgetattr{1, GETATTR_BASIC}, r), 0);
    size_t clunks = 0;
    {
        std::lock_guard<std::mutex> g(peer.mu);
        for (auto& m : peer.seen)
            if (auto* c = std::get_if<Tclunk>(&m.msg); c && c->fid == f) clunks++;
    }
    EXPECT_EQ(clunks, 2u) << "a flushed Tclunk never happened: the fid must be clunked again";
    std::set<uint32_t> got;
    for (int i = 0; i < 5; i++) got.insert(peer.c->alloc_fid());
    EXPECT_EQ(got.count(f), 1u);
}

}  // namespace
