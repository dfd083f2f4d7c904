// duct(1): argument parsing and wiring only; everything else is the uplink
// library (include/duct/uplink.h).
//
// Threads: main blocks SIGINT/SIGTERM/SIGHUP/SIGUSR1 before any thread
// starts, so every thread inherits the mask; one signal thread sigwait()s:
// a stop signal asks the uplink to stop, SIGUSR1 prints its summary line.
// Nothing runs in a signal handler.
#include <duct/uplink.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <string>
#include <thread>
#include <unistd.h>

#ifndef DUCT_VERSION
#define DUCT_VERSION "dev"
#endif

namespace {

const char kUsage[] =
    "usage: duct [options] EXPORT MOUNTPOINT\n"
    "\n"
    "Export the directory EXPORT to the peer and mount the peer's export on\n"
    "MOUNTPOINT, both over one byte channel (by default stdin/stdout) that\n"
    "carries 9P in both directions. Either side can unmount while the other\n"
    "keeps working; duct exits once both directions are done.\n"
    "\n"
    "  EXPORT       directory to export, or - to export nothing\n"
    "  MOUNTPOINT   where to mount the peer's export, or - to mount nothing\n"
    "\n"
    "options:\n"
    "channel (default: stdin/stdout; a tty is put in raw mode):\n"
    "  --exec CMD       run CMD with /bin/sh -c and use its stdin/stdout as the\n"
    "                   channel (e.g. --exec 'ssh host duct /srv /n/laptop')\n"
    "  --dial ADDR      connect to ADDR: tcp!host!1127, host:1127, [::1]:1127,\n"
    "                   unix!/run/duct.sock or unix:/run/duct.sock\n"
    "  --listen ADDR    accept on ADDR (tcp!*!1127, *:1127, unix:/path); with\n"
    "                   MOUNTPOINT - it serves any number of peers at once,\n"
    "                   otherwise it takes one peer\n"
    "                   (systemd: the socket systemd passes, socket activation)\n"
    "                   TCP needs --key or --no-auth; unix sockets are mode 0600\n"
    "                   and admit only our uid and root (SO_PEERCRED)\n"
    "  --key FILE       TLS 1.3 on --dial/--listen with FILE as a pre-shared key:\n"
    "                   both ends must hold it; peers without it are refused\n"
    "  --no-auth        allow plain 9P on TCP (Inferno, Plan 9, diod): no\n"
    "                   authentication, no encryption\n"
    "  --genkey FILE    write a new random key to FILE (mode 0600) and exit\n"
    "                   (stdin/stdout, --exec, --fd: trusted as what runs under them)\n"
    "  --fd R[,W]       use inherited file descriptors R (read) and W (write,\n"
    "                   default R), e.g. from inetd or systemd socket activation\n"
    "                   or a serial line (--fd 3 3<>/dev/ttyS0)\n"
    "\nother options:\n"
    "  --mount-with B   mount backend: fuse (default), kernel (the kernel's own 9P\n"
    "                   client, v9fs over trans=fd; needs root and a kernel with 9p)\n"
    "                   or auto (kernel when possible, else fuse)\n"
    "  --kernel-options O  extra mount -o options for the kernel backend (cache=loose)\n"
    "  --dialect D      9P dialect our mount offers: 9P2000.L (default) or 9P2000\n"
    "  --msize N        largest 9P message, bytes (default 1052672 = 1 MiB + 4 KiB)\n"
    "  --aname NAME     attach name our mount sends (diod wants its export path)\n"
    "  --uname NAME     attach user name (default: the current user)\n"
    "  --idmap M        how the mount shows the peer's uids/gids: none (default:\n"
    "                   as they are, for machines sharing users), user (the peer's\n"
    "                   exporting user is shown as you, as sshfs idmap=user) or\n"
    "                   file:PATH (lines `uid LOCAL REMOTE`, `gid LOCAL REMOTE`)\n"
    "  --threads N      export worker threads (default 8)\n"
    "  --read-only      the export refuses every change: writes, creates,\n"
    "                   removes, renames, chmod... fail with EROFS on the peer\n"
    "  --as USER        the export acts as USER (name or uid: its rights, groups\n"
    "                   and ownership of new files) whatever user the peer\n"
    "                   attaches as; needs root unless USER is you\n"
    "  --cache-timeout S  with a duct peer's change feed, cache names (and absent\n"
    "                   names), attributes, listings and file pages for S seconds\n"
    "                   (default 3600); 0 = no feed, 1 s timeouts as with other peers\n"
    "  --timeout S      give up on a silent peer: when our mount has had no answer\n"
    "                   for S seconds, fail its calls with EIO, detach it and exit 1\n"
    "                   (default 30; 0 waits forever); an idle mount probes every S/3.\n"
    "                   One request unanswered for S seconds fails alone with EIO\n"
    "                   (raise S on a very slow channel such as a serial line)\n"
    "  -D               trace every 9P message on stderr in Plan 9 notation\n"
    "  -v               print a line on mount, unmount and teardown, a summary on exit\n"
    "                   (SIGUSR1 prints the summary while running)\n"
    "  -h, --help       this text\n"
    "  -V, --version    print the version\n"
    "\n"
    "examples:\n"
    "  duct ~/proj /n/host                          # channel on stdin/stdout\n"
    "  duct --exec 'ssh host duct /srv /n/laptop' ~/proj /n/host\n"
    "                    # both ways over ssh: host's /srv on /n/host here,\n"
    "                    # our ~/proj on /n/laptop there\n"
    "  duct --genkey ~/.duct/key                    # then copy it to the peer\n"
    "  duct --listen tcp!*!1127 --key ~/.duct/key ~/proj /n/peer   # one peer, both ways ...\n"
    "  duct --dial tcp!laptop!1127 --key ~/.duct/key /srv /n/laptop  # ... and that peer\n"
    "  duct --listen tcp!*!1127 --key K /srv -      # export server for many peers\n"
    "  duct --dial server:1127 --key K - /n/server  # mount it\n"
    "  duct --exec 'socat - UNIX-CONNECT:/run/duct.sock' ~/proj /n/peer\n"
    "  duct --fd 3 /srv /n/other 3<>/dev/ttyUSB0    # over a serial line (made raw)\n"
    "  duct /srv -                                  # serve a plain 9P client\n"
    "  duct --mount-with kernel --exec 'ssh host duct /srv -' - /n/host\n"
    "  duct --aname /srv --exec 'diod ... --rfdno 0 --wfdno 1' - /n/srv\n"
    "\n"
    "Unmount with fusermount3 -u MOUNTPOINT (or umount); Ctrl-C unmounts and exits.\n"
    "Exit status: 0 when both directions finished, 1 when the channel ended while\n"
    "a direction was in use or carried something that is not 9P, setup failed\n"
    "(e.g. the mount point is already a mount point), or a stop signal cut off\n"
    "files still open on the mount; 2 for bad arguments.\n";

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "duct: %s (see duct --help)\n", msg.c_str());
    std::exit(2);
}

bool parse_uint(const char* s, unsigned long max, unsigned long& out) {
    if (!s || !*s) return false;
    errno = 0;
    char* end = nullptr;
    unsigned long v = std::strtoul(s, &end, 10);
    if (errno || *end || v > max || s[0] == '-') return false;
    out = v;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    duct::Options o;
    enum { kExec = 256, kDialect, kMsize, kAname, kUname, kThreads, kDial, kListen, kFd, kMountWith, kKernelOpts, kTimeout, kIdmap, kReadOnly, kAs, kKey, kNoAuth, kGenkey, kCacheTimeout };
    static const option longopts[] = {
        {"exec", required_argument, nullptr, kExec},
        {"dial", required_argument, nullptr, kDial},
        {"listen", required_argument, nullptr, kListen},
        {"fd", required_argument, nullptr, kFd},
        {"mount-with", required_argument, nullptr, kMountWith},
        {"kernel-options", required_argument, nullptr, kKernelOpts},
        {"dialect", required_argument, nullptr, kDialect},
        {"msize", required_argument, nullptr, kMsize},
        {"aname", required_argument, nullptr, kAname},
        {"uname", required_argument, nullptr, kUname},
        {"idmap", required_argument, nullptr, kIdmap},
        {"threads", required_argument, nullptr, kThreads},
        {"timeout", required_argument, nullptr, kTimeout},
        {"cache-timeout", required_argument, nullptr, kCacheTimeout},
        {"read-only", no_argument, nullptr, kReadOnly},
        {"as", required_argument, nullptr, kAs},
        {"key", required_argument, nullptr, kKey},
        {"no-auth", no_argument, nullptr, kNoAuth},
        {"genkey", required_argument, nullptr, kGenkey},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    opterr = 0;
    int c;
    unsigned long n;
    int infd = 0, outfd = 1;
    int sources = 0;
    while ((c = getopt_long(argc, argv, "+DvhV", longopts, nullptr)) != -1) {
        switch (c) {
        case 'D': o.trace = true; break;
        case 'v': o.verbose++; break;
        case 'h': std::fputs(kUsage, stdout); return 0;
        case 'V': std::printf("duct %s\n", DUCT_VERSION); return 0;
        case kExec:
            if (!*optarg) usage_error("--exec needs a command");
            o.exec = optarg;
            sources++;
            break;
        case kDial: o.dial = optarg; sources++; break;
        case kListen: o.listen = optarg; sources++; break;
        case kFd: {
            std::string v = optarg;
            size_t comma = v.find(',');
            unsigned long r, w;
            if (!parse_uint(v.substr(0, comma).c_str(), 1 << 20, r) ||
                (comma != std::string::npos && !parse_uint(v.substr(comma + 1).c_str(), 1 << 20, w)))
                usage_error("bad --fd '" + v + "': use R or R,W (file descriptor numbers)");
            if (comma == std::string::npos) w = r;
            if (fcntl(int(r), F_GETFD) < 0 || fcntl(int(w), F_GETFD) < 0)
                usage_error("--fd " + v + ": not an open file descriptor");
            infd = int(r);
            outfd = int(w);
            sources++;
            break;
        }
        case kDialect:
            if (std::strcmp(optarg, "9P2000") && std::strcmp(optarg, "9P2000.L"))
                usage_error(std::string("unknown dialect '") + optarg + "': use 9P2000.L or 9P2000");
            o.dialect = optarg;
            break;
        case kMsize:
            if (!parse_uint(optarg, 16u << 20, n) || n < 8216)
                usage_error(std::string("bad --msize '") + optarg + "': a number from 8216 to 16777216");
            o.msize = uint32_t(n);
            break;
        case kMountWith:
            if (std::strcmp(optarg, "fuse") && std::strcmp(optarg, "kernel") && std::strcmp(optarg, "auto"))
                usage_error(std::string("unknown --mount-with '") + optarg + "': use fuse, kernel or auto");
            o.mount_with = optarg;
            break;
        case kKernelOpts: o.kernel_options = optarg; break;
        case kAname: o.aname = optarg; break;
        case kUname: o.uname = optarg; break;
        case kIdmap: o.idmap = optarg; break;
        case kThreads:
            if (!parse_uint(optarg, 256, n) || n < 1)
                usage_error(std::string("bad --threads '") + optarg + "': a number from 1 to 256");
            o.export_threads = int(n);
            break;
        case kTimeout:
            if (!parse_uint(optarg, 86400, n))
                usage_error(std::string("bad --timeout '") + optarg + "': seconds, 0 to 86400 (0 = wait forever)");
            o.timeout = int(n);
            break;
        case kCacheTimeout:
            if (!parse_uint(optarg, 86400 * 30, n))
                usage_error(std::string("bad --cache-timeout '") + optarg + "': seconds, 0 to 2592000 (0 = no change feed)");
            o.cache_timeout = int(n);
            break;
        case kReadOnly: o.read_only = true; break;
        case kKey:
            if (!*optarg) usage_error("--key needs a key file (make one with duct --genkey FILE)");
            o.key_file = optarg;
            break;
        case kNoAuth: o.no_auth = true; break;
        case kGenkey: {
            // A command of its own: nothing else runs.
            std::string why;
            if (!*optarg) usage_error("--genkey needs a file name");
            if (!duct::generate_key(optarg, why)) {
                std::fprintf(stderr, "duct: %s\n", why.c_str());
                return 1;
            }
            std::fprintf(stderr, "duct: wrote a new key to %s (mode 0600); copy it to the other machine "
                                 "(scp, keep it mode 0600) and give both ends --key %s\n", optarg, optarg);
            return 0;
        }
        case kAs: {
            struct passwd* pw = getpwnam(optarg);
            if (!pw && parse_uint(optarg, 0xFFFFFFFEul, n)) pw = getpwuid(uid_t(n));
            if (!pw) usage_error(std::string("--as '") + optarg + "': no such user (a name or uid in passwd)");
            if (geteuid() != 0 && pw->pw_uid != geteuid())
                usage_error(std::string("--as ") + optarg + ": acting as another user needs root");
            o.as_uid = pw->pw_uid;
            o.as_gid = pw->pw_gid;
            break;
        }
        case '?':
        default:
            if (optopt > 0 && optopt < 256 && std::strchr("DvhV", optopt))
                usage_error(std::string("option -") + char(optopt) + " takes no argument");
            if (optopt > 0 && optopt < 256) usage_error(std::string("unknown option -") + char(optopt));
            usage_error(std::string("unknown option or missing argument: ") + argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        usage_error(argc - optind < 2 ? "need EXPORT and MOUNTPOINT (use - for none)"
                                      : "too many arguments: need EXPORT and MOUNTPOINT");
    if (sources > 1) usage_error("give at most one of --exec, --dial, --listen, --fd");
    o.export_path = argv[optind];
    o.mountpoint = argv[optind + 1];
    if (o.export_path == "-" && o.mountpoint == "-") usage_error("nothing to do: EXPORT and MOUNTPOINT are both -");
    if (o.export_path.empty() || o.mountpoint.empty()) usage_error("EXPORT and MOUNTPOINT must not be empty (use - for none)");

    // Block the stop signals in every thread; one thread waits for them.
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGHUP);
    sigaddset(&stopset, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stopset, nullptr);

    if (o.export_path == "-" && (o.read_only || o.as_uid >= 0))
        usage_error(std::string(o.read_only ? "--read-only" : "--as") + " applies to the export, and EXPORT is -");
    if (o.idmap != "none") {
        std::string why;
        if (o.mountpoint == "-") usage_error("--idmap applies to the mount, and MOUNTPOINT is -");
        if (o.mount_with == "kernel") usage_error("--idmap needs --mount-with fuse: the kernel's v9fs maps no ids");
        if (!duct::valid_idmap(o.idmap, why)) usage_error(why);
    }
    if (!o.listen.empty() || !o.dial.empty()) {
        // Validate the address now, so a typo is a usage error (status 2).
        std::string why;
        const std::string& addr = o.listen.empty() ? o.dial : o.listen;
        if (!duct::valid_address(addr, why)) usage_error(why);
        if (!o.key_file.empty() && o.no_auth) usage_error("give --key FILE or --no-auth, not both");
        if (duct::tcp_address(addr) && o.key_file.empty() && !o.no_auth) {
            std::fprintf(stderr, "duct: %s\n", duct::unauthenticated_tcp_message(addr).c_str());
            return 1;
        }
        if (!o.dial.empty() && o.dial == "systemd") usage_error("systemd is a --listen address, not one to dial");
        if (!o.key_file.empty() && !duct::valid_key_file(o.key_file, why)) {
            std::fprintf(stderr, "duct: %s\n", why.c_str());
            return 1;
        }
    } else if (!o.key_file.empty() || o.no_auth) {
        usage_error(std::string(o.no_auth ? "--no-auth" : "--key") +
                    " applies to --dial and --listen; stdin/stdout, --exec and --fd channels are trusted as "
                    "what runs under them (ssh)");
    }
    duct::Uplink up(infd, outfd, o);
    std::thread([&up, stopset] {
        for (;;) {
            int sig = 0;
            if (sigwait(&stopset, &sig) != 0) continue;
            if (sig == SIGUSR1) {
                // One write(2), so it never interleaves with log lines.
                std::string line = "duct: summary: " + up.summary() + "\n";
                (void)!::write(2, line.data(), line.size());
                continue;
            }
            up.stop();
        }
    }).detach();
    int rc = up.run();
    std::fflush(stderr);
    // The signal thread is still parked in sigwait(); _exit skips static
    // destructors that could race with it.
    std::_Exit(rc);
}
