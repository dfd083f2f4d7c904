// grow_pipe: F_SETPIPE_SZ on a pipe channel, bounded by pipe-max-size for
// a process without CAP_SYS_RESOURCE (then the kernel answers EPERM).
#include "wire/pipe_size.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

namespace duct::wire {

namespace {
size_t pipe_max_size() {
    FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "re");
    if (!f) return 0;
    unsigned long n = 0;
    if (std::fscanf(f, "%lu", &n) != 1) n = 0;
    std::fclose(f);
    return size_t(n);
}
}  // namespace

size_t grow_pipe(int fd) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return 0;
    int now = fcntl(fd, F_GETPIPE_SZ);
    if (now < 0) return 0;
    if (size_t(now) >= kPipeBuffer) return size_t(now);
    if (fcntl(fd, F_SETPIPE_SZ, int(kPipeBuffer)) >= 0) return size_t(fcntl(fd, F_GETPIPE_SZ));
    // EPERM above pipe-max-size (or the user's pipe quota): the most we may.
    size_t max = pipe_max_size();
    if (max > size_t(now) && max < kPipeBuffer) (void)fcntl(fd, F_SETPIPE_SZ, int(max));
    now = fcntl(fd, F_GETPIPE_SZ);
    return now < 0 ? 0 : size_t(now);
}

}  // namespace duct::wire
