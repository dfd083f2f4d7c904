// The open-flag table of oflags.h. A host flag of several bits (O_SYNC is
// __O_SYNC | O_DSYNC on Linux) counts only when all its bits are set, so
// O_DSYNC alone does not go out as SYNC (Linux fs/9p's map tests any bit);
// O_SYNC goes out as SYNC | DSYNC, as the kernel client sends it.
#include "proto/oflags.h"

#include <fcntl.h>

namespace duct::p9 {

namespace {

struct Pair {
    int host;
    uint32_t l;
};

// Access modes are a 2-bit field, not flags: handled apart. O_LARGEFILE
// is 0 in glibc on 64-bit machines (always on): it then drops out here.
constexpr Pair kMap[] = {
    {O_CREAT, DOTL_CREATE},       {O_EXCL, DOTL_EXCL},         {O_NOCTTY, DOTL_NOCTTY},
    {O_TRUNC, DOTL_TRUNC},        {O_APPEND, DOTL_APPEND},     {O_NONBLOCK, DOTL_NONBLOCK},
    {O_DSYNC, DOTL_DSYNC},        {O_ASYNC, DOTL_FASYNC},      {O_DIRECT, DOTL_DIRECT},
    {O_LARGEFILE, DOTL_LARGEFILE}, {O_DIRECTORY, DOTL_DIRECTORY}, {O_NOFOLLOW, DOTL_NOFOLLOW},
    {O_NOATIME, DOTL_NOATIME},    {O_CLOEXEC, DOTL_CLOEXEC},   {O_SYNC, DOTL_SYNC},
};

}  // namespace

uint32_t oflags_to_l(int flags) {
    uint32_t l;
    switch (flags & O_ACCMODE) {
    case O_RDONLY: l = DOTL_RDONLY; break;
    case O_WRONLY: l = DOTL_WRONLY; break;
    case O_RDWR: l = DOTL_RDWR; break;
    default: l = DOTL_NOACCESS; break;
    }
    for (const Pair& p : kMap)
        if (p.host && (flags & p.host) == p.host) l |= p.l;
    return l;
}

int oflags_from_l(uint32_t l) {
    int o;
    switch (l & 3) {
    case DOTL_RDONLY: o = O_RDONLY; break;
    case DOTL_WRONLY: o = O_WRONLY; break;
    default: o = O_RDWR; break;  // NOACCESS (3) is not a mode open(2) takes
    }
    for (const Pair& p : kMap)
        if (l & p.l) o |= p.host;
    return o;
}

}  // namespace duct::p9
