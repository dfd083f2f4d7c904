// The 9P codec: Fcall <-> frame bytes, driven by table.h. Also the packed
// records that live inside message data: 9P2000 stat records (directory
// reads) and 9P2000.L directory entries (Rreaddir).
// The decoder trusts no length: every read is bounds-checked against the
// frame, the frame against msize, counts against MAXWELEM; trailing bytes
// are an error. A bad frame yields an error string, never UB.
// Pure functions; safe from any thread.
#pragma once
#include <string>
#include <string_view>

#include "proto/messages.h"

namespace duct::p9 {

// Encodes a complete frame: size[4] type[1] tag[2] fields.
std::string encode(const Fcall& f, Dialect d);
void encode_into(std::string& out, const Fcall& f, Dialect d);  // appends

// Decodes one complete frame. msize > 0 caps its size. Returns "" on success,
// else what was wrong (out is then unspecified).
std::string decode(std::string_view frame, Dialect d, u32 msize, Fcall& out);

// Reads size/type/tag of a frame without decoding it (frame must hold >= 7
// bytes for type and tag; the control frame has only 5).
inline u32 frame_size(std::string_view f) {
    return u32(u8(f[0])) | u32(u8(f[1])) << 8 | u32(u8(f[2])) << 16 | u32(u8(f[3])) << 24;
}
inline u8 frame_type(std::string_view f) { return u8(f[4]); }
inline u16 frame_tag(std::string_view f) { return u16(u8(f[5]) | u8(f[6]) << 8); }

// ---- packed records ----
struct Dirent {
    Qid qid;
    u64 offset = 0;  // cookie for the next Treaddir
    u8 type = 0;     // DT_* value
    std::string name;
    bool operator==(const Dirent&) const = default;
};
size_t dirent_size(const Dirent& e);  // 13 + 8 + 1 + 2 + name
void append_dirent(std::string& out, const Dirent& e);
// Parses one entry at buf[pos...]; advances pos. False if malformed.
bool parse_dirent(std::string_view buf, size_t& pos, Dirent& e);

// An Rreaddirplus entry (table.h): a Dirent, then xnone[4] and Rgetattr's
// fields (attr.valid == 0: no attributes).
struct DirentPlus {
    Dirent d;
    u32 xnone = 0;
    Rgetattr attr;
    bool operator==(const DirentPlus&) const = default;
};
size_t direntplus_size(const DirentPlus& e);
void append_direntplus(std::string& out, const DirentPlus& e);
bool parse_direntplus(std::string_view buf, size_t& pos, DirentPlus& e);

size_t stat_size(const Stat& s);  // bytes of the record incl. its size[2]
void append_stat(std::string& out, const Stat& s);
// Parses one stat record (starting with its size[2]) at buf[pos...].
bool parse_stat(std::string_view buf, size_t& pos, Stat& s);

}  // namespace duct::p9
