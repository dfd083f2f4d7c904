// The mount's read-ahead window (issue 10, bulk throughput). The kernel
// gives a FUSE mount the default 128 KiB window (its bdi's read_ahead_kb;
// FUSE_INIT's max_readahead can only shrink it), so a cold sequential read
// went as 128 KiB Treads: eight round trips per MiB, each waited for.
// The window is set through /sys/class/bdi/MAJ:MIN/read_ahead_kb instead,
// to a few msize-sized Treads, so that several are in flight at once (the
// kernel issues read-ahead asynchronously, up to max_background requests)
// and, over a WAN, what is in flight covers the link's bandwidth-delay
// product. Only root may write there; for others the window stays.
//
// When: after the kernel took FUSE_INIT's reply, which sets the window to
// min(window, max_readahead) and would undo an earlier write; every FUSE
// request comes after that, so the first open does it (apply_readahead),
// costing no message of its own.
//
// Threads: FUSE workers (apply_readahead runs once per mount).
#pragma once
#include <cstddef>
#include <string>

namespace duct::mnt {

// The window for a mount whose Treads carry `iosize` bytes: kReadaheadTreads
// of them (4 MiB at the default msize; at 100 Mbit/s that is 330 ms of data,
// more than any round trip the benchmark models), or DUCT_READAHEAD_KB
// from the environment (KiB; 0 leaves the kernel's default).
constexpr size_t kReadaheadTreads = 4;
size_t readahead_bytes(size_t iosize);

// Sets the window of the mount whose device is `dev` ("0:N" from
// mountinfo). False with `err` set if it could not (not root, no sysfs).
bool set_readahead(const std::string& dev, size_t bytes, std::string& err);

struct Fs;
// Once per mount, from the open ops: sets fs.readahead on fs.bdi (nothing if
// either is unset); a failure is logged with -v and the window stays.
void apply_readahead(Fs& fs);

}  // namespace duct::mnt
