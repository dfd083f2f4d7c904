// Large writes as several Twrites in flight (issue 10, "metadata never
// waits behind bulk data"). A frame being written cannot be overtaken: the
// channel is one byte stream, so a Tgetattr queued while a 1 MiB Twrite is
// going out waits for all of it (on a 100 Mbit/s link, 84 ms). The
// writer's lanes put small frames ahead of queued bulk frames, but only
// between frames. So a FUSE write larger than kBulkPiece goes as pieces of
// kBulkPiece, all sent at once (one round trip, as before, and the export's
// workers write them in parallel): a metadata request then waits for at
// most one piece, not a whole msize.
//
// Threads: FUSE workers; blocks until every piece is answered.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace duct::mnt {

struct Fs;

// The writer's bulk quantum (wire/frame_writer.h kBulkQuantum): a piece is
// what it takes of bulk data between two chances for small frames.
constexpr uint32_t kBulkPiece = 256 << 10;

// Writes `size` bytes at `off` on open fid `fid` in pieces of at most
// min(chunk, kBulkPiece) sent together. Returns the bytes written from the
// start without a gap (pieces after a failed or short one do not count,
// as a short write says), or -errno if the first piece failed.
ssize_t write_pieces(Fs& fs, uint32_t fid, const char* data, size_t size, uint64_t off, uint32_t chunk);

}  // namespace duct::mnt
