// InodeTable: see inodes.h. Node ids are never reused (a counter), so the
// kernel's generation number can stay 0.
#include "mount/inodes.h"

namespace duct::mnt {

InodeTable::Ref& InodeTable::Ref::operator=(Ref&& o) noexcept {
    if (this != &o) {
        reset();
        t_ = o.t_;
        fid_ = o.fid_;
        o.t_ = nullptr;
    }
    return *this;
}

void InodeTable::Ref::reset() {
    if (t_) t_->unpin(fid_);
    t_ = nullptr;
}

void InodeTable::clunk_all(const std::vector<uint32_t>& fids) {
    for (uint32_t f : fids) clunk_(f);
}

void InodeTable::set_root(uint32_t fid, const p9::Qid& qid) {
    std::lock_guard<std::mutex> g(mu_);
    nodes_[ROOT] = Node{fid, qid, 0, 1};
}

bool InodeTable::same_file(const Node& n, const p9::Qid& qid, uint64_t gen) const {
    // A different generation means the old file is gone and its inode
    // number was reused: a new node, the old one lives until forgotten.
    return n.gen == gen && n.qid.type == qid.type;
}

void InodeTable::retire(uint32_t fid, std::vector<uint32_t>& now) {
    if (pins_.count(fid)) retired_.insert(fid);
    else now.push_back(fid);
}

uint64_t InodeTable::add(uint32_t fid, const p9::Qid& qid, uint64_t gen) {
    std::vector<uint32_t> now;
    uint64_t id;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = by_path_.find(qid.path);
        auto n = it == by_path_.end() ? nodes_.end() : nodes_.find(it->second);
        if (n != nodes_.end() && same_file(n->second, qid, gen)) {
            n->second.nlookup++;
            if (n->second.fid != fid) retire(n->second.fid, now);
            n->second.fid = fid;
            id = n->first;
        } else {
            id = next_++;
            nodes_[id] = Node{fid, qid, gen, 1};
            by_path_[qid.path] = id;
        }
    }
    clunk_all(now);
    return id;
}

void InodeTable::refresh(uint32_t fid, const p9::Qid& qid, uint64_t gen) {
    std::vector<uint32_t> now;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = by_path_.find(qid.path);
        auto n = it == by_path_.end() ? nodes_.end() : nodes_.find(it->second);
        if (n != nodes_.end() && same_file(n->second, qid, gen)) {
            if (n->second.fid != fid) retire(n->second.fid, now);
            n->second.fid = fid;
        } else {
            now.push_back(fid);
        }
    }
    clunk_all(now);
}

bool InodeTable::pin(uint64_t ino, Ref& out) {
    out.reset();
    std::lock_guard<std::mutex> g(mu_);
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return false;
    out.t_ = this;
    out.fid_ = it->second.fid;
    pins_[out.fid_]++;
    return true;
}

void InodeTable::unpin(uint32_t fid) {
    bool clunk = false;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = pins_.find(fid);
        if (it == pins_.end() || --it->second > 0) return;
        pins_.erase(it);
        clunk = retired_.erase(fid) > 0;
    }
    if (clunk) clunk_(fid);
}

void InodeTable::forget(uint64_t ino, uint64_t n) {
    std::vector<uint32_t> now;
    {
        std::lock_guard<std::mutex> g(mu_);
        if (ino == ROOT) return;
        auto it = nodes_.find(ino);
        if (it == nodes_.end()) return;
        if (it->second.nlookup > n) {
            it->second.nlookup -= n;
            return;
        }
        retire(it->second.fid, now);
        auto p = by_path_.find(it->second.qid.path);
        if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
        nodes_.erase(it);
    }
    clunk_all(now);
}

std::vector<uint32_t> InodeTable::drain() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint32_t> out(retired_.begin(), retired_.end());
    uint32_t root = p9::NOFID;
    for (auto& [id, n] : nodes_) {
        if (id == ROOT) root = n.fid;
        else out.push_back(n.fid);
    }
    if (root != p9::NOFID) out.push_back(root);
    nodes_.clear();
    by_path_.clear();
    retired_.clear();
    pins_.clear();
    return out;
}

size_t InodeTable::fid_count() const {
    std::lock_guard<std::mutex> g(mu_);
    return nodes_.size() + retired_.size();
}

bool InodeTable::ino_of(uint64_t qpath, uint64_t& ino) const {
    std::lock_guard<std::mutex> g(mu_);
    auto r = nodes_.find(ROOT);
    if (r != nodes_.end() && r->second.qid.path == qpath) {
        ino = ROOT;
        return true;
    }
    auto it = by_path_.find(qpath);
    if (it == by_path_.end()) return false;
    ino = it->second;
    return true;
}

std::vector<uint64_t> InodeTable::all() const {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint64_t> v;
    v.reserve(nodes_.size());
    for (auto& [ino, n] : nodes_) v.push_back(ino);
    return v;
}

}  // namespace duct::mnt
