// 9P message values, generated from table.h. Plain structs whose field names
// are the spec's; a Message is a variant over all of them; an Fcall is a tag
// plus a Message. Constants of both dialects live here too.
// Pure values: no threads, no I/O.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proto/table.h"

namespace duct::p9 {

using u8 = uint8_t;
using u16 = uint16_t;
using u32 = uint32_t;
using u64 = uint64_t;
using str = std::string;

constexpr u16 NOTAG = 0xFFFF;
constexpr u32 NOFID = 0xFFFFFFFF;
constexpr u32 NONUNAME = 0xFFFFFFFF;
constexpr size_t MAXWELEM = 16;
constexpr u32 IOHDRSZ = 24;  // Twrite/Rread header bytes, as in Plan 9's fcall.h
constexpr u32 HEADER = 7;    // size[4] type[1] tag[2]
constexpr u32 MINMSIZE = 256;  // below this not even a walk fits; refuse it

// Duct is 9P2000.L plus the duct-to-duct extension rows of table.h: a
// session is Duct only when both ends are ducts and Tversion agreed on it.
// On the wire it is 9P2000.L (n_uname present).
enum class Dialect : u8 { P2000, L, Any, Duct };
const char* dialect_name(Dialect d);  // "9P2000", "9P2000.L", "9P2000.L.duct"

// The extension is negotiated like 9P2000.u and 9P2000.L were: by a
// version-string suffix (version(5): a server answers the client's string
// or an earlier version it speaks). Our mount offers "9P2000.L.duct.N",
// N = the highest extension level it knows; our export answers
// "9P2000.L.duct.M", M = min(N, its own level), so two ducts of different
// ages meet at the older one's level. Every other server strips or refuses
// the suffix (diod: Rlerror EIO; hugelgupf/p9: "unknown"; Plan 9, Inferno
// and older ducts: "9P2000"); the mount then retries "9P2000.L", then
// "9P2000" (mount.cc). Level 1: Tfallocate, Tlseek, Trenameat2, flock, and later Twalkattr,
// which a duct older than it answers ENOSYS (an unknown type): the mount
// then stops sending it (Fs::no_walkattr); likewise Treaddirplus and
// Tlcreateattr (Fs::no_readdirplus, Fs::no_lcreateattr).
constexpr const char* kDuctVersionPrefix = "9P2000.L.duct.";
constexpr u32 kDuctLevel = 1;
std::string duct_version(u32 level);  // "9P2000.L.duct.<level>"
// The level a version string offers: 0 unless it is kDuctVersionPrefix
// followed by a decimal number >= 1 (capped at 2^31 - 1, never overflows).
u32 duct_level(std::string_view version);

// qid.type bits (9P2000 and .L)
constexpr u8 QTDIR = 0x80, QTAPPEND = 0x40, QTEXCL = 0x20, QTMOUNT = 0x10, QTAUTH = 0x08,
             QTTMP = 0x04, QTSYMLINK = 0x02, QTLINK = 0x01, QTFILE = 0x00;
// 9P2000 mode/perm bits
constexpr u32 DMDIR = 0x80000000, DMAPPEND = 0x40000000, DMEXCL = 0x20000000,
              DMMOUNT = 0x10000000, DMAUTH = 0x08000000, DMTMP = 0x04000000,
              DMSYMLINK = 0x02000000, DMDEVICE = 0x00800000, DMNAMEDPIPE = 0x00200000,
              DMSOCKET = 0x00100000, DMSETUID = 0x00080000, DMSETGID = 0x00040000;
// 9P2000 open modes
constexpr u8 OREAD = 0, OWRITE = 1, ORDWR = 2, OEXEC = 3, OTRUNC = 0x10, ORCLOSE = 0x40;

// 9P2000.L getattr/setattr masks (Linux include/net/9p/9p.h)
constexpr u64 GETATTR_MODE = 0x1, GETATTR_NLINK = 0x2, GETATTR_UID = 0x4, GETATTR_GID = 0x8,
              GETATTR_RDEV = 0x10, GETATTR_ATIME = 0x20, GETATTR_MTIME = 0x40,
              GETATTR_CTIME = 0x80, GETATTR_INO = 0x100, GETATTR_SIZE = 0x200,
              GETATTR_BLOCKS = 0x400, GETATTR_BTIME = 0x800, GETATTR_GEN = 0x1000,
              GETATTR_DATA_VERSION = 0x2000, GETATTR_BASIC = 0x7ff, GETATTR_ALL = 0x3fff;
constexpr u32 SETATTR_MODE = 0x1, SETATTR_UID = 0x2, SETATTR_GID = 0x4, SETATTR_SIZE = 0x8,
              SETATTR_ATIME = 0x10, SETATTR_MTIME = 0x20, SETATTR_CTIME = 0x40,
              SETATTR_ATIME_SET = 0x80, SETATTR_MTIME_SET = 0x100;
// Tlock types/flags/status
constexpr u8 LOCK_TYPE_RDLCK = 0, LOCK_TYPE_WRLCK = 1, LOCK_TYPE_UNLCK = 2;
constexpr u32 LOCK_FLAGS_BLOCK = 1, LOCK_FLAGS_RECLAIM = 2;
// Duct extension (table.h): the Tlock is a flock(2) of the fid's open file.
constexpr u32 LOCK_FLAGS_FLOCK = 0x100;
// Duct extension: Rwalkattr xnone bits, "the file has no such xattr".
constexpr u32 XNONE_SELINUX = 0x1,      // security.selinux
              XNONE_ACL_ACCESS = 0x2,   // system.posix_acl_access
              XNONE_ACL_DEFAULT = 0x4,  // system.posix_acl_default
              XNONE_CAPABILITY = 0x8;   // security.capability
// Duct extension: a bit of Rgetattr/Rwalkattr valid while the change feed
// is on (table.h): the exporting side cannot promise to report changes to
// this file (an unwatchable file system, a hard link, a watch limit).
constexpr u64 GETATTR_DUCT_UNWATCHED = u64(1) << 63;
constexpr u8 LOCK_SUCCESS = 0, LOCK_BLOCKED = 1, LOCK_ERROR = 2, LOCK_GRACE = 3;
// Tunlinkat flag (same value as AT_REMOVEDIR)
constexpr u32 AT_REMOVEDIR_9P = 0x200;

struct Qid {
    u8 type = 0;
    u32 version = 0;
    u64 path = 0;
    bool operator==(const Qid&) const = default;
};

// count[4] followed by count bytes (Rread, Twrite, Rreaddir).
struct Data {
    std::string bytes;
    bool operator==(const Data&) const = default;
};
using WNames = std::vector<std::string>;  // nwname[2] wname[s]... (<= MAXWELEM)
using WQids = std::vector<Qid>;           // nwqid[2] qid[13]...   (<= MAXWELEM)

// n_uname[4]: present only in 9P2000.L (and .u) Tauth/Tattach.
struct NUname {
    u32 value = NONUNAME;
    bool operator==(const NUname&) const = default;
};
// A trailing u32 that older peers omit (Tfsync's datasync).
struct OptU32 {
    u32 value = 0;
    bool operator==(const OptU32&) const = default;
};

// The 9P2000 stat record (stat(5)). On the wire inside Rstat/Twstat it is
// stat[n]: n[2] then the record, which starts with its own size[2].
struct Stat {
    u16 type = 0;
    u32 dev = 0;
    Qid qid;
    u32 mode = 0;
    u32 atime = 0;
    u32 mtime = 0;
    u64 length = 0;
    std::string name, uid, gid, muid;
    bool operator==(const Stat&) const = default;
};
// "Don't touch" values for Twstat (stat(5)).
constexpr u16 STAT_KEEP16 = 0xFFFF;
constexpr u32 STAT_KEEP32 = 0xFFFFFFFF;
constexpr u64 STAT_KEEP64 = ~u64(0);
Stat stat_keep();  // a Stat with every field "don't touch"

// ---- the message structs, one per table row ----
#define DUCT_MSG_STRUCT(Name, num, dia)                    \
    struct Name {                                          \
        static constexpr u8 kType = num;                   \
        static constexpr Dialect kDialect = Dialect::dia;  \
        static constexpr const char* kName = #Name;        \
        bool operator==(const Name&) const = default;
#define DUCT_MSG_FIELD(ty, field) ty field{};
#define DUCT_MSG_END() };
DUCT_9P_TABLE(DUCT_MSG_STRUCT, DUCT_MSG_FIELD, DUCT_MSG_END)
#undef DUCT_MSG_STRUCT
#undef DUCT_MSG_FIELD
#undef DUCT_MSG_END

// visit_fields(msg, v): calls v(fieldname, field) for each field in order.
#define DUCT_VISIT_BEGIN(Name, num, dia) \
    template <class M, class V>          \
    requires std::is_same_v<std::remove_const_t<M>, Name> void visit_fields([[maybe_unused]] M& m, [[maybe_unused]] V&& v) {
#define DUCT_VISIT_FIELD(ty, field) v(#field, m.field);
#define DUCT_VISIT_END() }
DUCT_9P_TABLE(DUCT_VISIT_BEGIN, DUCT_VISIT_FIELD, DUCT_VISIT_END)
#undef DUCT_VISIT_BEGIN
#undef DUCT_VISIT_FIELD
#undef DUCT_VISIT_END

// monostate = "no message" (a default-constructed Fcall).
#define DUCT_MSG_ALT(Name, num, dia) , Name
#define DUCT_MSG_NOFIELD(ty, field)
#define DUCT_MSG_NOEND()
using Message =
    std::variant<std::monostate DUCT_9P_TABLE(DUCT_MSG_ALT, DUCT_MSG_NOFIELD, DUCT_MSG_NOEND)>;
#undef DUCT_MSG_ALT
#undef DUCT_MSG_NOFIELD
#undef DUCT_MSG_NOEND

// Rwalkattr and Rlcreateattr carry Rgetattr's fields (table.h): between them.
#define DUCT_GETATTR_FIELDS(X)                                                       \
    X(valid) X(qid) X(mode) X(uid) X(gid) X(nlink) X(rdev) X(size) X(blksize)        \
    X(blocks) X(atime_sec) X(atime_nsec) X(mtime_sec) X(mtime_nsec) X(ctime_sec)     \
    X(ctime_nsec) X(btime_sec) X(btime_nsec) X(gen) X(data_version)
#define DUCT_COPY_FIELD(f) to.f = from.f;
inline void copy_attrs(const Rgetattr& from, Rwalkattr& to) { DUCT_GETATTR_FIELDS(DUCT_COPY_FIELD) }
inline void copy_attrs(const Rwalkattr& from, Rgetattr& to) { DUCT_GETATTR_FIELDS(DUCT_COPY_FIELD) }
inline void copy_attrs(const Rgetattr& from, Rlcreateattr& to) { DUCT_GETATTR_FIELDS(DUCT_COPY_FIELD) }
inline void copy_attrs(const Rlcreateattr& from, Rgetattr& to) { DUCT_GETATTR_FIELDS(DUCT_COPY_FIELD) }
#undef DUCT_COPY_FIELD

// The name of a message type number, or nullptr if the table has no such row.
const char* type_name(u8 type);
// True for the numbers the table knows.
bool known_type(u8 type);

struct Fcall {
    u16 tag = NOTAG;
    Message msg;
    u8 type() const;  // from the held alternative
};

template <class T>
bool holds(const Fcall& f) { return std::holds_alternative<T>(f.msg); }

}  // namespace duct::p9
