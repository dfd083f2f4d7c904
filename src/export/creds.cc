// Per-thread credential switching (see creds.h). Runs on worker threads.
#include "export/creds.h"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <vector>

namespace duct::exp {

namespace {

struct ThreadCreds {
    uid_t uid = 0;
    gid_t gid = 0;
    bool switched = false;  // false: running with the process's own creds
};
thread_local ThreadCreds t_creds;
thread_local bool t_private_umask = false;

std::mutex g_groups_mu;  // guards g_groups (leaf lock)
std::map<uid_t, std::vector<gid_t>> g_groups;

// The process's own supplementary groups, to restore after acting as a
// user. Read at static initialisation, before any thread has switched.
const std::vector<gid_t> g_own_groups = [] {
    int n = getgroups(0, nullptr);
    std::vector<gid_t> v(n > 0 ? n : 0);
    if (n > 0) v.resize(getgroups(n, v.data()) > 0 ? n : 0);
    return v;
}();
const std::vector<gid_t>& own_groups() { return g_own_groups; }

std::vector<gid_t> groups_of(uid_t uid, gid_t gid) {
    std::lock_guard<std::mutex> g(g_groups_mu);
    auto it = g_groups.find(uid);
    if (it != g_groups.end()) return it->second;
    std::vector<gid_t> v;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res) {
        int n = 64;
        v.resize(n);
        if (getgrouplist(pw.pw_name, pw.pw_gid, v.data(), &n) < 0) {
            v.resize(n);
            getgrouplist(pw.pw_name, pw.pw_gid, v.data(), &n);
        }
        v.resize(n > 0 ? n : 0);
    } else {
        v.push_back(gid);
    }
    if (g_groups.size() > 4096) g_groups.clear();  // bounded: uids come from the peer
    g_groups[uid] = v;
    return v;
}

void set_groups(const std::vector<gid_t>& v) {
    syscall(SYS_setgroups, v.size(), v.data());
}

const mode_t g_umask = [] {
    mode_t m = umask(022);
    umask(m);
    return m;
}();

}  // namespace

bool can_switch_creds() {
    static const bool root = geteuid() == 0;
    return root;
}

void become(uid_t uid, gid_t gid) {
    if (!can_switch_creds()) return;
    if (uid == uid_t(-1)) {
        become_server();
        return;
    }
    if (t_creds.switched && t_creds.uid == uid && t_creds.gid == gid) return;
    if (!t_creds.switched || t_creds.uid != uid) set_groups(groups_of(uid, gid));
    // setfsgid/setfsuid return the previous value, never an error; a failed
    // switch leaves the old id, which the next check would expose.
    syscall(SYS_setfsgid, gid);
    syscall(SYS_setfsuid, uid);
    t_creds = {uid, gid, true};
}

void become_server() {
    if (!t_creds.switched) return;
    syscall(SYS_setfsuid, geteuid());
    syscall(SYS_setfsgid, getegid());
    set_groups(own_groups());
    t_creds = {};
}

ServerFsuid::ServerFsuid() {
    static const uid_t euid = geteuid();
    if (!t_creds.switched || t_creds.uid == euid) return;
    syscall(SYS_setfsuid, euid);
    switched_ = true;
}

ServerFsuid::~ServerFsuid() {
    if (switched_) syscall(SYS_setfsuid, t_creds.uid);
}

bool private_umask() {
    if (unshare(CLONE_FS) != 0) return false;
    umask(0);
    t_private_umask = true;
    return true;
}

mode_t process_umask() { return g_umask; }
bool thread_has_private_umask() { return t_private_umask; }

}  // namespace duct::exp
