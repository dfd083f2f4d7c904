// FidTable: a mutex-guarded hash map of fid number -> Fid. See fid.h for
// the threading rules; every method takes mu_ for its whole (short) body and
// never calls out while holding it.
#include "export/fid.h"

#include <cerrno>

namespace duct::exp {

uint64_t next_fid_serial() {
    static std::atomic<uint64_t> n{0};
    return ++n;
}

std::shared_ptr<Fid> FidTable::get(uint32_t id) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(id);
    return it == map_.end() ? nullptr : it->second.fid;
}

bool FidTable::add(uint32_t id, std::shared_ptr<Fid> f, std::string path, int& err, uint64_t gen) {
    std::lock_guard<std::mutex> g(mu_);
    if (gen != kAnyGen && gen != gen_.load()) {
        err = EBADF;  // that session is over
        return false;
    }
    if (map_.count(id)) {
        err = EBADF;  // the spec: newfid must not be in use
        return false;
    }
    if (map_.size() >= cap_) {  // a peer cannot make us hold unbounded fids
        err = EMFILE;
        return false;
    }
    map_.emplace(id, Entry{std::move(f), std::move(path)});
    count_.store(map_.size(), std::memory_order_relaxed);
    return true;
}

bool FidTable::replace(uint32_t id, const Fid* expect, std::shared_ptr<Fid> f, std::string path,
                       uint64_t gen) {
    std::lock_guard<std::mutex> g(mu_);
    if (gen != kAnyGen && gen != gen_.load()) return false;
    auto it = map_.find(id);
    if (it == map_.end() || it->second.fid.get() != expect) return false;
    it->second = Entry{std::move(f), std::move(path)};
    return true;
}

std::shared_ptr<Fid> FidTable::remove(uint32_t id) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(id);
    if (it == map_.end()) return nullptr;
    auto f = std::move(it->second.fid);
    map_.erase(it);
    count_.store(map_.size(), std::memory_order_relaxed);
    return f;
}

std::string FidTable::path(uint32_t id) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(id);
    return it == map_.end() ? std::string() : it->second.path;
}

std::vector<std::shared_ptr<Fid>> FidTable::at_path(const std::string& path) const {
    std::vector<std::shared_ptr<Fid>> out;
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [id, e] : map_)
        if (e.path == path) out.push_back(e.fid);
    return out;
}

namespace {
// True if path is `dir` itself or below it.
bool at_or_below(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                           path[dir.size()] == '/');
}
}  // namespace

void FidTable::rename_paths(const std::string& from, const std::string& to) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [id, e] : map_)
        if (at_or_below(e.path, from)) e.path = to + e.path.substr(from.size());
}

void FidTable::exchange_paths(const std::string& a, const std::string& b) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& [id, e] : map_) {
        if (at_or_below(e.path, a)) e.path = b + e.path.substr(a.size());
        else if (at_or_below(e.path, b)) e.path = a + e.path.substr(b.size());
    }
}

std::vector<std::pair<std::shared_ptr<Fid>, std::string>> FidTable::clear() {
    std::vector<std::pair<std::shared_ptr<Fid>, std::string>> out;
    std::lock_guard<std::mutex> g(mu_);
    out.reserve(map_.size());
    for (auto& [id, e] : map_) out.emplace_back(std::move(e.fid), std::move(e.path));
    map_.clear();
    count_.store(0, std::memory_order_relaxed);
    gen_.fetch_add(1);
    return out;
}

}  // namespace duct::exp
