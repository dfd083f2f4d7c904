// mountpoint: see mountpoint.h. Format: proc(5), /proc/pid/mountinfo:
//   id parent major:minor root mountpoint options [optional...] - fstype source superoptions
#include "mount/mountpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <chrono>
#include <sstream>
#include <thread>

#include "base/fd.h"
#include "base/log.h"

namespace duct::mnt {

namespace {

struct DirClose {
    void operator()(DIR* d) const { closedir(d); }
};
using Dir = std::unique_ptr<DIR, DirClose>;

// Undoes the octal escapes of mountinfo (\040 for a space).
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

std::vector<MountEntry> mounts_at(const std::string& path) {
    std::vector<MountEntry> here;
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        MountEntry e;
        std::string root, mp, word;
        if (!(ls >> e.id >> e.parent >> e.dev >> root >> mp)) continue;
        if (unescape(mp) != path) continue;
        e.mountpoint = unescape(mp);
        while (ls >> word && word != "-") {}
        ls >> e.fstype >> e.source;
        e.source = unescape(e.source);
        here.push_back(std::move(e));
    }
    // Order them bottom first: the bottom one's parent is mounted elsewhere;
    // each next one is mounted on the one before.
    std::vector<MountEntry> chain;
    auto at_path = [&](int id) {
        for (auto& e : here)
            if (e.id == id) return true;
        return false;
    };
    int cur = -1;
    for (auto& e : here)
        if (!at_path(e.parent)) {
            chain.push_back(e);
            cur = e.id;
            break;
        }
    while (cur != -1 && chain.size() < here.size()) {
        int next = -1;
        for (auto& e : here)
            if (e.parent == cur) {
                chain.push_back(e);
                next = e.id;
                break;
            }
        cur = next;
    }
    // Odd shapes (several mounts on one parent, after propagation): the file's order.
    return chain.size() == here.size() ? chain : here;
}

bool check_mountpoint(const std::string& mountpoint, std::string& real, std::string& err) {
    char buf[PATH_MAX];
    if (!realpath(mountpoint.c_str(), buf)) {
        err = "mount point " + mountpoint + ": " + std::strerror(errno);
        return false;
    }
    struct stat st;
    if (stat(buf, &st) != 0) {
        err = "mount point " + mountpoint + ": " + std::strerror(errno);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        err = "mount point " + mountpoint + ": " + std::strerror(ENOTDIR);
        return false;
    }
    // Mounting over a mount would hide it, and teardown could not tell the
    // two apart by path (umount2 removes the top one): refuse.
    auto here = mounts_at(buf);
    if (!here.empty()) {
        const MountEntry& top = here.back();
        err = "mount point " + mountpoint + " is already a mount point (" + top.fstype + " " + top.source +
              "); unmount it first or choose another directory";
        return false;
    }
    real = buf;
    return true;
}

Place place_of(const std::string& path, const std::string& dev) {
    auto here = mounts_at(path);
    for (size_t i = 0; i < here.size(); i++)
        if (here[i].dev == dev) return i + 1 == here.size() ? Place::Top : Place::Covered;
    return Place::Gone;
}

size_t files_held_on(int mnt_id, const std::string& dev) {
    unsigned major = 0, minor = 0;
    if (std::sscanf(dev.c_str(), "%u:%u", &major, &minor) != 2) return 0;
    char mapdev[32];
    std::snprintf(mapdev, sizeof mapdev, "%02x:%02x", major, minor);  // as maps writes it
    const std::string want_mnt = std::to_string(mnt_id);
    size_t n = 0;
    Dir proc(opendir("/proc"));
    if (!proc) return 0;
    while (dirent* p = readdir(proc.get())) {
        if (p->d_name[0] < '1' || p->d_name[0] > '9') continue;
        std::string base = std::string("/proc/") + p->d_name;
        std::set<std::string> inodes;  // of this process
        if (Dir fds{opendir((base + "/fdinfo").c_str())}) {
            while (dirent* f = readdir(fds.get())) {
                if (f->d_name[0] == '.') continue;
                std::ifstream in(base + "/fdinfo/" + f->d_name);
                std::string key, val, mnt, ino;
                while (in >> key >> val) {
                    if (key == "mnt_id:") mnt = val;
                    else if (key == "ino:") ino = val;
                }
                if (mnt == want_mnt) inodes.insert(ino);
            }
        }
        std::ifstream maps(base + "/maps");
        std::string line;
        while (std::getline(maps, line)) {
            std::istringstream ls(line);
            std::string range, perms, offset, d, ino;
            if (ls >> range >> perms >> offset >> d >> ino && d == mapdev && ino != "0") inodes.insert(ino);
        }
        n += inodes.size();
    }
    return n;
}

bool flush_within(const std::string& path, Place where, int seconds) {
    if (where == Place::Gone) return true;
    struct Done {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
    };
    auto d = std::make_shared<Done>();
    // Detached: if the peer stops answering, syncfs waits until the mount
    // is aborted, and the caller must not.
    std::thread([d, path, where] {
        int r = 0;
        if (where == Place::Top) {
            // A real open: syncfs(2) does not take an O_PATH fd.
            Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            r = fd ? syncfs(fd.get()) : -1;
        } else {
            sync();  // another mount hides ours: no path reaches it
        }
        if (r != 0) log_error("mount: syncfs %s: %s", path.c_str(), std::strerror(errno));
        else if (verbose()) log_info("mount: flushed %s", path.c_str());
        std::lock_guard<std::mutex> g(d->mu);
        d->done = true;
        d->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> g(d->mu);
    return d->cv.wait_for(g, std::chrono::seconds(seconds), [&] { return d->done; });
}

}  // namespace duct::mnt
