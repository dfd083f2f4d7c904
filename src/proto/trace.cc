// Tracer: field printers overloaded by field type, driven by visit_fields().
#include "proto/trace.h"

#include <cinttypes>
#include <cstdio>

#include "proto/codec.h"

namespace duct::p9 {

namespace {

std::string quote(const std::string& s) {
    bool plain = !s.empty();
    for (unsigned char c : s)
        if (c <= ' ' || c == '\'' || c >= 0x7f) plain = false;
    if (plain) return s;
    std::string q = "'";
    for (unsigned char c : s) {
        if (c == '\'') q += "''";
        else if (c < ' ' || c == 0x7f) {
            char b[8];
            snprintf(b, sizeof b, "\\x%02x", c);
            q += b;
        } else q += char(c);
    }
    return q + "'";
}

// Like Plan 9's dumpsome(): printable data as text, otherwise hex, capped.
std::string dump(const std::string& d) {
    constexpr size_t kMax = 64;
    size_t n = d.size() < kMax ? d.size() : kMax;
    bool printable = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = d[i];
        if ((c < ' ' && c != '\n' && c != '\t') || c >= 0x7f) printable = false;
    }
    std::string out;
    if (printable) {
        out = "'";
        for (size_t i = 0; i < n; i++) {
            if (d[i] == '\n') out += "\\n";
            else if (d[i] == '\t') out += "\\t";
            else out += d[i];
        }
        out += "'";
    } else {
        char b[4];
        for (size_t i = 0; i < n; i++) {
            snprintf(b, sizeof b, "%02x", (unsigned char)d[i]);
            out += b;
        }
    }
    if (n < d.size()) out += "...";
    return out;
}

std::string qid_type(u8 t) {
    std::string s;
    if (t & QTDIR) s += 'd';
    if (t & QTAPPEND) s += 'a';
    if (t & QTEXCL) s += 'l';
    if (t & QTAUTH) s += 'A';
    if (t & QTTMP) s += 't';
    if (t & QTSYMLINK) s += 'L';
    return s;
}

struct Printer {
    std::string& out;
    void field(const char* name, const std::string& v) { out += ' '; out += name; out += ' '; out += v; }
    void operator()(const char* n, u8 v) { field(n, std::to_string(v)); }
    void operator()(const char* n, u16 v) { field(n, std::to_string(v)); }
    void operator()(const char* n, u32 v) {
        // fids and modes read better in their usual forms
        std::string name = n;
        if (v == NOFID && (name.find("fid") != std::string::npos)) field(n, "-1");
        else if (name == "mode" || name == "perm" || name == "flags") {
            char b[16];
            snprintf(b, sizeof b, "0%o", v);
            field(n, b);
        } else field(n, std::to_string(v));
    }
    void operator()(const char* n, u64 v) { field(n, std::to_string(v)); }
    void operator()(const char* n, const std::string& v) { field(n, quote(v)); }
    void operator()(const char* n, const Qid& q) { field(n, format_qid(q)); }
    void operator()(const char*, const Data& d) {
        field("count", std::to_string(d.bytes.size()));
        out += ' ';
        out += dump(d.bytes);
    }
    void operator()(const char*, const WNames& w) {
        field("nwname", std::to_string(w.size()));
        for (size_t i = 0; i < w.size(); i++) out += " " + std::to_string(i) + ":" + quote(w[i]);
    }
    void operator()(const char*, const WQids& w) {
        field("nwqid", std::to_string(w.size()));
        for (size_t i = 0; i < w.size(); i++) out += " " + std::to_string(i) + ":" + format_qid(w[i]);
    }
    void operator()(const char* n, const NUname& v) { field(n, v.value == NONUNAME ? "-1" : std::to_string(v.value)); }
    void operator()(const char* n, const OptU32& v) { field(n, std::to_string(v.value)); }
    void operator()(const char*, const Stat& s) {
        // Sized for the largest values every field can hold (~150 chars):
        // a smaller buffer cut the line short mid-number.
        char b[256];
        snprintf(b, sizeof b, "' q %s m %#o at %u mt %u l %" PRIu64 " t %u d %u)", format_qid(s.qid).c_str(),
                 s.mode, s.atime, s.mtime, s.length, s.type, s.dev);
        out += " stat('" + s.name + "' '" + s.uid + "' '" + s.gid + "' '" + s.muid + b;
    }
};

}  // namespace

std::string format_qid(const Qid& q) {
    char b[64];
    snprintf(b, sizeof b, "(%016" PRIx64 " %u %s)", q.path, q.version, qid_type(q.type).c_str());
    return b;
}

std::string format(const Fcall& f) {
    std::string out;
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, std::monostate>) {
                out = "(no message)";
            } else {
                out = M::kName;
                out += " tag " + std::to_string(f.tag);
                Printer p{out};
                visit_fields(m, p);
            }
        },
        f.msg);
    return out;
}

}  // namespace duct::p9
