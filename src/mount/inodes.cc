// InodeTable: see inodes.h. Node ids are never reused (a counter), so the
// kernel's generation number can stay 0.
#include "mount/inodes.h"

namespace duct::mnt {

void InodeTable::set_root(uint32_t fid, const p9::Qid& qid) {
    std::lock_guard<std::mutex> g(mu_);
    nodes_[ROOT] = Node{fid, qid, 0, 1};
}

uint64_t InodeTable::add(uint32_t fid, const p9::Qid& qid, uint64_t gen, uint32_t* spare) {
    std::lock_guard<std::mutex> g(mu_);
    *spare = p9::NOFID;
    auto it = by_path_.find(qid.path);
    if (it != by_path_.end()) {
        auto n = nodes_.find(it->second);
        // A different generation means the old file is gone and its inode
        // number was reused: a new node, the old one lives until forgotten.
        if (n != nodes_.end() && n->second.gen == gen && n->second.qid.type == qid.type) {
            n->second.nlookup++;
            swap_fid(n->second, fid, spare);
            return n->first;
        }
    }
    uint64_t id = next_++;
    nodes_[id] = Node{fid, qid, gen, 1};
    by_path_[qid.path] = id;
    return id;
}

void InodeTable::swap_fid(Node& n, uint32_t fid, uint32_t* spare) {
    n.retired.push_back(n.fid);
    n.fid = fid;
    if (n.retired.size() > kRetired) {
        *spare = n.retired.front();
        n.retired.erase(n.retired.begin());
    }
}

void InodeTable::refresh(uint32_t fid, const p9::Qid& qid, uint64_t gen, uint32_t* spare) {
    std::lock_guard<std::mutex> g(mu_);
    *spare = fid;
    auto it = by_path_.find(qid.path);
    if (it == by_path_.end()) return;
    auto n = nodes_.find(it->second);
    if (n == nodes_.end() || n->second.gen != gen || n->second.qid.type != qid.type) return;
    *spare = p9::NOFID;
    swap_fid(n->second, fid, spare);
}

bool InodeTable::fid_of(uint64_t ino, uint32_t& fid) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return false;
    fid = it->second.fid;
    return true;
}

bool InodeTable::forget(uint64_t ino, uint64_t n, std::vector<uint32_t>& fids) {
    std::lock_guard<std::mutex> g(mu_);
    if (ino == ROOT) return false;
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return false;
    if (it->second.nlookup > n) {
        it->second.nlookup -= n;
        return false;
    }
    fids = std::move(it->second.retired);
    fids.push_back(it->second.fid);
    auto p = by_path_.find(it->second.qid.path);
    if (p != by_path_.end() && p->second == ino) by_path_.erase(p);
    nodes_.erase(it);
    return true;
}

std::vector<uint32_t> InodeTable::drain() {
    std::lock_guard<std::mutex> g(mu_);
    std::vector<uint32_t> out;
    uint32_t root = p9::NOFID;
    for (auto& [id, n] : nodes_) {
        if (id == ROOT) root = n.fid;
        else out.push_back(n.fid);
        out.insert(out.end(), n.retired.begin(), n.retired.end());
    }
    if (root != p9::NOFID) out.push_back(root);
    nodes_.clear();
    by_path_.clear();
    return out;
}

}  // namespace duct::mnt
