// Pipe channels get a 1 MiB kernel buffer (issue 10, bulk throughput): the
// default 64 KiB pipe holds a sixteenth of one 1 MiB Rread or Twrite, so
// writer and reader take turns 16 times per frame, a context switch each.
// With 1 MiB (Linux's default /proc/sys/fs/pipe-max-size) one frame fits.
//
// Threads: any; touches only the fd's pipe.
#pragma once
#include <cstddef>

namespace duct::wire {

constexpr size_t kPipeBuffer = size_t(1) << 20;

// If fd is a pipe, makes its buffer kPipeBuffer bytes, or the largest an
// unprivileged process may set (pipe-max-size) if that is less. Never
// shrinks a pipe someone made larger. Returns the buffer size now (0: not a
// pipe, or the size cannot be read). Failures are harmless: the pipe just
// keeps its size.
size_t grow_pipe(int fd);

}  // namespace duct::wire
