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

void InodeTable::set_fid(Node& n, uint32_t fid, std::vector<uint32_t>& now,
                         std::vector<uint64_t>& drop) {
    if (n.fid == p9::NOFID) {
        if (n.parent) drop.push_back(n.parent);
        n.parent = 0;
        n.name.clear();
    } else if (n.fid != fid) {
        retire(n.fid, now);
    }
    n.fid = fid;
}

void InodeTable::drop_lookups(std::vector<uint64_t> inos, std::vector<uint32_t>& now) {
    while (!inos.empty()) {
        uint64_t ino = inos.back();
        inos.pop_back();
        if (ino == ROOT) continue;
        auto it = nodes_.find(ino);
        if (it == nodes_.end()) continue;
        if (--it->second.nlookup > 0) continue;
        Node& n = it->second;
        if (n.fid != p9::NOFID) retire(n.fid, now);
        else if (n.parent) inos.push_back(n.parent);
        auto p = by_path_.find(n.qid.path);
        if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
        nodes_.erase(it);
    }
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
            std::vector<uint64_t> drop;
            set_fid(n->second, fid, now, drop);
            drop_lookups(std::move(drop), now);
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

uint64_t InodeTable::add_lazy(uint64_t parent, const std::string& name, const p9::Qid& qid,
                              uint64_t gen) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = by_path_.find(qid.path);
    auto n = it == by_path_.end() ? nodes_.end() : nodes_.find(it->second);
    if (n != nodes_.end() && same_file(n->second, qid, gen)) {
        n->second.nlookup++;  // known (with a fid or not): as it is
        return n->first;
    }
    auto p = nodes_.find(parent);
    if (p == nodes_.end()) return 0;
    p->second.nlookup++;  // held by the new node until it has a fid
    uint64_t id = next_++;
    nodes_[id] = Node{p9::NOFID, qid, gen, 1, parent, name};
    by_path_[qid.path] = id;
    return id;
}

void InodeTable::refresh(uint32_t fid, const p9::Qid& qid, uint64_t gen) {
    std::vector<uint32_t> now;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = by_path_.find(qid.path);
        auto n = it == by_path_.end() ? nodes_.end() : nodes_.find(it->second);
        if (n != nodes_.end() && same_file(n->second, qid, gen)) {
            std::vector<uint64_t> drop;
            set_fid(n->second, fid, now, drop);
            drop_lookups(std::move(drop), now);
        } else {
            now.push_back(fid);
        }
    }
    clunk_all(now);
}

bool InodeTable::attach(uint64_t ino, uint32_t fid, const p9::Qid& qid, uint64_t gen) {
    std::vector<uint32_t> now;
    bool same = false;
    {
        std::lock_guard<std::mutex> g(mu_);
        auto it = nodes_.find(ino);
        if (it != nodes_.end() && it->second.qid.path == qid.path && same_file(it->second, qid, gen)) {
            same = true;
            if (it->second.fid == p9::NOFID) {
                std::vector<uint64_t> drop;
                set_fid(it->second, fid, now, drop);
                drop_lookups(std::move(drop), now);
            } else {
                now.push_back(fid);  // another op attached one first
            }
        } else {
            now.push_back(fid);
        }
    }
    clunk_all(now);
    return same;
}

bool InodeTable::pin(uint64_t ino, Ref& out, Origin* lazy) {
    out.reset();
    std::lock_guard<std::mutex> g(mu_);
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return false;
    const Node& n = it->second;
    if (n.fid == p9::NOFID) {
        if (lazy) *lazy = Origin{n.parent, n.name, n.qid, n.gen};
        return true;
    }
    out.t_ = this;
    out.fid_ = n.fid;
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
        it->second.nlookup = 1;  // the last one goes below, with what it held
        drop_lookups({ino}, now);
    }
    clunk_all(now);
}

std::vector<uint32_t> InodeTable::drain() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint32_t> out(retired_.begin(), retired_.end());
    uint32_t root = p9::NOFID;
    for (auto& [id, n] : nodes_) {
        if (id == ROOT) root = n.fid;
        else if (n.fid != p9::NOFID) out.push_back(n.fid);
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
    size_t n = retired_.size();
    for (auto& [id, node] : nodes_) n += node.fid != p9::NOFID;
    return n;
}

size_t InodeTable::node_count() const {
    std::lock_guard<std::mutex> g(mu_);
    return nodes_.size();
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
