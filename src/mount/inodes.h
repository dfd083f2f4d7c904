// InodeTable: FUSE node ids <-> 9P fids. Each node the kernel knows holds
// ONE walked fid (never opened; opens clone it) plus its qid and the
// kernel's lookup count; the node goes when forget brings the count to 0.
// Nodes are shared by qid.path (+ generation), so hard links and repeated
// lookups of one file give the kernel one node id.
//
// Fid lifetime: an op pins the node fid it uses (Ref). A fid no node holds
// any more (forgotten, or replaced by a fresher walk) is clunked when its
// last Ref goes, never while an op may still send it; until then its
// number is not reused either (the Client frees numbers only after
// Rclunk). So the peer holds one fid per known node, plus those in use.
//
// Lazy nodes: a node the kernel learnt of from a readdirplus entry or a
// Tlcreateattr has no fid yet (a fid on the export holds an fd, and a
// listing would make thousands). It remembers where it was seen (parent
// node + name) and holds one lookup of its parent so that parent stays
// while it may be needed; an op that needs the fid walks the name from the
// parent and attach()es the fid if the walk reached the same file (qid
// path, type, generation: same_file), else the op fails ESTALE.
//
// Threads: every FUSE worker; one mutex guards all of it and is a leaf lock.
// The clunk callback is called outside it (it sends).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/messages.h"

namespace duct::mnt {

class InodeTable {
public:
    static constexpr uint64_t ROOT = 1;  // FUSE_ROOT_ID
    using Clunk = std::function<void(uint32_t fid)>;
    explicit InodeTable(Clunk clunk) : clunk_(std::move(clunk)) {}

    // A pinned node fid; converts to the fid. Movable, not copyable.
    class Ref {
    public:
        Ref() = default;
        Ref(Ref&& o) noexcept : t_(o.t_), fid_(o.fid_) { o.t_ = nullptr; }
        Ref& operator=(Ref&& o) noexcept;
        Ref(const Ref&) = delete;
        Ref& operator=(const Ref&) = delete;
        ~Ref() { reset(); }
        void reset();
        uint32_t fid() const { return fid_; }
        operator uint32_t() const { return fid_; }

    private:
        friend class InodeTable;
        InodeTable* t_ = nullptr;
        uint32_t fid_ = p9::NOFID;
    };

    void set_root(uint32_t fid, const p9::Qid& qid);
    // A lookup walked fid to (qid, gen). Returns the node id; a new node
    // takes fid, a known one has its lookup count raised and takes fid as
    // its one fid: path-based servers (diod) leave older fids at the old
    // name after a rename, so the freshest walk is the one to keep. The
    // fid it had is clunked once no op uses it.
    uint64_t add(uint32_t fid, const p9::Qid& qid, uint64_t gen);
    // The same for a file seen in `parent` as `name` but not walked to: a
    // new node is lazy (no fid). 0 if parent is unknown (no node made).
    uint64_t add_lazy(uint64_t parent, const std::string& name, const p9::Qid& qid,
                      uint64_t gen);
    // After a rename: a known node takes fid as above (its lookup count
    // stays); for an unknown one fid is clunked.
    void refresh(uint32_t fid, const p9::Qid& qid, uint64_t gen);
    // Where a lazy node was seen, for the walk that gives it a fid.
    struct Origin {
        uint64_t parent = 0;
        std::string name;
        p9::Qid qid;
        uint64_t gen = 0;
    };
    // Pins the node's fid; false if the kernel named an unknown node. A
    // lazy node pins nothing (out.fid() is NOFID) and fills *lazy if given.
    bool pin(uint64_t ino, Ref& out, Origin* lazy = nullptr);
    // A walk from the lazy node's origin reached (qid, gen) as fid: if that
    // is the node's file and it still has no fid, it takes fid (and lets
    // its parent go). Otherwise fid is clunked; false if it was not the
    // node's file (or the node is gone).
    bool attach(uint64_t ino, uint32_t fid, const p9::Qid& qid, uint64_t gen);
    // Lowers the lookup count by n; at 0 the node goes (its fid clunked once
    // unpinned). The root is never forgotten.
    void forget(uint64_t ino, uint64_t n);
    // Empties the table at teardown; returns every fid it held (the root's
    // last), for the caller to clunk. No op may run any more.
    std::vector<uint32_t> drain();
    // The node of qid path qpath, if the kernel knows one (the feed).
    bool ino_of(uint64_t qpath, uint64_t& ino) const;
    // Every node id but the root's... and the root's (the feed's "lost").
    std::vector<uint64_t> all() const;
    // Fids the table holds for the peer: node fids and retired fids not yet
    // clunked (tests).
    size_t fid_count() const;
    // Nodes, lazy ones included, the root too (tests).
    size_t node_count() const;

private:
    struct Node {
        uint32_t fid;  // NOFID: lazy (below)
        p9::Qid qid;
        uint64_t gen;
        uint64_t nlookup;
        uint64_t parent = 0;  // lazy: the node it was seen in (one lookup held)
        std::string name;     // ... and the name it had there
    };
    // n takes fid (its old one retired); a lazy n lets its parent go
    // (into `drop`). mu_ held.
    void set_fid(Node& n, uint32_t fid, std::vector<uint32_t>& now, std::vector<uint64_t>& drop);
    // Lowers each node's count by one, removing those that reach 0 (and
    // the parents they held, in turn). mu_ held.
    void drop_lookups(std::vector<uint64_t> inos, std::vector<uint32_t>& now);
    void unpin(uint32_t fid);
    // fid belongs to no node any more: clunk it now (into `now`) or at
    // its last unpin. mu_ held.
    void retire(uint32_t fid, std::vector<uint32_t>& now);
    void clunk_all(const std::vector<uint32_t>& fids);
    bool same_file(const Node& n, const p9::Qid& qid, uint64_t gen) const;

    Clunk clunk_;
    mutable std::mutex mu_;  // guards everything below
    std::unordered_map<uint64_t, Node> nodes_;
    std::unordered_map<uint64_t, uint64_t> by_path_;  // qid.path -> node id
    std::unordered_map<uint32_t, uint32_t> pins_;     // fid -> Refs alive
    std::unordered_set<uint32_t> retired_;            // pinned fids no node has
    uint64_t next_ = 2;
};

}  // namespace duct::mnt
