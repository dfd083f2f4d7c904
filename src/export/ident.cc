// QidMap: (st_dev, st_ino) -> a qid.path unique within the export. See
// ident.h for the layout. Runs on any worker.
#include "export/ident.h"

namespace duct::exp {

uint64_t QidMap::path(dev_t dev, ino_t ino) {
    const uint64_t i = uint64_t(ino);
    if (dev == root_ && i <= kInoMask) return i;  // the common case: no lock
    std::lock_guard<std::mutex> g(mu_);
    if (i > kInoMask) return remap(dev, ino);
    auto it = prefix_.find(dev);
    if (it == prefix_.end()) {
        if (next_prefix_ > kLastPrefix) return remap(dev, ino);
        it = prefix_.emplace(dev, next_prefix_++).first;
    }
    return it->second << kInoBits | i;
}

uint64_t QidMap::remap(dev_t dev, ino_t ino) {
    auto [it, fresh] = remap_.try_emplace({dev, ino}, 0);
    // 2^48 entries would need petabytes of memory: the counter cannot run out.
    if (fresh) it->second = kRemapPrefix << kInoBits | (next_remap_++ & kInoMask);
    return it->second;
}

}  // namespace duct::exp
