// File identity across the file systems below the export root: QidMap turns
// a file's (st_dev, st_ino) into a qid.path no other file of the export
// shares. The peer keys its inode cache by qid.path (our mount's inode table,
// the kernel's v9fs), so two files with one qid.path would be one file to it:
// two tmpfs below the root both have an inode 2, and a write meant for one
// would land in the other.
//
// The layout (after QEMU 9p's multidevs=remap, simpler: a fixed split):
//   - the root's device keeps its inode numbers as they are (prefix 0), so
//     st_ino through the mount matches the exporting disk where it can;
//   - every other device gets a prefix 1..kLastPrefix in the top 16 bits,
//     in the order this server first sees them, over the inode's low 48 bits;
//   - an inode that does not fit in 48 bits (overlayfs xino, some network
//     file systems), or any inode of a device past the last prefix, gets the
//     next number of a remap table under prefix kRemapPrefix.
// A (dev, ino) pair always gives the same qid.path for the server's life
// (so across renames and for hard links, which keep their inode), and no two
// pairs share one. Prefixes and remap entries are never freed: the remap
// table grows by one entry (~50 bytes) per distinct large inode seen.
//
// Threads: any worker. The root's device needs no lock; the others take mu_.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace duct::exp {

class QidMap {
public:
    static constexpr int kInoBits = 48;
    static constexpr uint64_t kInoMask = (uint64_t(1) << kInoBits) - 1;
    static constexpr uint64_t kRemapPrefix = 0xFFFF;
    static constexpr uint64_t kLastPrefix = kRemapPrefix - 1;

    // Called once, before any worker runs (Server::init).
    void set_root(dev_t dev) { root_ = dev; }
    uint64_t path(dev_t dev, ino_t ino);

private:
    uint64_t remap(dev_t dev, ino_t ino);  // with mu_ held

    dev_t root_ = 0;
    std::mutex mu_;  // guards the members below (a leaf lock)
    std::unordered_map<dev_t, uint64_t> prefix_;
    std::map<std::pair<dev_t, ino_t>, uint64_t> remap_;
    uint64_t next_prefix_ = 1;
    uint64_t next_remap_ = 0;
};

}  // namespace duct::exp
