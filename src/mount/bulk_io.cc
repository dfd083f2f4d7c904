// write_pieces / read_pieces: one rpc_many of Twrites or Treads, answered
// in any order, taken in order.
#include "mount/bulk_io.h"

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "mount/fs.h"

namespace duct::mnt {

using namespace duct::p9;

bool write_split(Fs& fs, size_t size) {
    return size > kBulkPiece && fs.write_ns_per_mib.load(std::memory_order_relaxed) > kSlowWriteNsPerMiB;
}

void write_took(Fs& fs, size_t size, int64_t ns) {
    if (size <= kBulkPiece || ns <= 0) return;
    int64_t per = int64_t(double(ns) * double(1 << 20) / double(size));
    int64_t old = fs.write_ns_per_mib.load(std::memory_order_relaxed);
    // A short memory (one write in four): a link that got faster is noticed
    // within a few writes, one slow write does not switch at once.
    fs.write_ns_per_mib.store(old ? (3 * old + per) / 4 : per, std::memory_order_relaxed);
}

ssize_t write_pieces(Fs& fs, uint32_t fid, const char* data, size_t size, uint64_t off, uint32_t chunk) {
    const size_t piece = std::max<size_t>(1, std::min<size_t>(chunk, kBulkPiece));
    std::vector<Message> ts;
    std::vector<size_t> lens;
    for (size_t at = 0; at < size; at += piece) {
        size_t n = std::min(piece, size - at);
        ts.push_back(Twrite{fid, off + at, Data{std::string(data + at, n)}});
        lens.push_back(n);
    }
    std::vector<Fcall> rs;
    std::vector<int> es;
    fs.c.rpc_many(std::move(ts), rs, es);
    size_t done = 0;
    for (size_t i = 0; i < lens.size(); i++) {
        Rwrite r;
        int e = Client::take(rs[i], es[i], r);
        if (e) {
            if (i == 0) return -e;
            break;
        }
        if (r.count > lens[i]) break;  // a bogus peer: trust nothing after it
        done += r.count;
        if (r.count < lens[i]) break;  // short: what follows is not contiguous
    }
    return ssize_t(done);
}

int read_pieces(Fs& fs, uint32_t fid, size_t size, uint64_t off, uint32_t chunk, std::vector<std::string>& out) {
    const size_t piece = std::max<size_t>(1, std::min<size_t>(chunk, kBulkPiece));
    std::vector<Message> ts;
    std::vector<size_t> lens;
    for (size_t at = 0; at < size; at += piece) {
        size_t n = std::min(piece, size - at);
        ts.push_back(Tread{fid, off + at, uint32_t(n)});
        lens.push_back(n);
    }
    std::vector<Fcall> rs;
    std::vector<int> es;
    fs.c.rpc_many(std::move(ts), rs, es);
    out.clear();
    for (size_t i = 0; i < lens.size(); i++) {
        Rread r;
        int e = Client::take(rs[i], es[i], r);
        if (e) return i == 0 ? e : 0;
        size_t n = std::min(r.data.bytes.size(), lens[i]);
        r.data.bytes.resize(n);
        out.push_back(std::move(r.data.bytes));
        if (n < lens[i]) break;  // end of file: what follows is not contiguous
    }
    return 0;
}

}  // namespace duct::mnt
