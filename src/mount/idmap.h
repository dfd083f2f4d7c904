// IdMap: how the mount translates user and group ids between the peer's
// file system (the numbers 9P2000.L carries) and this machine (what stat(2)
// shows, what chown(2) and the caller's credentials mean), for --idmap.
//
//   none       ids pass unchanged: right when both machines share one id
//              space (both ends root with the same users, LDAP, NIS).
//   user       the peer's exporting user <-> the user running this duct,
//              as sshfs's idmap=user: the owner (uid and gid) of the
//              export's root directory is shown as ours, and ours is sent
//              as theirs; every other id passes unchanged.
//   file:PATH  explicit pairs, one per line: `uid LOCAL REMOTE` or
//              `gid LOCAL REMOTE`; LOCAL is a number or a local user/group
//              name, REMOTE a number; '#' starts a comment. Each id may
//              appear once per kind on each side (the map is one-to-one).
//
// An unmapped id passes unchanged unless that would make it mean someone
// else: a remote id equal to a LOCAL id of the map shows as the overflow
// id (65534, "nobody"), and a local id equal to a REMOTE id of the map has
// no remote id at all (chown to it fails with EOVERFLOW, as on an idmapped
// Linux mount).
//
// Threads: filled once before the FUSE session starts, then only read.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace duct::mnt {

class IdMap {
public:
    // Parses a --idmap value; false and err (naming file and line) if bad.
    static bool parse(const std::string& spec, IdMap& out, std::string& err);

    bool is_none() const { return mode_ == Mode::None; }
    // "user": the remote side of the pair is learned after Tattach.
    bool wants_peer_owner() const { return mode_ == Mode::User; }
    void set_user(uint32_t remote_uid, uint32_t remote_gid, uid_t local_uid, gid_t local_gid);

    // Remote -> local, for attributes shown to the kernel.
    uint32_t uid_in(uint32_t remote) const { return uids_.in(remote); }
    uint32_t gid_in(uint32_t remote) const { return gids_.in(remote); }
    // Local -> remote, for chown, the caller of a create and our attach.
    // False if the local id has no remote id (see above).
    bool uid_out(uint32_t local, uint32_t& remote) const { return uids_.out(local, remote); }
    bool gid_out(uint32_t local, uint32_t& remote) const { return gids_.out(local, remote); }

    // One line for -v: the mode and its pairs.
    std::string describe() const;

private:
    enum class Mode { None, User, File };
    struct Pairs {
        std::unordered_map<uint32_t, uint32_t> to_remote, to_local;
        bool add(uint32_t local, uint32_t remote);  // false if either side is taken
        uint32_t in(uint32_t remote) const;
        bool out(uint32_t local, uint32_t& remote) const;
    };
    Mode mode_ = Mode::None;
    std::string file_;
    Pairs uids_, gids_;
};

}  // namespace duct::mnt
