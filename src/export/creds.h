// Per-thread file-system credentials: when the server runs as root, each
// request's syscalls run with the attaching user's fsuid, fsgid and
// supplementary groups, so the kernel does the permission checks and files
// are created with the right owner (as diod does).
//
// Threads: setfsuid/setfsgid/setgroups are issued as raw syscalls, which on
// Linux change only the calling thread (glibc's wrappers would broadcast
// setgroups to every thread). Each worker caches what it last set, so a run
// of requests from one user costs no syscalls. The uid -> groups cache is
// shared and guarded by its own mutex (a leaf lock).
//
// Limits: group lists come from the local passwd/group databases
// (getgrouplist); a uid with no passwd entry gets only its one gid.
#pragma once
#include <sys/types.h>

namespace duct::exp {

// True if this process may switch credentials (euid 0).
bool can_switch_creds();
// Make the calling thread act as uid/gid (with uid's groups). A no-op when
// the process is not root. uid/gid (uid_t)-1 mean "the server itself".
void become(uid_t uid, gid_t gid);
// Back to the server's own credentials.
void become_server();
// While alive, the calling thread's fsuid is the server's own again, and
// with it the capabilities a switched fsuid drops (CAP_DAC_READ_SEARCH,
// which open_by_handle_at needs); supplementary groups stay. Two syscalls,
// none if the thread acts as the server or as uid 0.
class ServerFsuid {
public:
    ServerFsuid();
    ~ServerFsuid();
    ServerFsuid(const ServerFsuid&) = delete;
    ServerFsuid& operator=(const ServerFsuid&) = delete;

private:
    bool switched_ = false;
};
// Gives the calling thread its own umask (0): the client already applied
// the user's umask to the modes it sends. False if unshare(CLONE_FS) failed;
// callers then fix modes after creating (fix_mode in session.h).
bool private_umask();
// The process umask, read once at startup.
mode_t process_umask();
bool thread_has_private_umask();

}  // namespace duct::exp
