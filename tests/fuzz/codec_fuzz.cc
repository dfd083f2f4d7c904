// Fuzz target: the frame decoder and encoder (proto/codec), the packed
// records inside message data (9P2000.L dirents, 9P2000 stat records), the
// tracer and the 9P2000 error-string table, for every row of table.h in
// every dialect.
// Input: dialect[1] (mod 3: 9P2000, 9P2000.L, duct; bit 0x80: keep the
// frame's own size field instead of patching it), msize choice[1], frame.
// Contract checked: decode never crashes and either fails with a message
// or yields a message that encodes back to a frame which decodes to the
// same message; the re-encoded frame is byte-identical to the input unless
// the row has a field the decoder accepts in two forms (OptU32 omitted, a
// stat record with 9P2000.u extras). A decoded frame never exceeds msize.
// Single-threaded.
#include <cstring>

#include "fuzz_common.h"
#include "proto/errors.h"
#include "proto/trace.h"

using namespace duct;
using duct::fuzz::die;

namespace {

// True if the row has a field that decodes from more than one byte form.
struct Lenient {
    bool any = false;
    void operator()(const char*, const p9::OptU32&) { any = true; }
    void operator()(const char*, const p9::Stat&) { any = true; }
    template <class T>
    void operator()(const char*, const T&) {}
};
bool lenient(const p9::Message& m) {
    Lenient l;
    std::visit(
        [&](const auto& x) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) visit_fields(x, l);
        },
        m);
    return l.any;
}

std::string hexdump(const std::string& s) {
    std::string out;
    char b[4];
    for (size_t i = 0; i < s.size() && i < 64; i++) {
        snprintf(b, sizeof b, "%02x ", uint8_t(s[i]));
        out += b;
    }
    return out;
}

// The records inside a decoded message's data: parse as many as parse,
// each must re-encode to no more bytes than it consumed (exactly as many
// for dirents, which have no optional part).
void check_records(const p9::Fcall& f) {
    std::string_view data;
    bool dirents = false;
    if (auto* r = std::get_if<p9::Rreaddir>(&f.msg)) { data = r->data.bytes; dirents = true; }
    else if (auto* r = std::get_if<p9::Rread>(&f.msg)) data = r->data.bytes;
    else return;
    size_t pos = 0;
    while (pos < data.size()) {
        size_t before = pos;
        if (dirents) {
            p9::Dirent e;
            if (!p9::parse_dirent(data, pos, e)) break;
            std::string back;
            p9::append_dirent(back, e);
            if (back != data.substr(before, pos - before) || back.size() != p9::dirent_size(e))
                die("dirent does not round-trip");
        } else {
            p9::Stat s;
            if (!p9::parse_stat(data, pos, s)) break;
            if (pos <= before || pos > data.size()) die("parse_stat moved pos outside the buffer");
            std::string back;
            p9::append_stat(back, s);
            if (back.size() != p9::stat_size(s) || back.size() > pos - before)
                die("stat record re-encodes larger than it was");
            size_t p2 = 0;
            p9::Stat s2;
            if (!p9::parse_stat(back, p2, s2) || !(s2 == s) || p2 != back.size())
                die("stat record does not round-trip");
        }
        if (pos <= before) die("record parser did not advance");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input in{data, size};
    uint8_t mode = in.u8();
    uint8_t msz = in.u8();
    p9::Dialect d = fuzz::dialect_of(mode & 0x7F);
    std::string frame = in.take(in.n);
    if (!(mode & 0x80) && frame.size() >= 4) {
        uint32_t n = uint32_t(frame.size());
        for (int i = 0; i < 4; i++) frame[i] = char(n >> (8 * i));
    }
    // msize: none, the smallest we accept, or a typical one.
    uint32_t msize = msz % 3 == 0 ? 0 : msz % 3 == 1 ? p9::MINMSIZE : 8192;

    p9::Fcall f;
    std::string err = p9::decode(frame, d, msize, f);
    if (!err.empty()) {
        if (frame.size() >= p9::HEADER) (void)p9::type_name(p9::frame_type(frame));
        return 0;
    }
    if (frame.size() < p9::HEADER) die("decoded a frame shorter than the header");
    if (msize && frame.size() > msize) die("decoded a frame larger than msize");
    if (f.type() != p9::frame_type(frame)) die("decoded message has another type than the frame");
    (void)p9::format(f);
    if (auto* e = std::get_if<p9::Rerror>(&f.msg)) (void)p9::errstr_of(p9::errno_of(e->ename));
    if (auto* e = std::get_if<p9::Rlerror>(&f.msg)) (void)p9::errstr_of(int(e->ecode & 0x7fffffff));
    check_records(f);

    std::string again = p9::encode(f, d);
    p9::Fcall f2;
    std::string err2 = p9::decode(again, d, 0, f2);
    if (!err2.empty()) die(std::string("re-encoded ") + p9::type_name(f.type()) + " does not decode: " + err2);
    if (f2.tag != f.tag || !(f2.msg == f.msg)) die(std::string(p9::type_name(f.type())) + " does not round-trip");
    if (p9::encode(f2, d) != again) die("encoding is not stable");
    if (again != frame && !lenient(f.msg))
        die(std::string(p9::type_name(f.type())) + " re-encodes differently: in " + hexdump(frame) + " out " +
            hexdump(again));
    return 0;
}
