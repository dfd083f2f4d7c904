// fault.cc — see fault.h: parse fault specs; place them on the stream as
// frames pass; apply them to the bytes being forwarded.
#include "fault.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace bench {

namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

bool parse_u64(const std::string& s, uint64_t* v) {
    if (s.empty()) return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(s.c_str(), &end, 0);
    if (errno || *end || s[0] == '-') return false;
    *v = x;
    return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    size_t a = 0;
    for (;;) {
        size_t b = s.find(sep, a);
        v.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
        if (b == std::string::npos) return v;
        a = b + 1;
    }
}

const char* kind_name(FaultSpec::Kind k) {
    return k == FaultSpec::Cut ? "cut" : k == FaultSpec::Stall ? "stall" : "flip";
}

}  // namespace

bool parse_fault(const std::string& spec, std::string* dir, FaultSpec* out, std::string* err) {
    auto f = split(spec, ':');
    auto fail = [&](const std::string& m) { *err = "bad fault '" + spec + "': " + m; return false; };
    if (f.size() < 3) return fail("want DIR:KIND:AT[:xor=V][:every=K]");
    if (f[0] != "a2b" && f[0] != "b2a") return fail("direction is a2b or b2a");
    *dir = f[0];
    FaultSpec s;
    if (f[1] == "cut") s.kind = FaultSpec::Cut;
    else if (f[1] == "stall") s.kind = FaultSpec::Stall;
    else if (f[1] == "flip") s.kind = FaultSpec::Flip;
    else return fail("kind is cut, stall or flip");
    const std::string& at = f[2];
    if (!at.empty() && (at[0] == 'f' || at[0] == 't')) {
        std::string rest = at.substr(1), k = "0";
        if (auto plus = rest.find('+'); plus != std::string::npos) {
            k = rest.substr(plus + 1);
            rest = rest.substr(0, plus);
        }
        if (at[0] == 't') {
            auto dot = rest.find('.');
            uint64_t t;
            if (dot == std::string::npos || !parse_u64(rest.substr(0, dot), &t) || t > 255)
                return fail("tT.N: T a message type 0-255, N a count");
            s.type = int(t);
            rest = rest.substr(dot + 1);
            s.where = FaultSpec::TypedFrame;
        } else {
            s.where = FaultSpec::Frame;
        }
        if (!parse_u64(rest, &s.at)) return fail("frame number");
        uint64_t kk;
        if (k == "mid") s.k = -1;
        else if (parse_u64(k, &kk) && kk < (uint64_t(1) << 40)) s.k = int64_t(kk);
        else return fail("+K: a byte of the frame, or mid");
    } else if (!parse_u64(at, &s.at)) {
        return fail("AT is a byte offset, fN[+K] or tT.N[+K]");
    }
    for (size_t i = 3; i < f.size(); ++i) {
        uint64_t v;
        if (f[i].rfind("xor=", 0) == 0 && parse_u64(f[i].substr(4), &v) && v >= 1 && v <= 255) s.xor_with = uint8_t(v);
        else if (f[i].rfind("every=", 0) == 0 && parse_u64(f[i].substr(6), &v) && v >= 1) s.every = v;
        else return fail("'" + f[i] + "': options are xor=1..255 and every=K>=1");
    }
    if (s.every && s.kind != FaultSpec::Flip) return fail("every= repeats a flip only (a cut or stall ends the stream)");
    *out = s;
    return true;
}

Injector::Injector(std::string name, std::vector<FaultSpec> faults) : name_(std::move(name)), faults_(std::move(faults)) {
    for (const FaultSpec& f : faults_) {
        next_frame_.push_back(f.where == FaultSpec::Byte ? kNever : f.at);
        if (f.where == FaultSpec::Byte) triggers_.push_back({f.at, &f, "byte " + std::to_string(f.at)});
    }
}

// A frame header is complete at held_[pos_]: place the faults that want a
// byte of this frame as triggers at absolute offsets.
void Injector::place_frame_faults(uint64_t flen, int type) {
    for (size_t i = 0; i < faults_.size(); ++i) {
        const FaultSpec& f = faults_[i];
        bool hit = (f.where == FaultSpec::Frame && frame_no_ == next_frame_[i]) ||
                   (f.where == FaultSpec::TypedFrame && type == f.type && type_count_[type] == next_frame_[i]);
        if (!hit) continue;
        next_frame_[i] = f.every ? next_frame_[i] + f.every : kNever;
        uint64_t k = f.k < 0 ? flen / 2 : uint64_t(f.k);
        char d[160];
        std::snprintf(d, sizeof d, "frame %" PRIu64 " (type %d, size %" PRIu64 ") byte %" PRIu64, frame_no_, type,
                      flen, k);
        triggers_.push_back({out_ + k, &f, d});
    }
    if (type >= 0) ++type_count_[type];
}

// Forwards the next n held bytes (stream offsets out_ .. out_+n), applying
// every trigger that falls among them.
Injector::Event Injector::release(size_t n, std::string* out) {
    const uint64_t end = out_ + n;
    for (;;) {
        auto t = std::min_element(triggers_.begin(), triggers_.end(),
                                  [](const Trigger& a, const Trigger& b) { return a.off < b.off; });
        if (t == triggers_.end() || t->off >= end) break;
        if (t->off < out_) {  // already behind us (cannot happen; be safe)
            triggers_.erase(t);
            continue;
        }
        size_t at = pos_ + size_t(t->off - out_);
        const FaultSpec& f = *t->spec;
        ++fired_;
        if (f.kind == FaultSpec::Flip) {
            uint8_t was = uint8_t(held_[at]);
            held_[at] = char(was ^ f.xor_with);
            std::fprintf(stderr, "duct-relay: %s: flip at offset %" PRIu64 " (%s): %02x -> %02x\n", name_.c_str(), t->off,
                         t->where.c_str(), was, uint8_t(held_[at]));
            if (f.every && f.where == FaultSpec::Byte) {
                t->off += f.every;
                t->where = "byte " + std::to_string(t->off);
            } else {
                triggers_.erase(t);
            }
            continue;
        }
        std::fprintf(stderr, "duct-relay: %s: %s at offset %" PRIu64 " (%s)\n", name_.c_str(), kind_name(f.kind), t->off,
                     t->where.c_str());
        size_t m = size_t(t->off - out_);
        out->append(held_, pos_, m);
        pos_ += m;
        out_ += m;
        dead_ = true;
        return f.kind == FaultSpec::Cut ? Cut : Stall;
    }
    out->append(held_, pos_, n);
    pos_ += n;
    out_ = end;
    return None;
}

Injector::Event Injector::feed(const char* p, size_t n, std::string* out) {
    if (dead_) return None;
    held_.append(p, n);
    Event ev = None;
    while (ev == None) {
        size_t avail = held_.size() - pos_;
        if (in_header_) {
            if (avail < 4) break;
            uint32_t size;
            std::memcpy(&size, held_.data() + pos_, 4);  // little-endian host (x86, arm)
            // A size under 4 cannot be framed: count those 4 bytes as the frame.
            uint64_t flen = std::max<uint64_t>(size, 4);
            size_t need = size_t(std::min<uint64_t>(flen, 7));
            if (avail < need) break;
            int type = flen >= 5 ? uint8_t(held_[pos_ + 4]) : -1;
            place_frame_faults(flen, type);
            frame_left_ = flen;
            in_header_ = false;
        }
        size_t m = size_t(std::min<uint64_t>(frame_left_, avail));
        if (m == 0) break;
        ev = release(m, out);
        frame_left_ -= m;
        if (frame_left_ == 0) {
            in_header_ = true;
            ++frame_no_;
        }
    }
    held_.erase(0, pos_);
    pos_ = 0;
    return ev;
}

void Injector::finish(std::string* out) {
    if (dead_ || pos_ >= held_.size()) return;
    release(held_.size() - pos_, out);  // byte faults still apply; a cut here only truncates
    held_.clear();
    pos_ = 0;
}

}  // namespace bench
