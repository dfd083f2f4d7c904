// InodeTable: FUSE node ids <-> 9P fids. Each node the kernel knows holds
// one walked fid (never opened; opens clone it) plus its qid and the
// kernel's lookup count; the node and its fid go when forget brings the
// count to 0. Nodes are shared by qid.path (+ generation), so hard links
// and repeated lookups of one file give the kernel one node id.
//
// Threads: every FUSE worker; one mutex guards all of it and is a leaf lock
// (no rpc is made while holding it — callers clunk the fids it hands back).
#pragma once
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "proto/messages.h"

namespace duct::mnt {

class InodeTable {
public:
    static constexpr uint64_t ROOT = 1;  // FUSE_ROOT_ID

    void set_root(uint32_t fid, const p9::Qid& qid);
    // A lookup found (fid, qid, gen). Returns the node id; when the node was
    // already known, its lookup count is raised and the new fid replaces the
    // node's fid: path-based servers (diod) leave older fids at the old
    // name after a rename, so the freshest walk is the one to keep. The old
    // fid is retired, not clunked at once (an op may be using it); *spare
    // is set to a retired fid the caller must clunk, or NOFID.
    uint64_t add(uint32_t fid, const p9::Qid& qid, uint64_t gen, uint32_t* spare);
    // After a rename: the node (if known) takes fid as above, but its lookup
    // count stays. *spare as for add(); if the node is unknown it is fid.
    void refresh(uint32_t fid, const p9::Qid& qid, uint64_t gen, uint32_t* spare);
    // The walked fid of a node; false if the kernel named an unknown node.
    bool fid_of(uint64_t ino, uint32_t& fid) const;
    // Lowers the lookup count by n; true (and the fid to clunk) when the
    // node is gone. The root is never forgotten.
    bool forget(uint64_t ino, uint64_t n, std::vector<uint32_t>& fids);
    // Empties the table; returns every fid it held (the root's last).
    std::vector<uint32_t> drain();

private:
    struct Node {
        uint32_t fid;
        p9::Qid qid;
        uint64_t gen;
        uint64_t nlookup;
        std::vector<uint32_t> retired;  // older fids, clunked later
    };
    static constexpr size_t kRetired = 4;  // kept per node before clunking
    void swap_fid(Node& n, uint32_t fid, uint32_t* spare);
    mutable std::mutex mu_;  // guards everything below
    std::unordered_map<uint64_t, Node> nodes_;
    std::unordered_map<uint64_t, uint64_t> by_path_;  // qid.path -> node id
    uint64_t next_ = 2;
};

}  // namespace duct::mnt
