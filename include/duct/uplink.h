// duct's library entry point. Like the original Inferno module's
// uplink(infd, outfd, export, mountpoint): given a byte channel, export a
// directory to the peer and mount the peer's export, both over that one
// channel, until both directions are done or the channel ends.
//
//   #include <duct/uplink.h>
//   int rc = duct::uplink(0, 1, "/srv/data", "/n/peer");
//
// Threads: run() blocks the calling thread and starts its own; stop() may
// be called from any other thread (e.g. a signal-handling thread).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace duct {

struct Options {
    std::string export_path;              // "" or "-": export nothing
    std::string mountpoint;               // "" or "-": mount nothing
    // Where the channel comes from (at most one; default: the fds given to Uplink):
    std::string exec;                     // run `/bin/sh -c exec`, use its stdin/stdout
    std::string dial;                     // connect to an address (tcp!host!port, host:port, unix:/path, ...)
    std::string listen;                   // accept on an address: one peer when mounting, else any number
                                          // ("systemd": the socket systemd passes)
    // TCP channels (dial, listen) are TLS 1.3 with this pre-shared key file
    // (duct --genkey); without one they are refused unless no_auth is set
    // (plain 9P, for the original Inferno duct, Plan 9, other 9P peers).
    std::string key_file;
    bool no_auth = false;
    std::string dialect = "9P2000.L";     // offered by our mount; "9P2000" forces plain 9P2000
    uint32_t msize = (1u << 20) + 4096;   // largest 9P message we offer/accept
    std::string mount_with = "fuse";      // mount backend: fuse, kernel (v9fs trans=fd) or auto
    std::string kernel_options;           // extra -o options for the kernel backend
    std::string aname;                    // attach name our mount sends (a diod peer needs its export path)
    std::string uname;                    // attach user name (default: our user)
    // How our mount shows the peer's user and group ids: "none" (as they
    // are), "user" (the peer's exporting user is shown as ours, like
    // sshfs's idmap=user) or "file:PATH" (pairs `uid|gid LOCAL REMOTE`).
    std::string idmap = "none";
    int export_threads = 8;               // export worker threads
    int cache_timeout = 3600;             // --cache-timeout: with a peer's change feed (0: no feed)
    bool read_only = false;               // --read-only: the export refuses every change (EROFS)
    // --as USER: the export acts as this uid (its gid, its groups) for every
    // peer, whatever user the peer attaches as; -1: as the peer says.
    int64_t as_uid = -1;
    uint32_t as_gid = 0;
    // Silent-peer detection: when our mount has waited this many seconds
    // with nothing at all arriving from the peer, the peer is declared
    // gone: waiting calls fail with EIO, the mount is detached, run()
    // returns kExitFailed. While idle, the mount probes the peer every
    // timeout/3 with a cheap 9P request (Tflush). 0 = wait forever.
    int timeout = 30;
    bool trace = false;                   // -D: every 9P message on stderr
    int verbose = 0;                      // -v: lifecycle lines and a summary on exit
};

// Exit statuses of run()/uplink().
enum : int {
    kExitOk = 0,        // both directions finished (or nothing was in use when the channel ended)
    kExitFailed = 1,    // the channel ended while a direction was in use or carried something
                        // that is not 9P, setup failed (a bad or already mounted mount point),
                        // or stop() cut off files still open on the mount
};

class Uplink {
public:
    // infd/outfd: the channel (may be equal); ignored when opts.exec is set.
    // The fds are duplicated; the caller keeps its own.
    Uplink(int infd, int outfd, Options opts);
    ~Uplink();
    Uplink(const Uplink&) = delete;
    Uplink& operator=(const Uplink&) = delete;

    int run();
    // Orderly stop (SIGINT/SIGTERM): flush our mount (syncfs, bounded),
    // unmount it, then end (a listener stops accepting and stops every
    // connection); run() then returns kExitFailed if files still open on
    // the mount were cut off. Safe from any thread, any time; a no-op after
    // run() returned.
    void stop();
    // One line: messages and bytes each way, errors (what -v prints on exit).
    std::string summary() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// True if `addr` is a channel address --dial/--listen accept; else why not.
bool valid_address(const std::string& addr, std::string& why);
// True if `addr` (a valid address) is a TCP one: it needs a key or no_auth.
bool tcp_address(const std::string& addr);
// The message for a TCP channel with neither a key nor no_auth.
std::string unauthenticated_tcp_message(const std::string& addr);

// duct --genkey: writes a new random key to `path` (mode 0600, never over an
// existing file); false with `why` set on failure.
bool generate_key(const std::string& path, std::string& why);
// True if `path` is a usable key file (mode 0600, well-formed); else why not.
bool valid_key_file(const std::string& path, std::string& why);

// True if `spec` is a usable --idmap value (the file is read); else why not.
bool valid_idmap(const std::string& spec, std::string& why);

// The original's interface: run a duct on (infd, outfd) with defaults.
int uplink(int infd, int outfd, const std::string& export_path, const std::string& mountpoint);

}  // namespace duct
