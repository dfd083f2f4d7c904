// Fuzz target: the export (export/server) fed whole frame sequences, run
// against a real export of a small directory tree.
//
// Confinement of the run itself: at start-up the process enters a mount
// namespace of its own (when it can: root) and mounts a 32 MiB tmpfs on a
// fresh directory, so whatever the export does lands in memory that
// vanishes with the process, and no fallocate or huge write can fill a real
// disk. In that tmpfs: export/ (the exported tree, rebuilt before every
// input) and outside/canary. export/ holds symlinks to ../outside and to the
// canary's absolute path as bait. After every input the harness checks that
// the tmpfs root still holds exactly export/ and outside/, and outside/
// exactly the unchanged canary: anything else is an escape and aborts.
// Without root (no namespace) it falls back to a directory in $TMPDIR.
//
// One input: flags[1], then frame records (fuzz_common.h next_frame).
// flags bits 0-1: a Tversion the harness sends first (0 none, 1 9P2000.L,
// 2 9P2000, 3 the duct extension); bit 2: --read-only; bit 3: --as 65534;
// bit 4: fids by O_PATH descriptor instead of file handles. The policy is
// off by default so mutating requests reach the disk (in the tmpfs).
// Deterministic: a new Server (one worker) per input on a rebuilt tree, and
// each frame waits for its reply before the next is sent, so the order of
// syscalls is the order of frames. Every frame must be answered within
// kReplyWait (each gets exactly one reply when nothing else is in flight);
// a frame left unanswered is reported as a hang.
//
// Threads: the fuzzer's thread sends; the server's worker calls the send
// callback, which only appends under mu.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "export/server.h"
#include "fuzz_common.h"

using namespace duct;
using duct::fuzz::die;
namespace fs = std::filesystem;

namespace {

constexpr auto kReplyWait = std::chrono::seconds(10);  // ASan is slow; a hang is forever
const char kCanary[] = "the export must never reach this file\n";

std::string g_top;     // the tmpfs (or fallback directory)
std::string g_export;  // g_top/export
std::string g_outside;

void must(bool ok, const std::string& what) {
    if (!ok) die(what + ": " + strerror(errno));
}

void build_tree() {
    std::error_code ec;
    fs::remove_all(g_export, ec);
    if (ec) die("cannot reset the export tree: " + ec.message());
    must(mkdir(g_export.c_str(), 0755) == 0, "mkdir export");
    {
        std::ofstream a(g_export + "/a");
        a << "hello from the fuzzed export\n";
    }
    must(mkdir((g_export + "/d").c_str(), 0755) == 0, "mkdir d");
    {
        std::ofstream b(g_export + "/d/b");
        b << std::string(5000, 'b');
    }
    must(symlink("../outside", (g_export + "/up").c_str()) == 0, "symlink up");
    must(symlink((g_outside + "/canary").c_str(), (g_export + "/d/abs").c_str()) == 0, "symlink abs");
    must(mkfifo((g_export + "/fifo").c_str(), 0644) == 0, "mkfifo");
    must(link((g_export + "/a").c_str(), (g_export + "/d/hard").c_str()) == 0, "link");
}

struct stat g_canary_st;

void check_confined() {
    std::set<std::string> top, out;
    for (auto& e : fs::directory_iterator(g_top)) top.insert(e.path().filename());
    for (auto& e : fs::directory_iterator(g_outside)) out.insert(e.path().filename());
    if (top != std::set<std::string>{"export", "outside"} || out != std::set<std::string>{"canary"})
        die("something outside the export changed (a file appeared or vanished beside export/)");
    struct stat st;
    must(lstat((g_outside + "/canary").c_str(), &st) == 0, "stat canary");
    std::ifstream c(g_outside + "/canary");
    std::string body((std::istreambuf_iterator<char>(c)), {});
    if (body != kCanary || st.st_mode != g_canary_st.st_mode || st.st_uid != g_canary_st.st_uid ||
        st.st_gid != g_canary_st.st_gid || st.st_mtim.tv_nsec != g_canary_st.st_mtim.tv_nsec ||
        st.st_mtim.tv_sec != g_canary_st.st_mtim.tv_sec || st.st_nlink != 1)
        die("the canary outside the export was changed");
    if (lstat((g_outside).c_str(), &st) != 0 || (st.st_mode & 07777) != 0755)
        die("the directory outside the export was changed");
}

void setup() {
    const char* tmpdir = getenv("TMPDIR");
    std::string base = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/duct-fuzz-export.XXXXXX";
    std::vector<char> t(base.begin(), base.end());
    t.push_back(0);
    must(mkdtemp(t.data()) != nullptr, "mkdtemp");
    g_top = t.data();
    if (unshare(CLONE_NEWNS) == 0 && mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        mount("duct-fuzz", g_top.c_str(), "tmpfs", MS_NOSUID, "size=32m,mode=0755") == 0) {
        // Private tmpfs: gone with the process. The empty mount point is
        // removed now (the host sees the directory, not the tmpfs).
        fprintf(stderr, "export_fuzz: exporting a private tmpfs on %s (own mount namespace)\n", g_top.c_str());
    } else {
        fprintf(stderr, "export_fuzz: no mount namespace (%s): exporting below %s on the host\n",
                strerror(errno), g_top.c_str());
    }
    g_export = g_top + "/export";
    g_outside = g_top + "/outside";
    must(mkdir(g_outside.c_str(), 0755) == 0, "mkdir outside");
    {
        std::ofstream c(g_outside + "/canary");
        c << kCanary;
    }
    must(lstat((g_outside + "/canary").c_str(), &g_canary_st) == 0, "stat canary");
    build_tree();
}

struct Replies {
    std::mutex mu;
    std::condition_variable cv;
    size_t n = 0;
    void add(const std::string& frame) {
        if (frame.size() < p9::HEADER || p9::frame_size(frame) != frame.size())
            die("the export sent a malformed frame");
        if (!(p9::frame_type(frame) & 1)) die("the export sent a T-message");
        std::lock_guard<std::mutex> g(mu);
        n++;
        cv.notify_all();
    }
};

std::string version_frame(uint8_t mode) {
    const char* v = mode == 1 ? "9P2000.L" : mode == 2 ? "9P2000" : "9P2000.L.duct.1";
    p9::Fcall f;
    f.tag = p9::NOTAG;
    f.msg = p9::Tversion{65536, v};
    return p9::encode(f, p9::Dialect::L);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    setup();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    uint8_t flags = in.u8();
    build_tree();
    exp::ServerOptions o;
    o.root = g_export;
    o.threads = 1;
    o.read_only = flags & 4;
    if (flags & 8) {
        o.as_uid = 65534;
        o.as_gid = 65534;
    }
    o.file_handles = !(flags & 16);
    Replies r;
    std::string err;
    auto server = exp::Server::create(o, [&r](std::string f) { r.add(f); }, err);
    if (!server) die("cannot create the export: " + err);
    auto send = [&](std::string frame) {
        // Shorter than a header: the mux ends the channel, never passes it on.
        if (frame.size() < p9::HEADER) return;
        uint8_t type = p9::frame_type(frame);
        size_t want;
        {
            std::lock_guard<std::mutex> g(r.mu);
            want = r.n + 1;
        }
        server->handle(std::move(frame));
        std::unique_lock<std::mutex> g(r.mu);
        if (!r.cv.wait_for(g, kReplyWait, [&] { return r.n >= want; }))
            die(std::string("the export did not answer a ") + (p9::type_name(type) ? p9::type_name(type) : "?") +
                " frame (type " + std::to_string(type) + ")");
        if (r.n > want) die("the export answered one frame twice");
    };
    if (flags & 3) send(version_frame(flags & 3));
    while (!in.empty()) send(fuzz::next_frame(in));
    server->teardown();
    server->stop();
    server.reset();
    check_confined();
    return 0;
}
