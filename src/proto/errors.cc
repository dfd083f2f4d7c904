// errno <-> 9P2000 error strings. The strings are Plan 9's (lib9p, kernel
// Enonexist etc.) and Inferno's, so programs on those systems that compare
// error strings see the words they expect.
#include "proto/errors.h"

#include <cerrno>
#include <cstring>

namespace duct::p9 {

namespace {
struct Row {
    int err;
    const char* str;
};
// First match wins in each direction; several strings may map to one errno.
constexpr Row kRows[] = {
    {ENOENT, "file does not exist"},
    {EACCES, "permission denied"},
    {EPERM, "permission denied"},
    {EEXIST, "file already exists"},
    {EISDIR, "is a directory"},
    {ENOTDIR, "not a directory"},
    {ENOTEMPTY, "directory not empty"},
    {EBUSY, "file in use"},
    {EROFS, "read-only file system"},
    {ENOSPC, "no space left on device"},
    {EINVAL, "bad arg in system call"},
    {ENAMETOOLONG, "file name too long"},
    {EXDEV, "cross-device link"},
    {EBADF, "fid unknown or out of range"},
    {EMFILE, "too many open files"},
    {ENOSYS, "function not implemented"},
    {EOPNOTSUPP, "operation not supported"},
    {ELOOP, "too many levels of symbolic links"},
    {EFBIG, "file too large"},
    {EIO, "i/o error"},
    {EINTR, "interrupted"},
    {ENOMEM, "out of memory"},
    {ETXTBSY, "text file busy"},
    {EAGAIN, "resource temporarily unavailable"},
    {ENODATA, "no data available"},
    {ERANGE, "result too large"},
    {ESPIPE, "illegal seek"},
    {EMLINK, "too many links"},
    {EDQUOT, "disk quota exceeded"},
    {ENXIO, "no such device or address"},
    {ENODEV, "no such device"},
    // Other spellings seen from Plan 9 and Inferno servers.
    {ENOENT, "file not found"},
    {ENOENT, "no such file or directory"},
    {EEXIST, "file exists"},
    {EACCES, "access permission denied"},
    {EBADF, "unknown fid"},
    {EBADF, "fid in use"},
    {EISDIR, "file is a directory"},
    {EBUSY, "exclusive use file already open"},
    {EIO, "i/o on hungup channel"},
};
}  // namespace

std::string errstr_of(int err) {
    for (const Row& r : kRows)
        if (r.err == err) return r.str;
    return std::strerror(err);
}

int errno_of(std::string_view ename) {
    for (const Row& r : kRows)
        if (ename == r.str) return r.err;
    // Servers such as u9fs use strerror() text; look for it too.
    for (int e = 1; e < 134; e++)
        if (ename == std::strerror(e)) return e;
    // Plan 9 servers often decorate ("'foo' file does not exist").
    for (const Row& r : kRows)
        if (ename.find(r.str) != std::string_view::npos) return r.err;
    return EIO;
}

}  // namespace duct::p9
