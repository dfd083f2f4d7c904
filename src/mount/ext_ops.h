// The FUSE ops that exist for the duct extension (proto/table.h), declared
// apart from fs.h's list: each checks Client::duct_ext()
// and, with any other peer, answers what FUSE did before the op was set
// (see each definition). ops_table.cc puts them in the 9P2000.L table.
// Runs on FUSE workers, like every op.
#pragma once
#include "mount/fuse_inc.h"

namespace duct::mnt {

// Tlseek for SEEK_DATA/SEEK_HOLE (ops_file.cc).
void op_lseek(fuse_req_t, fuse_ino_t, off_t, int, fuse_file_info*);
// flock(2) as Tlock with LOCK_FLAGS_FLOCK (ops_xattr_lock.cc).
void op_flock(fuse_req_t, fuse_ino_t, fuse_file_info*, int);

}  // namespace duct::mnt
