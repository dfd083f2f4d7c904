// make_seeds OUTDIR: writes the seed corpus of every fuzz target to
// OUTDIR/{codec,export,mux,client}/, generated from table.h through the
// codec, so a row added to the table gets seeds with no edit here.
// tests/fuzz/corpus/ is its output, committed; scripts/fuzz.sh runs it again
// into the build dir so the fuzz run always starts from the current table.
//  - codec: each row filled from a fixed byte pattern, in each dialect;
//  - export: sessions a peer mount would have (9P2000.L, the duct
//    extension, plain 9P2000) over the tree export_fuzz.cc builds, and per
//    request row an attach, a walk to a file, an open and then that request
//    filled from the pattern;
//  - mux: streams of every row as frames of both parities, with close frames;
//  - client: per request row a call answered with its R row filled, and
//    calls answered with an error, a wrong tag, a timeout, a Tversion.
// Single-threaded, no I/O but the files it writes.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "fuzz_common.h"

using namespace duct;
namespace {

std::string g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
    std::string dir = g_out + "/" + target;
    mkdir(g_out.c_str(), 0755);
    mkdir(dir.c_str(), 0755);
    std::ofstream f(dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f) fuzz::die("cannot write " + dir + "/" + name);
}

std::string pattern(uint8_t seed, size_t n = 96) {
    std::string s(n, 0);
    for (size_t i = 0; i < n; i++) s[i] = char(uint8_t(seed * 37 + i * 11 + 3));
    return s;
}

p9::Message filled(uint8_t type, uint8_t seed) {
    p9::Message m;
    if (!fuzz::make_message(type, m)) fuzz::die("no row " + std::to_string(type));
    std::string pat = pattern(seed);
    fuzz::Input in{reinterpret_cast<const uint8_t*>(pat.data()), pat.size()};
    fuzz::fill_message(m, in, 2);
    return m;
}

std::string frame(p9::Message m, p9::Dialect d, uint16_t tag = 1) {
    p9::Fcall f;
    f.tag = tag;
    f.msg = std::move(m);
    return p9::encode(f, d);
}

const char* dname(p9::Dialect d) {
    return d == p9::Dialect::P2000 ? "9P2000" : d == p9::Dialect::L ? "L" : "duct";
}
uint8_t dbyte(p9::Dialect d) { return d == p9::Dialect::P2000 ? 0 : d == p9::Dialect::L ? 1 : 2; }

const p9::Dialect kDialects[] = {p9::Dialect::P2000, p9::Dialect::L, p9::Dialect::Duct};

void codec_seeds() {
    for (uint8_t t : fuzz::table_types())
        for (p9::Dialect d : kDialects) {
            std::string in{char(dbyte(d)), char(0)};
            put("codec", std::string(p9::type_name(t)) + "-" + dname(d), in + frame(filled(t, t), d));
        }
}

// ---- export ----

struct Session {
    p9::Dialect d;
    std::string bytes;
    uint16_t tag = 1;
    Session(uint8_t flags, p9::Dialect d_) : d(d_), bytes(1, char(flags)) {}
    Session& operator<<(p9::Message m) {
        bytes += fuzz::frame_record(frame(std::move(m), d, tag++));
        return *this;
    }
};

p9::Tattach attach(uint32_t fid) { return p9::Tattach{fid, p9::NOFID, "root", "", p9::NUname{0}}; }
p9::Twalk walk(uint32_t fid, uint32_t newfid, p9::WNames w) { return p9::Twalk{fid, newfid, std::move(w)}; }

void export_seeds() {
    using namespace p9;
    Session l(1, Dialect::L);
    l << attach(0) << walk(0, 1, {"a"}) << Tlopen{1, 2} << Tread{1, 0, 100} << Twrite{1, 3, Data{"xyz"}}
      << Tfsync{1, OptU32{0}} << Tgetattr{1, GETATTR_ALL} << Tsetattr{1, SETATTR_SIZE, 0, 0, 0, 10, 0, 0, 0, 0}
      << Tlock{1, LOCK_TYPE_WRLCK, 0, 0, 10, 42, "fuzz"} << Tgetlock{1, LOCK_TYPE_RDLCK, 0, 10, 43, "other"}
      << Tclunk{1} << walk(0, 2, {"d"}) << Tlopen{2, 0x10000} << Treaddir{2, 0, 4096} << Tclunk{2}
      << walk(0, 3, {}) << Tlcreate{3, "new", 0102, 0644, 0} << Twrite{3, 0, Data{"new file"}} << Tclunk{3}
      << Tmkdir{0, "dir", 0755, 0} << Tsymlink{0, "sl", "a", 0} << Tmknod{0, "nod", 0010644, 0, 0, 0}
      << walk(0, 4, {"a"}) << Tlink{0, 4, "a2"} << Trenameat{0, "a2", 0, "a3"} << Tunlinkat{0, "a3", 0}
      << Tunlinkat{0, "dir", AT_REMOVEDIR_9P} << Txattrwalk{4, 5, ""} << Tread{5, 0, 256}
      << walk(4, 6, {}) << Txattrcreate{6, "user.fuzz", 3, 0} << Twrite{6, 0, Data{"abc"}} << Tclunk{6}
      << walk(0, 7, {"sl"}) << Treadlink{7} << Tstatfs{0} << walk(0, 7, {"up", "canary"})
      << walk(0, 7, {"d", "..", ".."}) << walk(0, 7, {"d", "abs"}) << Trename{4, 0, "moved"}
      << Tremove{4} << Tflush{1} << Tversion{8192, "9P2000.L"} << attach(0);
    put("export", "session-L", l.bytes);

    Session x(3, Dialect::Duct);
    x << attach(0) << Twalkattr{0, 1, {"a"}} << Tlopen{1, 2} << Tfallocate{1, 0, 0, 8192}
      << Tlseek{1, 0, 3} << Tlseek{1, 0, 4} << Trenameat2{0, "a", 0, "d", 2} << Trenameat2{0, "fifo", 0, "f2", 1}
      << Twalkattr{0, 2, {"d", "b"}} << Twalkattr{0, 3, {"nothing"}} << Tclunk{1};
    put("export", "session-duct", x.bytes);

    Session p(2, Dialect::P2000);
    Stat st = stat_keep();
    st.name = "renamed";
    p << Tattach{0, NOFID, "root", "", NUname{}} << walk(0, 1, {"a"}) << Topen{1, OREAD} << Tread{1, 0, 64}
      << Tstat{1} << Twstat{1, st} << Tclunk{1} << walk(0, 2, {}) << Topen{2, OREAD} << Tread{2, 0, 4096}
      << walk(0, 3, {}) << Tcreate{3, "made", 0644, ORDWR} << Twrite{3, 0, Data{"plain"}}
      << walk(0, 4, {}) << Tcreate{4, "sub", DMDIR | 0755, OREAD} << Tremove{4}
      << walk(0, 5, {"d", "b"}) << Topen{5, OWRITE | OTRUNC} << Tclunk{5} << Tauth{9, "root", "", NUname{}};
    put("export", "session-9P2000", p.bytes);

    // Per request row: reach an open file and a directory, then the row.
    for (uint8_t t : fuzz::request_types()) {
        if (t == Tversion::kType) continue;
        p9::Message m;
        fuzz::make_message(t, m);
        Dialect rd = std::visit(
            [](const auto& v) {
                if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) return Dialect::L;
                else return v.kDialect;
            },
            m);
        for (Dialect d : kDialects) {
            if (rd == Dialect::P2000 && d != Dialect::P2000) continue;
            if (rd == Dialect::Duct && d != Dialect::Duct) continue;
            if (rd == Dialect::L && d == Dialect::P2000) continue;
            Session s(d == Dialect::P2000 ? 2 : d == Dialect::L ? 1 : 3, d);
            s << Tattach{0, NOFID, "root", "", NUname{d == Dialect::P2000 ? NONUNAME : 0}} << walk(0, 1, {"a"});
            if (d == Dialect::P2000) s << Topen{1, ORDWR};
            else s << Tlopen{1, 2};
            s << filled(t, t);
            put("export", std::string(type_name(t)) + "-" + dname(d), s.bytes);
        }
    }
}

// ---- mux ----

void mux_seeds() {
    std::string all;
    for (uint8_t t : fuzz::table_types()) all += frame(filled(t, t), p9::Dialect::L, t);
    put("mux", "every-row", std::string(1, char(2)) + all);
    put("mux", "every-row-fail-odd", std::string(1, char(2 | 4)) + all);
    std::string close("\x05\x00\x00\x00\x00", 5);
    put("mux", "close-frames", std::string(1, char(1)) + close + frame(p9::Tclunk{1}, p9::Dialect::L) + close);
    put("mux", "truncated", std::string(1, char(1)) + all.substr(0, all.size() / 2 + 3));
    put("mux", "small-cap", std::string(1, char(0)) + all);
}

// ---- client ----

void client_seeds() {
    auto reqs = fuzz::request_types();
    for (size_t i = 0; i < reqs.size(); i++) {
        std::string name = p9::type_name(reqs[i]);
        // op 0 (a call), the row, its fields; no hostile frame; the R row filled.
        std::string call = std::string{char(0), char(i)} + pattern(uint8_t(i), 40);
        put("client", name + "-answered", call + std::string{char(0), char(0)} + pattern(uint8_t(i + 1), 120));
        // ... answered by an error after a wrong-tag frame of the right type.
        put("client", name + "-wrongtag",
            call + std::string{char(1), char(2)} + pattern(uint8_t(i + 2), 60) + std::string{char(1), char(5)});
        // op 5: the call times out, then its late answers.
        put("client", name + "-late",
            std::string{char(5), char(i)} + pattern(uint8_t(i), 40) + std::string(4, char(0)) + pattern(3, 80));
    }
    // op 7 (Tversion) for each version, then a call; op 2 (several), 3, 4, 6.
    for (int v = 0; v < 3; v++)
        put("client", "version-" + std::to_string(v),
            std::string{char(7), char(0), char(32), char(v), char(0), char(0)} + pattern(uint8_t(v), 60));
    put("client", "many", std::string{char(2), char(3)} + pattern(7, 200));
    put("client", "fids", std::string{char(3), char(0), char(1), char(4), char(0), char(1), char(6), char(0), char(0)});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    g_out = argv[1];
    codec_seeds();
    export_seeds();
    mux_seeds();
    client_seeds();
    return 0;
}
