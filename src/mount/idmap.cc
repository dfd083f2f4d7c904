// IdMap (see idmap.h): parsing --idmap and the two directions of the map.
// Runs at startup (parse, set_user) and on FUSE workers (read-only lookups).
#include "mount/idmap.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace duct::mnt {

namespace {

// What Linux shows for an id it cannot map (/proc/sys/fs/overflowuid).
constexpr uint32_t kOverflowId = 65534;

bool number(const std::string& s, uint32_t& v) {
    if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos)
        return false;
    unsigned long long n = std::stoull(s);
    // (uint32_t)-1 means "no id" in 9P2000.L (and to chown).
    if (n >= 0xffffffffULL) return false;
    v = uint32_t(n);
    return true;
}

bool local_id(bool is_uid, const std::string& s, uint32_t& v) {
    if (number(s, v)) return true;
    char buf[4096];
    if (is_uid) {
        struct passwd pw, *res = nullptr;
        if (getpwnam_r(s.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res) return false;
        v = res->pw_uid;
    } else {
        struct group gr, *res = nullptr;
        if (getgrnam_r(s.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res) return false;
        v = res->gr_gid;
    }
    return true;
}

}  // namespace

bool IdMap::Pairs::add(uint32_t local, uint32_t remote) {
    if (to_remote.count(local) || to_local.count(remote)) return false;
    to_remote[local] = remote;
    to_local[remote] = local;
    return true;
}

uint32_t IdMap::Pairs::in(uint32_t remote) const {
    if (auto it = to_local.find(remote); it != to_local.end()) return it->second;
    // Unmapped, but this number is someone's local id in the map: showing it
    // as is would give the file to that someone.
    if (to_remote.count(remote)) return kOverflowId;
    return remote;
}

bool IdMap::Pairs::out(uint32_t local, uint32_t& remote) const {
    if (auto it = to_remote.find(local); it != to_remote.end()) {
        remote = it->second;
        return true;
    }
    // Unmapped, and sent as is it would come back as another local id.
    if (to_local.count(local)) return false;
    remote = local;
    return true;
}

bool IdMap::parse(const std::string& spec, IdMap& out, std::string& err) {
    out = IdMap{};
    if (spec.empty() || spec == "none") return true;
    if (spec == "user") {
        out.mode_ = Mode::User;
        return true;
    }
    if (spec.rfind("file:", 0) != 0 || spec.size() == 5) {
        err = "--idmap " + spec + ": expected none, user or file:PATH";
        return false;
    }
    out.mode_ = Mode::File;
    out.file_ = spec.substr(5);
    std::ifstream in(out.file_);
    if (!in) {
        err = "--idmap " + out.file_ + ": " + std::strerror(errno ? errno : ENOENT);
        return false;
    }
    std::string line;
    for (int n = 1; std::getline(in, line); n++) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
        std::istringstream ls(line);
        std::string kind, local, remote, extra;
        if (!(ls >> kind)) continue;  // blank or comment
        auto where = out.file_ + ":" + std::to_string(n) + ": ";
        if (!(ls >> local >> remote) || (ls >> extra) || (kind != "uid" && kind != "gid")) {
            err = where + "expected `uid LOCAL REMOTE` or `gid LOCAL REMOTE`";
            return false;
        }
        bool is_uid = kind == "uid";
        uint32_t l, r;
        if (!local_id(is_uid, local, l)) {
            err = where + "no local " + (is_uid ? "user " : "group ") + local;
            return false;
        }
        if (!number(remote, r)) {
            err = where + "remote id " + remote + " is not a number below 4294967295";
            return false;
        }
        if (!(is_uid ? out.uids_ : out.gids_).add(l, r)) {
            err = where + kind + " " + local + " or " + remote + " is mapped twice";
            return false;
        }
    }
    return true;
}

void IdMap::set_user(uint32_t remote_uid, uint32_t remote_gid, uid_t local_uid, gid_t local_gid) {
    uids_ = {};
    gids_ = {};
    // Equal ids need no entry (and an entry would send other ids to nobody).
    if (remote_uid != local_uid) uids_.add(local_uid, remote_uid);
    if (remote_gid != local_gid) gids_.add(local_gid, remote_gid);
}

std::string IdMap::describe() const {
    std::string s = mode_ == Mode::None ? "none" : mode_ == Mode::User ? "user" : "file:" + file_;
    auto list = [&](const char* kind, const Pairs& p) {
        for (auto& [l, r] : p.to_remote)
            s += std::string(" ") + kind + " " + std::to_string(l) + "<->" + std::to_string(r);
    };
    list("uid", uids_);
    list("gid", gids_);
    return s;
}

}  // namespace duct::mnt
