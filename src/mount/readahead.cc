// set_readahead: writes the bdi's read_ahead_kb; readahead_bytes: the size.
#include "mount/readahead.h"
#include "mount/fs.h"
#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace duct::mnt {

size_t readahead_bytes(size_t iosize) {
    if (const char* v = getenv("DUCT_READAHEAD_KB"); v && *v) {
        char* end = nullptr;
        unsigned long long kb = strtoull(v, &end, 10);
        if (end && *end == '\0' && kb <= (1ull << 20)) return size_t(kb) << 10;  // else ignored
    }
    // Whole pages: the kernel counts the window in pages.
    return (iosize * kReadaheadTreads) & ~size_t(4095);
}

bool set_readahead(const std::string& dev, size_t bytes, std::string& err) {
    if (dev.empty() || dev.find('/') != std::string::npos) {
        err = "no device for the mount";
        return false;
    }
    std::string path = "/sys/class/bdi/" + dev + "/read_ahead_kb";
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        err = path + ": " + std::strerror(errno);
        return false;
    }
    std::string v = std::to_string(bytes >> 10) + "\n";
    ssize_t n = write(fd, v.data(), v.size());
    int e = errno;
    close(fd);
    if (n != ssize_t(v.size())) {
        err = path + ": " + (n < 0 ? std::strerror(e) : "short write");
        return false;
    }
    return true;
}

void apply_readahead(Fs& fs) {
    std::call_once(fs.readahead_once, [&fs] {
        if (fs.bdi.empty() || fs.readahead == 0) return;
        std::string why;
        if (!set_readahead(fs.bdi, fs.readahead, why)) {
            if (verbose()) log_info("mount: read-ahead stays the kernel's: %s", why.c_str());
        } else if (verbose()) {
            log_info("mount: read-ahead %zu KiB", fs.readahead >> 10);
        }
    });
}

}  // namespace duct::mnt
