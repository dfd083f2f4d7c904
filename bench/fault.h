// fault.h — fault injection for one direction of duct-relay: cut the
// channel, stall it, or flip a byte, at a byte offset of the stream or at a
// byte of the N-th 9P frame (optionally the N-th frame of one type), once
// or repeated. A test tool: it parses 9P's size[4] type[1] tag[2] framing
// as the bytes pass (the original framing, before any flip), so a fault can
// land in a frame header's size, type or tag field, or in the middle of a
// big Twrite/Rread payload.
//
// Spec (one -x option of duct-relay per fault):
//   DIR:KIND:AT[:xor=V][:every=K]
//   DIR   a2b | b2a
//   KIND  cut   (both directions closed there: a dropped connection)
//         stall (nothing more is forwarded this way; the fds stay open)
//         flip  (the byte is xored with V, default 0xff)
//   AT    N          byte N of the stream (0-based)
//         fN+K       byte K of frame N (frames counted from 0; K may be
//                    "mid": half the frame's length); fN alone is +0
//         tT.N+K     byte K of the N-th (from 0) frame of type T
//   every=K  repeat (flip only): every K bytes after a byte offset, every
//            K frames (of that type) after a frame
//
// Threads: an Injector belongs to one Link's reader thread (no locking).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

struct FaultSpec {
    enum Kind { Cut, Stall, Flip } kind = Flip;
    enum Where { Byte, Frame, TypedFrame } where = Byte;
    uint64_t at = 0;       // Byte: the offset; Frame/TypedFrame: frame number
    int type = -1;         // TypedFrame: the 9P message type
    int64_t k = 0;         // byte within the frame; -1: the middle
    uint8_t xor_with = 0xff;
    uint64_t every = 0;    // 0: once
};

// Parses SPEC into the direction ("a2b"/"b2a") and the fault; on error
// returns false with a message in *err.
bool parse_fault(const std::string& spec, std::string* dir, FaultSpec* out, std::string* err);

class Injector {
public:
    enum Event { None, Cut, Stall };
    // name: the direction's name, for the log lines on stderr.
    Injector(std::string name, std::vector<FaultSpec> faults);

    // Feeds bytes read from the source; appends to *out what may be
    // forwarded now (faults applied). A frame header is held back until it
    // is complete (so a fault on a typed frame can be placed). Returns Cut
    // or Stall when that fault fired: *out then ends just before its byte
    // and nothing more may be forwarded (later calls forward nothing).
    Event feed(const char* p, size_t n, std::string* out);
    // End of the source: releases any held bytes (an incomplete header).
    void finish(std::string* out);

    uint64_t fired() const { return fired_; }  // faults applied so far

private:
    struct Trigger {  // a fault placed at an absolute stream offset
        uint64_t off;
        const FaultSpec* spec;
        std::string where;  // for the log line
    };
    void place_frame_faults(uint64_t flen, int type);
    Event release(size_t n, std::string* out);  // the next n held bytes

    std::string name_;
    std::vector<FaultSpec> faults_;
    std::vector<uint64_t> next_frame_;  // per fault: the frame number it waits for
    std::vector<Trigger> triggers_;
    std::string held_;        // read; held_[pos_..] not yet forwarded
    size_t pos_ = 0;
    uint64_t out_ = 0;        // stream offset of held_[0]
    bool in_header_ = true;   // held_ starts a frame
    uint64_t frame_no_ = 0;   // number of the current frame
    uint64_t frame_left_ = 0; // bytes of the current frame not yet released
    uint64_t type_count_[256] = {};
    uint64_t fired_ = 0;
    bool dead_ = false;       // a cut or stall fired
};

}  // namespace bench
