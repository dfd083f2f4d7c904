// Shared by the libFuzzer targets (tests/fuzz/*_fuzz.cc) and the seed
// generator (make_seeds.cc): messages by type number and filled from bytes,
// both driven by table.h, so a row added there is fuzzed and seeded with no
// edit here; and the little reader every target parses its input with.
// Single-threaded helpers; each target owns its own instances.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "proto/codec.h"
#include "proto/messages.h"

namespace duct::fuzz {

namespace p9 = duct::p9;

// A bug the harness itself detects (a broken contract, a hang, an escape):
// say what, then abort so libFuzzer records the input as a crash.
[[noreturn]] inline void die(const std::string& what) {
    fprintf(stderr, "FUZZ CONTRACT BROKEN: %s\n", what.c_str());
    fflush(stderr);
    abort();
}

// Consumes a fuzz input front to back; past its end every read is 0/empty.
struct Input {
    const uint8_t* p;
    size_t n;
    bool empty() const { return n == 0; }
    uint8_t u8() {
        if (!n) return 0;
        n--;
        return *p++;
    }
    uint16_t u16() { return uint16_t(u8() | u8() << 8); }
    uint32_t u32() { return uint32_t(u16()) | uint32_t(u16()) << 16; }
    uint64_t u64() { return uint64_t(u32()) | uint64_t(u32()) << 32; }
    std::string take(size_t k) {
        if (k > n) k = n;
        std::string s(reinterpret_cast<const char*>(p), k);
        p += k;
        n -= k;
        return s;
    }
};

// ---- messages by number, from the table ----

template <size_t I>
void emplace_if(uint8_t type, p9::Message& out, bool& ok) {
    using T = std::variant_alternative_t<I, p9::Message>;
    if constexpr (!std::is_same_v<T, std::monostate>) {
        if (!ok && T::kType == type) {
            out.template emplace<I>();
            ok = true;
        }
    }
}
template <size_t... I>
bool make_message_impl(uint8_t type, p9::Message& out, std::index_sequence<I...>) {
    bool ok = false;
    (emplace_if<I>(type, out, ok), ...);
    return ok;
}
// A default-valued message of table row `type`; false if the table has none.
inline bool make_message(uint8_t type, p9::Message& out) {
    return make_message_impl(type, out, std::make_index_sequence<std::variant_size_v<p9::Message>>{});
}

// Every type number the table holds, ascending; and just the requests.
inline std::vector<uint8_t> table_types() {
    std::vector<uint8_t> v;
    for (int t = 0; t < 256; t++)
        if (p9::known_type(uint8_t(t))) v.push_back(uint8_t(t));
    return v;
}
inline std::vector<uint8_t> request_types() {
    std::vector<uint8_t> v;
    for (uint8_t t : table_types())
        if (t % 2 == 0) v.push_back(t);
    return v;
}

// Fills every field of a message from the input (the fuzzer picks the
// values; fids are kept small so they name fids that exist). Strings and
// lists are short: their length is one input byte.
struct FillFrom {
    Input& in;
    uint32_t fid_range = 8;  // fids (and afid/newfid/...) in [0, fid_range)

    static bool is_fid(std::string_view f) {
        return f == "fid" || f == "newfid" || f == "afid" || f == "dfid" || f == "dirfid" ||
               f == "olddirfid" || f == "newdirfid";
    }
    void get(const char* f, uint8_t& v) { v = in.u8(); }
    void get(const char* f, uint16_t& v) { v = in.u16(); }
    void get(const char* f, uint32_t& v) {
        if (is_fid(f)) {
            uint8_t b = in.u8();
            v = b == 0xFF ? p9::NOFID : b % fid_range;
        } else {
            v = in.u32();
        }
    }
    void get(const char* f, uint64_t& v) { v = in.u64(); }
    void get(const char* f, std::string& s) { s = in.take(in.u8() % 64); }
    void get(const char* f, p9::Qid& q) { q = {in.u8(), in.u32(), in.u64()}; }
    void get(const char* f, p9::Data& d) { d.bytes = in.take(in.u16() % 4096); }
    void get(const char* f, p9::WNames& w) {
        w.resize(in.u8() % (p9::MAXWELEM + 1));
        for (auto& s : w) get(f, s);
    }
    void get(const char* f, p9::WQids& w) {
        w.resize(in.u8() % (p9::MAXWELEM + 1));
        for (auto& q : w) get(f, q);
    }
    void get(const char* f, p9::NUname& n) { n.value = in.u8() < 128 ? 0 : in.u32(); }
    void get(const char* f, p9::OptU32& o) { o.value = in.u32(); }
    void get(const char* f, p9::Stat& s) {
        s = {in.u16(), in.u32(), {}, in.u32(), in.u32(), in.u32(), in.u64(), {}, {}, {}, {}};
        get(f, s.qid);
        get(f, s.name);
        get(f, s.uid);
        get(f, s.gid);
        get(f, s.muid);
    }
    template <class T>
    void operator()(const char* f, T& v) { get(f, v); }
};

inline void fill_message(p9::Message& m, Input& in, uint32_t fid_range = 8) {
    FillFrom ff{in, fid_range};
    std::visit(
        [&](auto& x) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) visit_fields(x, ff);
        },
        m);
}

// The dialect a fuzz input selects with one byte.
inline p9::Dialect dialect_of(uint8_t b) {
    switch (b % 3) {
    case 0: return p9::Dialect::P2000;
    case 1: return p9::Dialect::L;
    default: return p9::Dialect::Duct;
    }
}

// The export and client targets read frames as records: len[2] then len
// bytes of type[1] tag[2] fields; the harness prepends size[4] = len + 4
// (the mux, tested on its own, guarantees the export whole frames).
inline std::string next_frame(Input& in) {
    std::string body = in.take(in.u16());
    uint32_t n = uint32_t(body.size() + 4);
    std::string f{char(n), char(n >> 8), char(n >> 16), char(n >> 24)};
    return f + body;
}
// The record for a frame (the inverse of next_frame), for seeds.
inline std::string frame_record(const std::string& frame) {
    std::string body = frame.substr(4);
    std::string r{char(body.size()), char(body.size() >> 8)};
    return r + body;
}

}  // namespace duct::fuzz
