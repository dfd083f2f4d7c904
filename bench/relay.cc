// duct-relay — a modelled link between two commands, for the benchmark
// (this kernel has no netem). Runs CMD_A and CMD_B with `sh -c`, each on a
// pair of pipes, and carries A's stdout to B's stdin and B's stdout to A's
// stdin, each direction with half the round trip as delay and the given
// rate (see link.h). Every benchmark peer's channel goes through it: two
// ducts, sftp-server and `sshfs -o passive`, diod and `duct - MNT`.
//
//   duct-relay [-t RTT_MS] [-r RATE_MBIT] [-q QUEUE_KIB] [-p PIDFILE] [-v]
//              [-x FAULT]... CMD_A CMD_B
//
// -x injects a fault (fault.h: cut, stall or flip a byte, at an offset or
// in the N-th 9P frame, per direction) and logs each one it applies on
// stderr ("duct-relay: a2b: cut at offset ..."); the fault tests use it.
//
// Threads: main starts the children and the two Links (two threads each),
// then waits for both children; SIGINT/SIGTERM/SIGHUP are passed on to them.
// Exits when both children have exited and both directions are drained
// (a stalled direction is dropped then), with the first non-zero status of
// A, then B. A cut fault makes the Link that reached it cut both.
#include "fault.h"
#include "link.h"

#include <atomic>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

pid_t children[2] = {-1, -1};

void pass_on(int sig) {
    for (pid_t c : children)
        if (c > 0) ::kill(c, sig);
}

// Starts `sh -c cmd` with stdin reading `in` and stdout writing `out`.
pid_t spawn(const char* cmd, int in, int out) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::signal(SIGPIPE, SIG_DFL);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::execl("/bin/sh", "sh", "-c", cmd, (char*)nullptr);
        _exit(127);
    }
    return pid;
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: duct-relay [-t RTT_MS] [-r RATE_MBIT] [-q QUEUE_KIB] [-p PIDFILE] [-v] [-x FAULT]... CMD_A CMD_B\n"
                 "  carries A's stdout to B's stdin and back, each way delayed RTT/2 and\n"
                 "  limited to RATE (0: none); at most QUEUE KiB (default 256) wait for the link\n"
                 "  FAULT: DIR:KIND:AT[:xor=V][:every=K]  DIR a2b|b2a, KIND cut|stall|flip,\n"
                 "  AT a byte offset N, fN[+K] (byte K of frame N; K may be mid) or tT.N[+K]\n"
                 "  (byte K of the N-th frame of 9P type T); frames and N count from 0\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    bench::LinkParams lp;
    const char* pidfile = nullptr;
    bool verbose = false;
    std::vector<bench::FaultSpec> faults[2];  // a2b, b2a
    int c;
    while ((c = ::getopt(argc, argv, "+t:r:q:p:x:vh")) != -1) {
        switch (c) {
        case 't': lp.one_way_ms = std::atof(optarg) / 2; break;
        case 'r': lp.rate_mbit = std::atof(optarg); break;
        case 'q': lp.queue_bytes = size_t(std::atol(optarg)) << 10; break;
        case 'p': pidfile = optarg; break;
        case 'v': verbose = true; break;
        case 'x': {
            std::string dir, err;
            bench::FaultSpec f;
            if (!bench::parse_fault(optarg, &dir, &f, &err)) {
                std::fprintf(stderr, "duct-relay: %s\n", err.c_str());
                return 2;
            }
            faults[dir == "a2b" ? 0 : 1].push_back(f);
            break;
        }
        default: usage();
        }
    }
    if (argc - optind != 2 || lp.one_way_ms < 0 || lp.rate_mbit < 0) usage();
    ::signal(SIGPIPE, SIG_IGN);  // a closed destination is an error value

    // a2b: A writes [1], we read [0]; b2a likewise; toa/tob: we write [1].
    int a_out[2], b_out[2], a_in[2], b_in[2];
    if (::pipe2(a_out, O_CLOEXEC) || ::pipe2(b_out, O_CLOEXEC) || ::pipe2(a_in, O_CLOEXEC) ||
        ::pipe2(b_in, O_CLOEXEC)) {
        std::perror("duct-relay: pipe");
        return 1;
    }
    struct sigaction sa {};
    sa.sa_handler = pass_on;
    for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
    children[0] = spawn(argv[optind], a_in[0], a_out[1]);
    children[1] = spawn(argv[optind + 1], b_in[0], b_out[1]);
    for (int fd : {a_in[0], a_out[1], b_in[0], b_out[1]}) ::close(fd);
    if (pidfile) {
        if (FILE* f = std::fopen(pidfile, "w")) {
            std::fprintf(f, "%d %d\n", children[0], children[1]);
            std::fclose(f);
        }
    }
    // A cut in either direction drops both (a lost connection).
    static std::atomic<bench::Link*> links[2];
    auto cut_both = [] {
        std::fprintf(stderr, "duct-relay: connection cut both ways\n");
        for (auto& l : links)
            if (bench::Link* p = l.load()) p->cut();
    };
    auto injector = [&](int i, const char* name) {
        return faults[i].empty() ? nullptr : std::make_unique<bench::Injector>(name, faults[i]);
    };
    auto a2b = std::make_unique<bench::Link>(a_out[0], b_in[1], lp, injector(0, "a2b"), cut_both);
    links[0] = a2b.get();
    auto b2a = std::make_unique<bench::Link>(b_out[0], a_in[1], lp, injector(1, "b2a"), cut_both);
    links[1] = b2a.get();
    // A cut that fired before b2a existed has not reached it.
    if (a2b->was_cut()) b2a->cut();

    int rc = 0;
    for (int i = 0; i < 2; ++i) {
        int st = 0;
        while (::waitpid(children[i], &st, 0) < 0 && errno == EINTR) {}
        int r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (rc == 0) rc = r;
    }
    children[0] = children[1] = -1;
    // Nobody is left to unstall a stalled direction: drop it.
    if (a2b->stalled() || b2a->stalled()) cut_both();
    // A grandchild may still hold a pipe open: give the directions a moment
    // to drain, then leave without joining (the process ends anyway).
    for (int i = 0; i < 300 && !(a2b->done() && b2a->done()); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (verbose)
        std::fprintf(stderr, "duct-relay: A->B %llu bytes, B->A %llu bytes\n",
                     (unsigned long long)a2b->bytes(), (unsigned long long)b2a->bytes());
    std::fflush(stderr);
    if (!(a2b->done() && b2a->done())) std::_Exit(rc);
    return rc;
}
