// The limits one peer of the export lives under, in one place (issue 11):
// everything a peer can make the export hold (fids, queued requests, lock
// owners, xattr buffers) or hand to a syscall (names, paths) is bounded, and
// going past a bound is an error that names it, never unbounded memory.
// Walk depth (MAXWELEM, 16) and frame length (msize) are the protocol's own
// and are checked by the decoder (proto/codec.cc) and the frame reader
// (wire/frame_reader.cc); the mux and the session end the channel on a frame
// beyond them (mux.cc, server.cc, mount/client.cc).
// Constants only; no threads.
#pragma once
#include <cstddef>

namespace duct::exp {

// Fids one peer may hold at once. The kernel client keeps one per cached
// inode plus a few per open file; 65536 is far beyond a busy mount (a
// `find` over 100,000 files holds what the kernel's cache keeps, some
// thousands) while one Fid costs a few hundred bytes, so a hostile peer can
// make at most some tens of MiB of them. Beyond it: EMFILE (Rlerror), or
// Rerror "too many fids (65536 per peer)", and one log line.
constexpr size_t kMaxFids = 65536;

// Requests one peer may have in flight (queued or running) at once, and the
// bytes of their frames. Beyond either, the export stops reading the
// channel until one completes (backpressure, server.cc handle()): 9P has
// no "busy, retry" answer, so an error would reach a program as a failed
// read or write that a correct client never caused; holding the channel is
// what a 9P server over a stream does (TCP's own flow control then slows
// the peer). 1024 keeps every worker (8 by default, at most 64) busy many
// times over; 64 MiB is 64 writes of the default msize.
constexpr size_t kMaxQueued = 1024;
constexpr size_t kMaxQueuedBytes = 64u << 20;

// Lock owners (client_id, proc_id per file; session.h LockOwners): the peer
// chooses the keys, so there are at most this many, each with one open file.
constexpr size_t kMaxLockOwners = 4096;
// A Tlock/Tgetlock client_id is the client's node name (v9fs: utsname,
// at most 64 bytes; our mount: "duct" and a number). It is a key of the lock
// table, so a longer one is ENAMETOOLONG rather than kMaxLockOwners times
// 64 KiB of keys.
constexpr size_t kMaxLockClient = 255;

// One name in a directory (NAME_MAX): longer is ENAMETOOLONG; a name with
// '/' or NUL is EINVAL (util.cc check_name). Xattr names too (XATTR_NAME_MAX).
constexpr size_t kNameMax = 255;
// A Tattach uname is a login name (LOGIN_NAME_MAX 256, with its NUL); the
// aname a path (PATH_MAX 4096, with its NUL). Longer: ENAMETOOLONG; with a
// NUL inside: EINVAL (getpwnam would otherwise read "root\0..." as root).
constexpr size_t kMaxUname = 255;
constexpr size_t kMaxAname = 4095;

}  // namespace duct::exp
