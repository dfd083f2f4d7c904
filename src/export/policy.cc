// Read-only exports (policy.h). Runs on worker threads; reads only.
//
// What counts as mutating: everything that creates, removes, renames,
// writes or changes the metadata of a file, in 9P2000.L, the duct
// extension and 9P2000, and every open for writing (write access, trunc,
// append, ORCLOSE), so the peer learns at open time, as with a local
// read-only mount. Not refused:
//  - Tlock/Tgetlock: advisory locks change no file, and readers lock too
//    (SQLite takes its read locks on a read-only database). A POSIX write
//    lock still needs a fid open for writing (lock.cc), which a read-only
//    export never gives: EBADF, as locally on a file opened read-only.
//  - Tfsync: it writes nothing that is not already written.
//  - a Twstat with every field "don't touch": stat(5)'s request to commit
//    the file to stable storage, a sync, not a change.
#include "export/policy.h"

#include <cerrno>
#include <type_traits>
#include <variant>

#include "proto/oflags.h"

namespace duct::exp {

namespace {

bool writes_l(uint32_t lflags) {
    uint32_t acc = lflags & 3;
    return acc == p9::DOTL_WRONLY || acc == p9::DOTL_RDWR ||
           (lflags & (p9::DOTL_TRUNC | p9::DOTL_APPEND | p9::DOTL_CREATE)) != 0;
}

bool writes_plain(uint8_t mode) {
    uint8_t acc = mode & 3;
    return acc == p9::OWRITE || acc == p9::ORDWR || (mode & (p9::OTRUNC | p9::ORCLOSE)) != 0;
}

bool is_sync(const p9::Stat& s) {
    return s.mode == p9::STAT_KEEP32 && s.atime == p9::STAT_KEEP32 && s.mtime == p9::STAT_KEEP32 &&
           s.length == p9::STAT_KEEP64 && s.name.empty() && s.uid.empty() && s.gid.empty();
}

}  // namespace

int refused_by_policy(const ServerOptions& o, const p9::Fcall& fc) {
    if (!o.read_only) return 0;
    bool mutates = std::visit(
        [](const auto& m) -> bool {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, std::monostate>) return false;  // undecoded: refused elsewhere
            else if constexpr (std::is_same_v<M, p9::Tlopen>) return writes_l(m.flags);
            else if constexpr (std::is_same_v<M, p9::Topen>) return writes_plain(m.mode);
            else if constexpr (std::is_same_v<M, p9::Twstat>) return !is_sync(m.stat);
            else
                // Fail closed: whatever is not known to only read mutates,
                // so a message added to the table (Tlcreateattr was one)
                // is refused until it is classified here.
                return !(std::is_same_v<M, p9::Tversion> || std::is_same_v<M, p9::Tauth> ||
                         std::is_same_v<M, p9::Tattach> || std::is_same_v<M, p9::Tflush> ||
                         std::is_same_v<M, p9::Twalk> || std::is_same_v<M, p9::Twalkattr> ||
                         std::is_same_v<M, p9::Tstatfs> || std::is_same_v<M, p9::Tgetattr> ||
                         std::is_same_v<M, p9::Treadlink> || std::is_same_v<M, p9::Treaddir> ||
                         std::is_same_v<M, p9::Treaddirplus> || std::is_same_v<M, p9::Tread> ||
                         std::is_same_v<M, p9::Txattrwalk> || std::is_same_v<M, p9::Tclunk> ||
                         std::is_same_v<M, p9::Tlock> || std::is_same_v<M, p9::Tgetlock> ||
                         std::is_same_v<M, p9::Tfsync> || std::is_same_v<M, p9::Tstat> ||
                         std::is_same_v<M, p9::Tlseek> || std::is_same_v<M, p9::Tfeed> ||
                         (M::kType & 1) != 0);  // an R-message: server.cc answers those
        },
        fc.msg);
    return mutates ? EROFS : 0;
}

}  // namespace duct::exp
