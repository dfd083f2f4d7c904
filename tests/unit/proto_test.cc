// proto: the 9P table, codec, tracer and error table.
//
// Every message is listed here by expanding DUCT_9P_TABLE itself, so a row
// added to table.h is tested without an edit here. The byte vectors were
// written by hand from Plan 9's intro(5)/stat(5), diod's protocol.md and
// Linux net/9p/protocol.c (field format strings), not from our encoder.
// The malformed-frame and fuzz tests only ask that the decoder answers an
// error string and never crashes (run them under DUCT_SANITIZE=ON too).
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "proto/codec.h"
#include "proto/errors.h"
#include "proto/messages.h"
#include "proto/table.h"
#include "proto/trace.h"

namespace p9 = duct::p9;
using p9::Dialect;

namespace {

// "15 00 00 00 64 ff ff" -> bytes (spaces ignored).
std::string hex(const char* s) {
    std::string out;
    int hi = -1;
    for (; *s; s++) {
        char c = *s;
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;
        if (hi < 0) hi = v;
        else { out.push_back(char(hi << 4 | v)); hi = -1; }
    }
    EXPECT_EQ(hi, -1) << "odd number of hex digits in " << s;
    return out;
}

std::string tohex(const std::string& b) {
    std::string out;
    char buf[4];
    for (unsigned char c : b) {
        snprintf(buf, sizeof buf, "%02x ", c);
        out += buf;
    }
    return out;
}

// Gives every field a distinct, non-zero value in every byte position we
// can, so a field written to the wrong place or skipped shows up.
struct Filler {
    unsigned n = 0;
    void operator()(const char*, p9::u8& v) { v = p9::u8(0x40 + ++n); }
    void operator()(const char*, p9::u16& v) { v = p9::u16(0x0101 * (++n % 0x7f + 1)); }
    void operator()(const char*, p9::u32& v) { v = 0x04030200u + ++n; }
    void operator()(const char*, p9::u64& v) { v = 0x0807060504030200ull + ++n; }
    void operator()(const char*, std::string& v) { v = "s" + std::to_string(++n) + "\xc3\xa9"; }
    void operator()(const char*, p9::Qid& q) { q = qid(); }
    void operator()(const char*, p9::Data& d) {
        ++n;
        d.bytes.clear();
        for (unsigned i = 0; i < 37 + n; i++) d.bytes.push_back(char(i * 37 + n));  // has 00 and ff
    }
    void operator()(const char*, p9::WNames& w) { w = {"a" + std::to_string(++n), "bb", "c c"}; }
    void operator()(const char*, p9::WQids& w) { w = {qid(), qid()}; }
    void operator()(const char*, p9::NUname& v) { v.value = 1000 + ++n; }
    void operator()(const char*, p9::OptU32& v) { v.value = 7 + ++n; }
    void operator()(const char*, p9::Stat& s) {
        s.type = p9::u16(0x0102 + ++n);
        s.dev = 0x0a0b0c00 + n;
        s.qid = qid();
        s.mode = p9::DMDIR | 0755;
        s.atime = 0x61000000 + n;
        s.mtime = 0x62000000 + n;
        s.length = 0x0000000100000000ull + n;
        s.name = "name" + std::to_string(n);
        s.uid = "uid";
        s.gid = "gidgid";
        s.muid = "m";
    }
    p9::Qid qid() {
        ++n;
        return p9::Qid{p9::u8(0x80 | n), 0x11110000u + n, 0x2222222200000000ull + n};
    }
};

// Bytes a field takes on the wire, computed independently of the encoder.
struct Sizer {
    Dialect d;
    size_t n = 0;
    void operator()(const char*, const p9::u8&) { n += 1; }
    void operator()(const char*, const p9::u16&) { n += 2; }
    void operator()(const char*, const p9::u32&) { n += 4; }
    void operator()(const char*, const p9::u64&) { n += 8; }
    void operator()(const char*, const std::string& s) { n += 2 + s.size(); }
    void operator()(const char*, const p9::Qid&) { n += 13; }
    void operator()(const char*, const p9::Data& x) { n += 4 + x.bytes.size(); }
    void operator()(const char*, const p9::WNames& w) {
        n += 2;
        for (auto& s : w) n += 2 + s.size();
    }
    void operator()(const char*, const p9::WQids& w) { n += 2 + 13 * w.size(); }
    void operator()(const char*, const p9::NUname&) { n += d == Dialect::P2000 ? 0 : 4; }
    void operator()(const char*, const p9::OptU32&) { n += 4; }
    void operator()(const char*, const p9::Stat& s) {
        // stat[n]: n[2], then size[2] type[2] dev[4] qid[13] mode[4] atime[4]
        // mtime[4] length[8] name[s] uid[s] gid[s] muid[s]   (stat(5))
        n += 2 + 2 + 2 + 4 + 13 + 4 + 4 + 4 + 8 + 8 + s.name.size() + s.uid.size() +
             s.gid.size() + s.muid.size();
    }
};

// What survives a trip through a dialect: 9P2000 has no n_uname.
struct DropNUname {
    void operator()(const char*, p9::NUname& v) { v = p9::NUname{}; }
    template <class T>
    void operator()(const char*, T&) {}
};

struct HasField {
    bool nuname = false, optu32 = false;
    void operator()(const char*, const p9::NUname&) { nuname = true; }
    void operator()(const char*, const p9::OptU32&) { optu32 = true; }
    template <class T>
    void operator()(const char*, const T&) {}
};

template <class M>
M filled() {
    M m;
    Filler f;
    visit_fields(m, f);
    return m;
}

template <class M>
HasField fields_of() {
    M m;
    HasField h;
    visit_fields(m, h);
    return h;
}

std::vector<Dialect> dialects_of(Dialect d) {
    if (d == Dialect::Any) return {Dialect::P2000, Dialect::L};
    return {d};
}

const char* dname(Dialect d) {
    switch (d) {
    case Dialect::L: return "9P2000.L";
    case Dialect::P2000: return "9P2000";
    case Dialect::Duct: return "9P2000.L.duct";
    default: return "Any";
    }
}

// ---- the message list, generated from the table ----
struct First {};
template <class F, class... T>
struct DropFirst {
    using type = ::testing::Types<T...>;
};
#define ROW_TYPE(Name, num, dia) , p9::Name
#define NO_FIELD(ty, f)
#define NO_END()
using AllMessages = DropFirst<First DUCT_9P_TABLE(ROW_TYPE, NO_FIELD, NO_END)>::type;

struct MessageName {
    template <class T>
    static std::string GetName(int) { return T::kName; }
};

// One valid frame of every message in every dialect it belongs to: the
// corpus for the truncation and fuzz tests.
struct Sample {
    const char* name;
    Dialect d;
    bool optu32;
    std::string frame;
};
std::vector<Sample> all_samples() {
    std::vector<Sample> out;
    p9::u16 tag = 1;
#define ROW_SAMPLE(Name, num, dia)                                                   \
    for (Dialect d : dialects_of(Dialect::dia)) {                                    \
        p9::Fcall f{tag++, filled<p9::Name>()};                                      \
        out.push_back({#Name, d, fields_of<p9::Name>().optu32, p9::encode(f, d)});   \
    }
    DUCT_9P_TABLE(ROW_SAMPLE, NO_FIELD, NO_END)
#undef ROW_SAMPLE
    return out;
}

void set_size(std::string& frame) {
    p9::u32 n = p9::u32(frame.size());
    for (int i = 0; i < 4; i++) frame[i] = char(n >> (8 * i));
}

bool same(const p9::Fcall& a, const p9::Fcall& b) { return a.tag == b.tag && a.msg == b.msg; }

}  // namespace

// ======================= the table itself =======================

TEST(ProtoTable, NumbersUniqueParityAndNames) {
    std::set<int> seen;
    int rows = 0;
#define ROW_CHECK(Name, num, dia)                                                         \
    {                                                                                     \
        rows++;                                                                           \
        EXPECT_TRUE(seen.insert(num).second) << #Name << " reuses type " << num;          \
        std::string n = #Name;                                                            \
        /* design.md: even = T (to the export), odd = R (to the mount) */               \
        EXPECT_EQ(n[0] == 'T', num % 2 == 0) << n;                                        \
        EXPECT_TRUE(n[0] == 'T' || n[0] == 'R') << n;                                     \
        EXPECT_STREQ(p9::type_name(num), #Name);                                          \
        EXPECT_TRUE(p9::known_type(num));                                                 \
        EXPECT_EQ(p9::Name::kType, num);                                                  \
        p9::Fcall f{1, p9::Name{}};                                                       \
        EXPECT_EQ(f.type(), num);                                                         \
    }
    DUCT_9P_TABLE(ROW_CHECK, NO_FIELD, NO_END)
#undef ROW_CHECK
    // Every T has its R right after it, except that errors have no T.
    for (int t : seen)
        if (t % 2 == 0) {
            EXPECT_TRUE(seen.count(t + 1)) << "no reply for type " << t;
        }
    for (int r : seen)
        if (r % 2 == 1 && r != 7 && r != 107) {
            EXPECT_TRUE(seen.count(r - 1)) << "no request for type " << r;
        }
    // issue 2 asks for every 9P2000 and 9P2000.L message; the duct extension
    // adds 4 pairs
    EXPECT_EQ(rows, 76);  // 39 of 9P2000.L (7..77) + 10 of duct (80..89) + 27 of 9P2000 (100..127)
    for (int t : {100, 102, 104, 108, 110, 112, 114, 116, 118, 120, 122, 124, 126, 8, 12, 14, 16, 18,
                  20, 22, 24, 26, 30, 32, 40, 50, 52, 54, 70, 72, 74, 76})
        EXPECT_TRUE(p9::known_type(p9::u8(t))) << t;
    EXPECT_TRUE(p9::known_type(7));
    EXPECT_TRUE(p9::known_type(107));
    // The extension keeps to the gap no other dialect uses (table.h): not
    // 9P2000.L's 6..77, not 9P2000/9P2000.u's 100..127.
#define ROW_EXT(Name, num, dia)                                                     \
    if (p9::Dialect::dia == p9::Dialect::Duct) {                                   \
        EXPECT_GE(num, 80) << #Name;                                                \
        EXPECT_LE(num, 99) << #Name;                                                \
    } else {                                                                        \
        EXPECT_TRUE(num < 80 || num >= 100) << #Name;                               \
    }
    DUCT_9P_TABLE(ROW_EXT, NO_FIELD, NO_END)
#undef ROW_EXT
    for (int t : {80, 81, 82, 83, 84, 85}) EXPECT_TRUE(p9::known_type(p9::u8(t))) << t;
    EXPECT_FALSE(p9::known_type(0));    // the control frame is not a message
    EXPECT_FALSE(p9::known_type(106));  // Terror does not exist
    EXPECT_EQ(p9::type_name(106), nullptr);
}

// ======================= round trip of every message =======================

template <class M>
class RoundTrip : public ::testing::Test {};
TYPED_TEST_SUITE(RoundTrip, AllMessages, MessageName);

TYPED_TEST(RoundTrip, EncodeDecodeEveryDialect) {
    using M = TypeParam;
    const M m = filled<M>();
    const HasField has = fields_of<M>();
    std::string prev;
    for (Dialect d : dialects_of(M::kDialect)) {
        SCOPED_TRACE(dname(d));
        p9::Fcall f{0x1234, m};
        std::string b = p9::encode(f, d);

        Sizer sz{d};
        visit_fields(m, sz);
        ASSERT_EQ(b.size(), p9::HEADER + sz.n) << tohex(b);
        EXPECT_EQ(p9::frame_size(b), b.size());
        EXPECT_EQ(p9::frame_type(b), M::kType);
        EXPECT_EQ(p9::frame_tag(b), 0x1234);

        p9::Fcall g;
        ASSERT_EQ(p9::decode(b, d, 0, g), "") << tohex(b);
        ASSERT_TRUE(p9::holds<M>(g));
        EXPECT_EQ(g.tag, 0x1234);
        M want = m;
        if (d == Dialect::P2000) {
            DropNUname drop;
            visit_fields(want, drop);
        }
        EXPECT_TRUE(std::get<M>(g.msg) == want);
        if (d == Dialect::L && has.nuname) {
            EXPECT_TRUE(std::get<M>(g.msg) == m);  // n_uname kept
        }
        EXPECT_EQ(p9::encode(g, d), b);  // stable
        // msize caps the frame: exactly fits, one byte less does not
        EXPECT_EQ(p9::decode(b, d, p9::u32(b.size()), g), "");
        EXPECT_NE(p9::decode(b, d, p9::u32(b.size() - 1), g), "");

        std::string line = p9::format(f);
        EXPECT_EQ(line.rfind(std::string(M::kName) + " tag 4660", 0), 0u) << line;
        EXPECT_EQ(line.find('\n'), std::string::npos) << line;

        if (!prev.empty()) {
            // Tauth/Tattach: n_uname[4] exists only in 9P2000.L
            EXPECT_EQ(b.size(), prev.size() + (has.nuname ? 4 : 0));
        }
        prev = b;
    }
}

TYPED_TEST(RoundTrip, DefaultValues) {
    using M = TypeParam;
    for (Dialect d : dialects_of(M::kDialect)) {
        p9::Fcall f{p9::NOTAG, M{}};
        std::string b = p9::encode(f, d);
        p9::Fcall g;
        ASSERT_EQ(p9::decode(b, d, 0, g), "") << tohex(b);
        EXPECT_TRUE(same(f, g));
    }
}

// ======================= byte vectors =======================

struct Vector {
    const char* what;
    Dialect d;
    p9::Fcall f;
    std::string bytes;
    std::string trace;  // expected format() output, "" = not checked
};

class Vectors : public ::testing::TestWithParam<int> {};

std::vector<Vector> vectors() {
    std::vector<Vector> v;
    // Linux v9fs's first message (net/9p/client.c p9_client_version):
    // Tversion tag NOTAG msize 8192 version "9P2000.L".  size = 4+1+2+4+2+8 = 21
    v.push_back({"Tversion 9P2000.L", Dialect::L, {p9::NOTAG, p9::Tversion{8192, "9P2000.L"}},
                 hex("15 00 00 00 64 ff ff 00 20 00 00 08 00 39 50 32 30 30 30 2e 4c"),
                 "Tversion tag 65535 msize 8192 version 9P2000.L"});
    // Plan 9's: version "9P2000" (6 bytes): size 19 = 0x13
    v.push_back({"Tversion 9P2000", Dialect::P2000, {p9::NOTAG, p9::Tversion{8192, "9P2000"}},
                 hex("13 00 00 00 64 ff ff 00 20 00 00 06 00 39 50 32 30 30 30"), ""});
    v.push_back({"Rversion", Dialect::L, {p9::NOTAG, p9::Rversion{1u << 20, "9P2000.L"}},
                 hex("15 00 00 00 65 ff ff 00 00 10 00 08 00 39 50 32 30 30 30 2e 4c"), ""});
    // walk(5): Twalk tag[2] fid[4] newfid[4] nwname[2] nwname*(wname[s])
    v.push_back({"Twalk", Dialect::L, {1, p9::Twalk{0, 1, {"src"}}},
                 hex("16 00 00 00 6e 01 00 00 00 00 00 01 00 00 00 01 00 03 00 73 72 63"),
                 "Twalk tag 1 fid 0 newfid 1 nwname 1 0:src"});
    v.push_back({"Twalk clone", Dialect::P2000, {2, p9::Twalk{5, 6, {}}},
                 hex("11 00 00 00 6e 02 00 05 00 00 00 06 00 00 00 00 00"),
                 "Twalk tag 2 fid 5 newfid 6 nwname 0"});
    // Rwalk tag[2] nwqid[2] nwqid*(wqid[13]); qid = type[1] vers[4] path[8]
    v.push_back({"Rwalk", Dialect::L, {1, p9::Rwalk{{p9::Qid{p9::QTDIR, 3, 0x42}}}},
                 hex("16 00 00 00 6f 01 00 01 00 80 03 00 00 00 42 00 00 00 00 00 00 00"),
                 "Rwalk tag 1 nwqid 1 0:(0000000000000042 3 d)"});
    // Rlerror tag[2] ecode[4]
    v.push_back({"Rlerror", Dialect::L, {1, p9::Rlerror{ENOENT}},
                 hex("0b 00 00 00 07 01 00 02 00 00 00"), "Rlerror tag 1 ecode 2"});
    // Rerror tag[2] ename[s]
    v.push_back({"Rerror", Dialect::P2000, {3, p9::Rerror{"file does not exist"}},
                 hex("1c 00 00 00 6b 03 00 13 00"
                     "66 69 6c 65 20 64 6f 65 73 20 6e 6f 74 20 65 78 69 73 74"),
                 ""});
    // Tattach tag[2] fid[4] afid[4] uname[s] aname[s] n_uname[4] (9P2000.L)
    v.push_back({"Tattach .L", Dialect::L, {1, p9::Tattach{0, p9::NOFID, "root", "/srv", {0}}},
                 hex("1f 00 00 00 68 01 00 00 00 00 00 ff ff ff ff 04 00 72 6f 6f 74 04 00 2f 73 72 76"
                     " 00 00 00 00"),
                 "Tattach tag 1 fid 0 afid -1 uname root aname /srv n_uname 0"});
    v.push_back({"Tattach 9P2000", Dialect::P2000, {1, p9::Tattach{0, p9::NOFID, "glenda", "", {}}},
                 hex("19 00 00 00 68 01 00 00 00 00 00 ff ff ff ff 06 00 67 6c 65 6e 64 61 00 00"), ""});
    // Tlopen tag[2] fid[4] flags[4]  (O_RDWR|O_LARGEFILE as the kernel sends it)
    v.push_back({"Tlopen", Dialect::L, {4, p9::Tlopen{7, 0x8002}},
                 hex("0f 00 00 00 0c 04 00 07 00 00 00 02 80 00 00"), ""});
    // Rread tag[2] count[4] data[count]
    v.push_back({"Rread", Dialect::L, {5, p9::Rread{{"hi\n"}}},
                 hex("0e 00 00 00 75 05 00 03 00 00 00 68 69 0a"), ""});
    // Rreaddir tag[2] count[4] data[count]; each dirent is
    // qid[13] offset[8] type[1] name[s]   (diod protocol.md, Linux p9dirent "Qqbs")
    {
        std::string ents = hex(
            "80 00 00 00 00 01 00 00 00 00 00 00 00"  // qid dir v0 path 1
            "01 00 00 00 00 00 00 00"                 // offset 1
            "04"                                      // DT_DIR
            "01 00 2e"                                // "."
            "00 05 00 00 00 34 12 00 00 00 00 00 00"  // qid file v5 path 0x1234
            "02 00 00 00 00 00 00 00"                 // offset 2
            "08"                                      // DT_REG
            "02 00 61 62");                           // "ab"
        v.push_back({"Rreaddir", Dialect::L, {1, p9::Rreaddir{{ents}}},
                     hex("3e 00 00 00 29 01 00 33 00 00 00") + ents, ""});
    }
    // Rstat tag[2] stat[n]: n[2] then the record, which has its own size[2]
    // counting the bytes after itself (stat(5); Linux reads "wS").
    {
        p9::Stat s;
        s.type = 0x4d;
        s.dev = 1;
        s.qid = p9::Qid{p9::QTFILE, 2, 3};
        s.mode = 0644;
        s.atime = 100000000;
        s.mtime = 100000001;
        s.length = 13;
        s.name = "f";
        s.uid = "u";
        s.gid = "g";
        s.muid = "m";
        v.push_back({"Rstat", Dialect::P2000, {1, p9::Rstat{s}},
                     hex("3e 00 00 00 7d 01 00"
                         "35 00"                                    // n = 53
                         "33 00"                                    // size = 51
                         "4d 00 01 00 00 00"                        // type dev
                         "00 02 00 00 00 03 00 00 00 00 00 00 00"   // qid
                         "a4 01 00 00"                              // mode 0644
                         "00 e1 f5 05 01 e1 f5 05"                  // atime mtime
                         "0d 00 00 00 00 00 00 00"                  // length 13
                         "01 00 66 01 00 75 01 00 67 01 00 6d"),    // f u g m
                     ""});
    }
    // Tclunk: the smallest message with a field
    v.push_back({"Tclunk", Dialect::L, {9, p9::Tclunk{0x01020304}}, hex("0b 00 00 00 78 09 00 04 03 02 01"),
                 "Tclunk tag 9 fid 16909060"});
    // Rclunk: header only
    v.push_back({"Rclunk", Dialect::L, {9, p9::Rclunk{}}, hex("07 00 00 00 79 09 00"), "Rclunk tag 9"});

    // ---- the duct extension (table.h's header comment is the spec) ----
    // Tversion "9P2000.L.duct.1" (15 bytes): size 7+4+2+15 = 28
    v.push_back({"Tversion duct", Dialect::L, {p9::NOTAG, p9::Tversion{8192, "9P2000.L.duct.1"}},
                 hex("1c 00 00 00 64 ff ff 00 20 00 00 0f 00"
                     "39 50 32 30 30 30 2e 4c 2e 64 75 63 74 2e 31"),
                 "Tversion tag 65535 msize 8192 version 9P2000.L.duct.1"});
    // Tfallocate tag[2] fid[4] mode[4] offset[8] length[8]: punch a hole
    // (FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE = 3) of 8 KiB at 4 KiB
    v.push_back({"Tfallocate", Dialect::Duct, {1, p9::Tfallocate{3, 3, 4096, 8192}},
                 hex("1f 00 00 00 50 01 00 03 00 00 00 03 00 00 00"
                     "00 10 00 00 00 00 00 00 00 20 00 00 00 00 00 00"),
                 "Tfallocate tag 1 fid 3 mode 03 offset 4096 length 8192"});
    v.push_back({"Rfallocate", Dialect::Duct, {1, p9::Rfallocate{}}, hex("07 00 00 00 51 01 00"),
                 "Rfallocate tag 1"});
    // Tlseek tag[2] fid[4] offset[8] whence[1]: SEEK_DATA (3) from 5 GiB
    v.push_back({"Tlseek", Dialect::Duct, {2, p9::Tlseek{3, 5ull << 30, 3}},
                 hex("14 00 00 00 52 02 00 03 00 00 00 00 00 00 40 01 00 00 00 03"),
                 "Tlseek tag 2 fid 3 offset 5368709120 whence 3"});
    // Rlseek tag[2] offset[8]
    v.push_back({"Rlseek", Dialect::Duct, {2, p9::Rlseek{1u << 20}},
                 hex("0f 00 00 00 53 02 00 00 00 10 00 00 00 00 00"), "Rlseek tag 2 offset 1048576"});
    // Trenameat2 tag[2] olddirfid[4] oldname[s] newdirfid[4] newname[s]
    // flags[4]: RENAME_EXCHANGE (2) of a and b
    v.push_back({"Trenameat2", Dialect::Duct, {3, p9::Trenameat2{1, "a", 2, "b", 2}},
                 hex("19 00 00 00 54 03 00 01 00 00 00 01 00 61 02 00 00 00 01 00 62 02 00 00 00"),
                 "Trenameat2 tag 3 olddirfid 1 oldname a newdirfid 2 newname b flags 02"});
    v.push_back({"Rrenameat2", Dialect::Duct, {3, p9::Rrenameat2{}}, hex("07 00 00 00 55 03 00"),
                 "Rrenameat2 tag 3"});
    // Twalkattr tag[2] fid[4] newfid[4] nwname[2] wname[s]: Twalk's layout
    v.push_back({"Twalkattr", Dialect::Duct, {5, p9::Twalkattr{1, 2, {"ab"}}},
                 hex("15 00 00 00 56 05 00 01 00 00 00 02 00 00 00 01 00 02 00 61 62"),
                 "Twalkattr tag 5 fid 1 newfid 2 nwname 1 0:ab"});
    // Rwalkattr of a partial walk: no qids and every attribute field zero,
    // 7 + nwqid[2] + xnone[4] + valid[8] + qid[13] + 3*4 + 15*8 = 166 bytes
    v.push_back({"Rwalkattr partial", Dialect::Duct, {5, p9::Rwalkattr{}},
                 hex("a6 00 00 00 57 05 00") + std::string(159, '\0'),
                 "Rwalkattr tag 5 nwqid 0 xnone 0 valid 0 qid (0000000000000000 0 ) mode 00 uid 0 "
                 "gid 0 nlink 0 rdev 0 size 0 blksize 0 blocks 0 atime_sec 0 atime_nsec 0 "
                 "mtime_sec 0 mtime_nsec 0 ctime_sec 0 ctime_nsec 0 btime_sec 0 btime_nsec 0 gen 0 "
                 "data_version 0"});
    {
        // A complete one: one qid, xnone = all four, the attributes after it.
        p9::Rwalkattr r;
        r.wqid = {p9::Qid{p9::QTFILE, 0, 7}};
        r.xnone = p9::XNONE_SELINUX | p9::XNONE_ACL_ACCESS | p9::XNONE_ACL_DEFAULT | p9::XNONE_CAPABILITY;
        r.valid = p9::GETATTR_BASIC;
        r.qid = r.wqid[0];
        r.mode = 0100644;
        r.size = 3;
        std::string b = hex("b3 00 00 00 57 06 00 01 00 00 00 00 00 00 07 00 00 00 00 00 00 00"
                            "0f 00 00 00 ff 07 00 00 00 00 00 00"
                            "00 00 00 00 00 07 00 00 00 00 00 00 00 a4 81 00 00");
        b += std::string(4 + 4 + 8 + 8, '\0') + hex("03 00 00 00 00 00 00 00") + std::string(12 * 8, '\0');
        v.push_back({"Rwalkattr", Dialect::Duct, {6, r}, b, ""});
    }
    // flock as our mount sends it: Tlock tag[2] fid[4] type[1] flags[4]
    // start[8] length[8] proc_id[4] client_id[s]; LOCK_EX|LOCK_NB is
    // WRLCK with LOCK_FLAGS_FLOCK (0x100) and no LOCK_FLAGS_BLOCK
    v.push_back({"Tlock flock", Dialect::Duct,
                 {4, p9::Tlock{3, p9::LOCK_TYPE_WRLCK, p9::LOCK_FLAGS_FLOCK, 0, 0, 0, "duct"}},
                 hex("2a 00 00 00 34 04 00 03 00 00 00 01 00 01 00 00"
                     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                     "00 00 00 00 04 00 64 75 63 74"),
                 "Tlock tag 4 fid 3 type 1 flags 0400 start 0 length 0 proc_id 0 client_id duct"});
    return v;
}

TEST_P(Vectors, EncodeAndDecode) {
    const Vector v = vectors()[GetParam()];
    SCOPED_TRACE(v.what);
    EXPECT_EQ(tohex(p9::encode(v.f, v.d)), tohex(v.bytes));
    p9::Fcall g;
    ASSERT_EQ(p9::decode(v.bytes, v.d, 8192, g), "");
    EXPECT_TRUE(same(g, v.f)) << p9::format(g) << "\n vs " << p9::format(v.f);
    if (!v.trace.empty()) {
        EXPECT_EQ(p9::format(g), v.trace);
    }
}
INSTANTIATE_TEST_SUITE_P(Spec, Vectors, ::testing::Range(0, int(vectors().size())),
                         [](const ::testing::TestParamInfo<int>& i) {
                             std::string n = vectors()[i.param].what;
                             for (char& c : n)
                                 if (!isalnum((unsigned char)c)) c = '_';
                             return n;
                         });

TEST(ProtoVectors, ReaddirEntriesParse) {
    // the two entries of the Rreaddir vector, through parse_dirent
    std::string ents = hex(
        "80 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 04 01 00 2e"
        "00 05 00 00 00 34 12 00 00 00 00 00 00 02 00 00 00 00 00 00 00 08 02 00 61 62");
    size_t pos = 0;
    p9::Dirent a, b;
    ASSERT_TRUE(p9::parse_dirent(ents, pos, a));
    ASSERT_TRUE(p9::parse_dirent(ents, pos, b));
    EXPECT_EQ(pos, ents.size());
    EXPECT_EQ(a, (p9::Dirent{p9::Qid{p9::QTDIR, 0, 1}, 1, 4, "."}));
    EXPECT_EQ(b, (p9::Dirent{p9::Qid{p9::QTFILE, 5, 0x1234}, 2, 8, "ab"}));
    EXPECT_EQ(p9::dirent_size(a), 25u);
    std::string again;
    p9::append_dirent(again, a);
    p9::append_dirent(again, b);
    EXPECT_EQ(again, ents);
    // every truncation of a dirent is refused and leaves pos alone
    for (size_t n = 0; n < 25; n++) {
        size_t p = 0;
        p9::Dirent e;
        EXPECT_FALSE(p9::parse_dirent(std::string_view(ents).substr(0, n), p, e)) << n;
        EXPECT_EQ(p, 0u);
    }
}

TEST(ProtoVectors, StatRecord) {
    p9::Stat s = filled<p9::Rstat>().stat;
    std::string rec;
    p9::append_stat(rec, s);
    EXPECT_EQ(rec.size(), p9::stat_size(s));
    EXPECT_EQ(size_t(p9::u8(rec[0]) | p9::u8(rec[1]) << 8), rec.size() - 2);
    size_t pos = 0;
    p9::Stat t;
    ASSERT_TRUE(p9::parse_stat(rec, pos, t));
    EXPECT_EQ(pos, rec.size());
    EXPECT_EQ(s, t);
    for (size_t n = 0; n < rec.size(); n++) {
        size_t p = 0;
        EXPECT_FALSE(p9::parse_stat(std::string_view(rec).substr(0, n), p, t)) << n;
    }
    // 9P2000.u appends extension[s] n_uid[4] n_gid[4] n_muid[4] inside the
    // record: a reader skips them by the record's size.
    std::string u = rec + hex("00 00 01 00 00 00 02 00 00 00 03 00 00 00");
    p9::u16 sz = p9::u16(u.size() - 2);
    u[0] = char(sz);
    u[1] = char(sz >> 8);
    pos = 0;
    ASSERT_TRUE(p9::parse_stat(u + "zz", pos, t));
    EXPECT_EQ(pos, u.size());
    EXPECT_EQ(s, t);
    // a record that claims less than its fields need is refused
    std::string shortrec = rec;
    shortrec[0] = char(rec.size() - 2 - 1);
    pos = 0;
    EXPECT_FALSE(p9::parse_stat(shortrec, pos, t));
}

// ======================= duct extension version strings =======================

TEST(ProtoVersion, DuctLevel) {
    EXPECT_EQ(p9::duct_version(1), "9P2000.L.duct.1");
    EXPECT_EQ(p9::duct_version(p9::kDuctLevel), std::string(p9::kDuctVersionPrefix) + std::to_string(p9::kDuctLevel));
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.1"), 1u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.12"), 12u);   // a newer duct's offer
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.0"), 0u);     // no such level
    EXPECT_EQ(p9::duct_level("9P2000.L.duct."), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.1x"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.-1"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.99999999999999999999999"), 0u);  // no overflow
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.2147483647"), 2147483647u);
    EXPECT_EQ(p9::duct_level("9P2000.L.duct.2147483648"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000.L.Google.7"), 0u);
    EXPECT_EQ(p9::duct_level("9P2000"), 0u);
    EXPECT_EQ(p9::duct_level(""), 0u);
    EXPECT_STREQ(p9::dialect_name(Dialect::Duct), "9P2000.L.duct");
}

// ======================= malformed frames =======================

TEST(ProtoMalformed, EveryTruncationOfEveryMessage) {
    int checked = 0;
    for (const Sample& s : all_samples()) {
        SCOPED_TRACE(std::string(s.name) + " " + dname(s.d));
        const std::string& full = s.frame;
        for (size_t n = 0; n < full.size(); n++) {
            p9::Fcall g;
            std::string cut = full.substr(0, n);
            // (a) the size field still says the full length
            EXPECT_NE(p9::decode(cut, s.d, 0, g), "") << "prefix " << n;
            // (b) the size field agrees with the cut: the fields run short
            if (n >= 4) {
                set_size(cut);
                std::string err = p9::decode(cut, s.d, 0, g);
                if (s.optu32 && n == full.size() - 4) {
                    EXPECT_EQ(err, "") << "a trailing optional u32 may be omitted";
                } else {
                    EXPECT_NE(err, "") << "prefix " << n << ": " << tohex(cut);
                }
            }
            checked++;
        }
    }
    EXPECT_GT(checked, 1000);
}

TEST(ProtoMalformed, TrailingBytesAndWrongSize) {
    for (const Sample& s : all_samples()) {
        SCOPED_TRACE(std::string(s.name) + " " + dname(s.d));
        p9::Fcall g;
        ASSERT_EQ(p9::decode(s.frame, s.d, 0, g), "");
        std::string longer = s.frame + "x";
        EXPECT_NE(p9::decode(longer, s.d, 0, g), "") << "size field one short";
        set_size(longer);
        std::string err = p9::decode(longer, s.d, 0, g);
        EXPECT_NE(err, "") << "one trailing byte";
        for (p9::u32 bad : {p9::u32(s.frame.size() + 1), p9::u32(s.frame.size() - 1), 0u, 5u, 7u,
                            0x7fffffffu, 0xffffffffu}) {
            std::string f = s.frame;
            for (int i = 0; i < 4; i++) f[i] = char(bad >> (8 * i));
            if (bad == s.frame.size()) continue;
            EXPECT_NE(p9::decode(f, s.d, 0, g), "") << "size " << bad;
        }
    }
}

TEST(ProtoMalformed, UnknownTypesAndShortHeaders) {
    for (int t = 0; t < 256; t++) {
        if (p9::known_type(p9::u8(t))) continue;
        std::string f = hex("07 00 00 00 00 01 00");
        f[4] = char(t);
        p9::Fcall g;
        std::string err = p9::decode(f, Dialect::L, 0, g);
        EXPECT_NE(err, "") << t;
        EXPECT_NE(err.find("unknown"), std::string::npos) << err;
    }
    p9::Fcall g;
    EXPECT_NE(p9::decode(hex("05 00 00 00 00"), Dialect::L, 0, g), "");  // the control frame
    EXPECT_NE(p9::decode("", Dialect::L, 0, g), "");
    EXPECT_NE(p9::decode(hex("07 00 00"), Dialect::L, 0, g), "");
}

TEST(ProtoMalformed, WalkElementLimit) {
    p9::WNames names16(16, "x"), names17(17, "x");
    p9::Fcall g;
    std::string ok = p9::encode({1, p9::Twalk{1, 2, names16}}, Dialect::L);
    EXPECT_EQ(p9::decode(ok, Dialect::L, 0, g), "");
    std::string bad = p9::encode({1, p9::Twalk{1, 2, names17}}, Dialect::L);
    std::string err = p9::decode(bad, Dialect::L, 0, g);
    EXPECT_NE(err, "");
    EXPECT_NE(err.find("16"), std::string::npos) << err;
    p9::WQids q17(17);
    EXPECT_NE(p9::decode(p9::encode({1, p9::Rwalk{q17}}, Dialect::L), Dialect::L, 0, g), "");
    // nwname 0xffff with nothing after it
    EXPECT_NE(p9::decode(hex("11 00 00 00 6e 01 00 00 00 00 00 01 00 00 00 ff ff"), Dialect::L, 0, g), "");
}

TEST(ProtoMalformed, LengthsPastTheEnd) {
    p9::Fcall g;
    // Twalk whose wname claims 0xffff bytes but has 3
    EXPECT_NE(p9::decode(hex("16 00 00 00 6e 01 00 00 00 00 00 01 00 00 00 01 00 ff ff 73 72 63"),
                         Dialect::L, 0, g),
              "");
    // Twalk whose wname claims 2 of its 3 bytes: one trailing byte
    EXPECT_NE(p9::decode(hex("16 00 00 00 6e 01 00 00 00 00 00 01 00 00 00 01 00 02 00 73 72 63"),
                         Dialect::L, 0, g),
              "");
    // Rread with count 0xffffffff and 3 bytes: refused without allocating 4 GiB
    EXPECT_NE(p9::decode(hex("0e 00 00 00 75 05 00 ff ff ff ff 68 69 0a"), Dialect::L, 0, g), "");
    // Twrite count one more than there is
    EXPECT_NE(p9::decode(hex("18 00 00 00 76 01 00 01 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 61"),
                         Dialect::L, 0, g),
              "");
    // Rstat whose n[2] disagrees with the record's own size[2]
    p9::Fcall st{1, p9::Rstat{filled<p9::Rstat>().stat}};
    std::string f = p9::encode(st, Dialect::P2000);
    f[7] = char(p9::u8(f[7]) - 1);
    EXPECT_NE(p9::decode(f, Dialect::P2000, 0, g), "");
    // a frame above msize is refused before its fields are read
    std::string big = p9::encode({1, p9::Rread{{std::string(9000, 'z')}}}, Dialect::L);
    EXPECT_NE(p9::decode(big, Dialect::L, 8192, g), "");
    EXPECT_EQ(p9::decode(big, Dialect::L, 0, g), "");
}

// A fixed-seed fuzz loop: mutate valid frames (keeping the size field right
// half of the time so the field decoders are reached). The decoder must
// never crash; whatever it accepts must re-encode and decode to itself.
TEST(ProtoFuzz, MutatedFramesNeverCrash) {
    std::vector<Sample> corpus = all_samples();
    std::mt19937 rng(0x9b2000);
    int accepted = 0, refused = 0;
    for (int iter = 0; iter < 60000; iter++) {
        const Sample& s = corpus[rng() % corpus.size()];
        std::string f = s.frame;
        int k = 1 + int(rng() % 4);
        for (int i = 0; i < k; i++) {
            switch (rng() % 4) {
            case 0: f[rng() % f.size()] = char(rng()); break;
            case 1: f[rng() % f.size()] ^= char(1 << (rng() % 8)); break;
            case 2: f.resize(rng() % (f.size() + 1)); if (f.empty()) f = "\x07"; break;
            case 3: f.append(rng() % 8, char(rng())); break;
            }
        }
        if (rng() % 2 && f.size() >= 4) set_size(f);
        Dialect d = rng() % 2 ? Dialect::L : Dialect::P2000;
        p9::u32 msize = rng() % 2 ? 0 : 8192;
        p9::Fcall g;
        std::string err = p9::decode(f, d, msize, g);
        if (!err.empty()) {
            refused++;
            continue;
        }
        accepted++;
        (void)p9::format(g);
        std::string again = p9::encode(g, d);
        p9::Fcall h;
        ASSERT_EQ(p9::decode(again, d, 0, h), "") << tohex(f);
        ASSERT_TRUE(same(g, h)) << tohex(f);
    }
    EXPECT_GT(accepted, 100);
    EXPECT_GT(refused, 1000);

    // and pure garbage behind a valid header
    for (int iter = 0; iter < 20000; iter++) {
        std::string f(7 + rng() % 80, '\0');
        for (char& c : f) c = char(rng());
        set_size(f);
        p9::Fcall g;
        (void)p9::decode(f, iter % 2 ? Dialect::L : Dialect::P2000, 0, g);
    }
}

// ======================= tracer =======================

TEST(ProtoTrace, Plan9Notation) {
    EXPECT_EQ(p9::format({1, p9::Twalk{0, 1, {"src"}}}), "Twalk tag 1 fid 0 newfid 1 nwname 1 0:src");
    EXPECT_EQ(p9::format({1, p9::Twalk{0, 1, {"a", "b"}}}),
              "Twalk tag 1 fid 0 newfid 1 nwname 2 0:a 1:b");
    EXPECT_EQ(p9::format({p9::NOTAG, p9::Tversion{8192, "9P2000.L"}}),
              "Tversion tag 65535 msize 8192 version 9P2000.L");
    EXPECT_EQ(p9::format({3, p9::Tclunk{4}}), "Tclunk tag 3 fid 4");
    EXPECT_EQ(p9::format({3, p9::Rlerror{2}}), "Rlerror tag 3 ecode 2");
    EXPECT_EQ(p9::format({3, p9::Rerror{"file does not exist"}}), "Rerror tag 3 ename 'file does not exist'");
    EXPECT_EQ(p9::format({3, p9::Tflush{2}}), "Tflush tag 3 oldtag 2");
    EXPECT_EQ(p9::format({3, p9::Tread{1, 0, 8192}}), "Tread tag 3 fid 1 offset 0 count 8192");
    EXPECT_EQ(p9::format({3, p9::Rread{{"hi\n"}}}), "Rread tag 3 count 3 'hi\\n'");
    EXPECT_EQ(p9::format({3, p9::Rattach{p9::Qid{p9::QTDIR, 0, 1}}}),
              "Rattach tag 3 qid (0000000000000001 0 d)");
    EXPECT_EQ(p9::format_qid(p9::Qid{p9::QTSYMLINK, 7, 0xabc}), "(0000000000000abc 7 L)");
    // names with spaces are quoted so a trace line still splits on blanks
    EXPECT_EQ(p9::format({1, p9::Twalk{0, 1, {"a b"}}}), "Twalk tag 1 fid 0 newfid 1 nwname 1 0:'a b'");
    EXPECT_EQ(p9::format({}), "(no message)");
    // binary data is dumped in hex, long data is cut
    std::string line = p9::format({3, p9::Rread{{std::string(1000, '\x01')}}});
    EXPECT_EQ(line.rfind("Rread tag 3 count 1000 0101", 0), 0u) << line;
    EXPECT_LT(line.size(), 200u);
    EXPECT_EQ(line.substr(line.size() - 3), "...");
}

TEST(ProtoTrace, StatIsPrintedWhole) {
    // the largest numbers a stat record can hold still give a complete line
    p9::Stat s;
    s.type = 0xffff;
    s.dev = 0xffffffff;
    s.qid = p9::Qid{0xff, 0xffffffff, ~0ull};
    s.mode = 0xffffffff;
    s.atime = s.mtime = 0xffffffff;
    s.length = ~0ull;
    s.name = "n";
    s.uid = s.gid = s.muid = "u";
    std::string line = p9::format({1, p9::Rstat{s}});
    EXPECT_EQ(line.back(), ')') << line;
    EXPECT_NE(line.find("l 18446744073709551615"), std::string::npos) << line;
    EXPECT_NE(line.find("d 4294967295)"), std::string::npos) << line;
}

// ======================= errors table =======================

TEST(ProtoErrors, Plan9Strings) {
    EXPECT_EQ(p9::errstr_of(ENOENT), "file does not exist");
    EXPECT_EQ(p9::errstr_of(EEXIST), "file already exists");
    EXPECT_EQ(p9::errstr_of(EACCES), "permission denied");
    EXPECT_EQ(p9::errstr_of(ENOTEMPTY), "directory not empty");
    EXPECT_EQ(p9::errno_of("file does not exist"), ENOENT);
    EXPECT_EQ(p9::errno_of("'/x/y' file does not exist"), ENOENT);  // Plan 9 decorates
    EXPECT_EQ(p9::errno_of("No such file or directory"), ENOENT);    // u9fs uses strerror
    EXPECT_EQ(p9::errno_of("file not found"), ENOENT);
    EXPECT_EQ(p9::errno_of("unknown fid"), EBADF);
    EXPECT_EQ(p9::errno_of("no idea what happened"), EIO);
    EXPECT_EQ(p9::errno_of(""), EIO);
}

TEST(ProtoErrors, RoundTripEveryErrno) {
    for (int e = 1; e < 134; e++) {
        std::string s = p9::errstr_of(e);
        EXPECT_FALSE(s.empty()) << e;
        int back = p9::errno_of(s);
        if (e == EPERM) {
            EXPECT_EQ(back, EACCES);  // 9P2000 has one word for both
        } else {
            EXPECT_EQ(back, e) << e << " -> '" << s << "' -> " << back;
        }
    }
}
