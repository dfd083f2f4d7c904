// The one place that picks the libfuse API level (3.12: the loop config
// object) before <fuse_lowlevel.h> is included by any file of mount/.
#pragma once
#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#endif
#include <fuse_lowlevel.h>
