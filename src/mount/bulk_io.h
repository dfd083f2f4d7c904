// Large writes as several Twrites in flight (issue 10, "metadata never
// waits behind bulk data"). A frame being written cannot be overtaken: the
// channel is one byte stream, so a Tgetattr queued while a 1 MiB Twrite is
// going out waits for all of it (on a 100 Mbit/s link, 84 ms). The
// writer's lanes put small frames ahead of queued bulk frames, but only
// between frames. So a FUSE write larger than kBulkPiece goes as pieces of
// kBulkPiece, all sent at once (one round trip, as before, and the export's
// workers write them in parallel): a metadata request then waits for at
// most one piece, not a whole msize. Reads go the same way: a read-ahead
// request larger than kBulkPiece goes as pieces, so the peer's writer has
// room for its small frames between our Rreads (both directions of one
// channel: our bulk read must not hold up the replies to our `stat`s, nor
// the peer's requests to our export, which share that way).
//
// Writes are split only on a slow link: on a pipe the pieces cost a
// quarter of the write rate (four Twrites, four copies, four pwrites that
// the exporting file's lock serialises anyway) and a frame holds the
// channel only a few milliseconds. So write_split() says whether the last
// large write took more than kSlowWriteNsPerMiB end to end per MiB (the link's rate
// plus its round trip): then a whole frame would hold metadata that long.
//
// Threads: FUSE workers; blocks until every piece is answered.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace duct::mnt {

struct Fs;

// The writer's bulk quantum (wire/frame_writer.h kBulkQuantum): a piece is
// what it takes of bulk data between two chances for small frames.
constexpr uint32_t kBulkPiece = 256 << 10;

// A large write that took longer than this per MiB: the link is slow.
constexpr int64_t kSlowWriteNsPerMiB = 20'000'000;  // 50 MB/s: a pipe does 150-300 here
// Whether a write of `size` bytes goes in pieces (not for appends).
bool write_split(Fs& fs, size_t size);
// Records how long a large write took (whole or in pieces).
void write_took(Fs& fs, size_t size, int64_t ns);

// Writes `size` bytes at `off` on open fid `fid` in pieces of at most
// min(chunk, kBulkPiece) sent together. Returns the bytes written from the
// start without a gap (pieces after a failed or short one do not count,
// as a short write says), or -errno if the first piece failed.
ssize_t write_pieces(Fs& fs, uint32_t fid, const char* data, size_t size, uint64_t off, uint32_t chunk);

// Reads `size` bytes at `off` in pieces of at most min(chunk, kBulkPiece)
// sent together; `out` gets the pieces' data, in order, up to the first
// error or short piece (end of file). 0, or the first piece's errno.
// Only for positional files (page-cache reads): every piece names its
// offset, and they are answered in any order.
int read_pieces(Fs& fs, uint32_t fid, size_t size, uint64_t off, uint32_t chunk, std::vector<std::string>& out);

}  // namespace duct::mnt
