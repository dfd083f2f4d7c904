// p2000: the FUSE operations that differ when the peer speaks plain 9P2000
// (Plan 9, Inferno, the original duct) instead of 9P2000.L — the mapping
// plan9port's 9pfuse makes: Twalk + Tstat for lookup, Topen/Tcreate for
// open/create/mkdir, Twstat for setattr/rename/fsync, packed stat records
// for directory reads, uid/gid as names. ops_table.cc builds the 9P2000
// table from the 9P2000.L one with these in place of the .L ops; the ops
// that are the same in both dialects (read, write, release, forget) are
// shared. mount.cc picks the table after Tversion.
//
// Threads: FUSE workers only; each op may block in Client::rpc. The
// directory listings (per open directory) and the name<->id caches have
// their own leaf mutexes; no rpc is made while holding one.
#pragma once
#include "mount/fs.h"

namespace duct::mnt::p2000 {

void op_lookup(fuse_req_t, fuse_ino_t, const char*);
void op_getattr(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_setattr(fuse_req_t, fuse_ino_t, struct stat*, int, fuse_file_info*);
void op_statfs(fuse_req_t, fuse_ino_t);
void op_open(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_create(fuse_req_t, fuse_ino_t, const char*, mode_t, fuse_file_info*);
void op_write(fuse_req_t, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*);
void op_flush(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_fsync(fuse_req_t, fuse_ino_t, int, fuse_file_info*);
void op_opendir(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_readdir(fuse_req_t, fuse_ino_t, size_t, off_t, fuse_file_info*);
void op_releasedir(fuse_req_t, fuse_ino_t, fuse_file_info*);
void op_fsyncdir(fuse_req_t, fuse_ino_t, int, fuse_file_info*);
void op_mkdir(fuse_req_t, fuse_ino_t, const char*, mode_t);
void op_rmdir(fuse_req_t, fuse_ino_t, const char*);
void op_unlink(fuse_req_t, fuse_ino_t, const char*);
void op_rename(fuse_req_t, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned);
void op_readlink(fuse_req_t, fuse_ino_t);
void op_symlink(fuse_req_t, const char*, fuse_ino_t, const char*);
void op_link(fuse_req_t, fuse_ino_t, fuse_ino_t, const char*);
void op_mknod(fuse_req_t, fuse_ino_t, const char*, mode_t, dev_t);
void op_getlk(fuse_req_t, fuse_ino_t, fuse_file_info*, struct flock*);
void op_setlk(fuse_req_t, fuse_ino_t, fuse_file_info*, struct flock*, int);

}  // namespace duct::mnt::p2000
