// THE table of 9P messages: every message of 9P2000 and 9P2000.L, once.
// Structs (messages.h), the codec (codec.cc) and the tracer (trace.cc) are
// all generated from it; nothing else lists messages.
//
// Sources for the layouts: Plan 9 intro(5)..wstat(5) for 9P2000; Linux
// include/net/9p/9p.h (numbers) and net/9p/client.c (format strings) and
// diod's protocol.md for 9P2000.L.
//
// Each row:  MSG(Name, type, dialect)  F(type, field) ...  END()
//   dialect: Any (both), L (9P2000.L only), P2000 (9P2000 only),
//            Duct (the duct-to-duct extension below, never sent to others)
//   field types (see messages.h): u8 u16 u32 u64 str Qid Data WNames WQids
//   Stat (9P2000 stat[n]), NUname (n_uname[4], only in 9P2000.L),
//   OptU32 (a trailing u32 some clients omit).
//
// The duct extension ("9P2000.L.duct.1", see kDuctVersionPrefix in
// messages.h): between two ducts only, when Tversion negotiated it, the
// mount may also send the Duct rows below, for what 9P2000.L cannot say.
// Their numbers, 80..93, are in the gap no dialect uses: 9P2000.L ends at
// Runlinkat 77 and 9P2000 (and 9P2000.u, which adds no types) starts at
// Tversion 100 (Linux include/net/9p/9p.h); gVisor's p9 extensions use
// 124..139 and 250, 9P2000.e 150.. . Future extensions take 94..99.
//   Tfallocate fid[4] mode[4] offset[8] length[8]       fallocate(2) on the
//       open fid; mode is Linux's FALLOC_FL_* bits, passed as they are.
//   Tlseek fid[4] offset[8] whence[1] -> Rlseek offset[8]
//       lseek(2) on the open fid for the position-free whences: SEEK_SET 0,
//       SEEK_END 2, SEEK_DATA 3, SEEK_HOLE 4 (Linux values).
//   Trenameat2 olddirfid[4] oldname[s] newdirfid[4] newname[s] flags[4]
//       Trenameat plus renameat2(2)'s flags (RENAME_NOREPLACE 1,
//       RENAME_EXCHANGE 2).
//   Twalkattr fid[4] newfid[4] nwname[2] nwname*(wname[s])
//   -> Rwalkattr nwqid[2] nwqid*(wqid[13]) xnone[4] valid[8] qid[13] mode[4]
//      uid[4] gid[4] nlink[8] rdev[8] size[8] blksize[8] blocks[8]
//      atime_sec[8] atime_nsec[8] mtime_sec[8] mtime_nsec[8] ctime_sec[8]
//      ctime_nsec[8] btime_sec[8] btime_nsec[8] gen[8] data_version[8]
//       Twalk and Tgetattr of the file walked to in one round trip (a
//       lookup). The walk is walk(5)'s: a partial one makes no newfid and
//       its reply carries only the qids walked (xnone and attributes zero).
//       The attribute fields are Rgetattr's, for the final file. xnone:
//       the xattrs the exporting side knows the file does NOT have, from
//       one llistxattr there (XNONE_* in messages.h; 0 when it could not
//       tell), so the mount answers ENODATA for them without asking.
//   Tfeed seq[8] -> Rfeed seq[8] events[count[4] bytes]
//       The change feed (export/feed.h, mount/feed.h): the mount keeps one
//       Tfeed outstanding; the export holds it (parked, on no worker) until
//       it has events about files the peer walked to or listed, then
//       answers them as one batch. seq 0 starts the feed and is answered at
//       once with no events (so the mount knows the peer has a feed); after
//       that seq is the seq of the last Rfeed the mount applied, and a
//       mismatch (a batch never applied) makes the next batch "lost". Events
//       (proto/feed.h), each kind[1] path[8] name[s]:
//         1 entry: name in directory qid path changed (created, removed,
//           renamed from or to);
//         2 inode: the attributes and/or the content of qid path changed;
//         3 lost: events may have been dropped: forget everything cached.
//       Tflush of a held Tfeed is answered at once. A duct without it
//       answers ENOSYS: the mount then keeps short timeouts.
//   And in the valid mask of Rgetattr and Rwalkattr, in a session whose
//   feed is on: GETATTR_DUCT_UNWATCHED (messages.h), "changes to this file
//   (to a directory: also to its entries) may go unreported", so the mount
//   caches it only briefly.
//   Treaddirplus fid[4] offset[8] count[4] -> Rreaddirplus count[4] data[count]
//       Treaddir whose entries carry their attributes, so a listing with
//       attributes (`ls -l`) costs a handful of round trips, not one per
//       name. Each entry is Rreaddir's qid[13] offset[8] type[1] name[s]
//       followed by xnone[4] and Rgetattr's fields valid[8] ... data_version[8]
//       (DirentPlus in codec.h). The attributes are those a Twalkattr of the
//       name would give (the walk's confinement rules included); valid 0
//       means "none" (".", "..", a name that vanished or cannot be walked
//       to): the mount then looks the name up itself. count bounds the data
//       as for Treaddir; an entry that does not fit comes in the next call.
//   Tlcreateattr dfid[4] newfid[4] name[s] flags[4] mode[4] gid[4]
//   -> Rlcreateattr iounit[4] xnone[4] valid[8] qid[13] mode[4] ... data_version[8]
//       Tlcreate without its clone: creates (or, without EXCL, opens) name
//       in directory dfid, which stays as it is, and makes newfid the open
//       file; the reply has Rgetattr's fields of the file and its xnone, so
//       a create(2) is one round trip instead of three (clone, Tlcreate,
//       Tgetattr). newfid must be unused.
// And one flag bit in an existing message: Tlock flags LOCK_FLAGS_FLOCK
// (0x100, messages.h) makes it a BSD flock(2) of the fid's own open file
// rather than a POSIX record lock; start/length/proc_id are then unused.
#pragma once

#define DUCT_9P_TABLE(MSG, F, END)                                                        \
    MSG(Rlerror, 7, L) F(u32, ecode) END()                                                \
    MSG(Tstatfs, 8, L) F(u32, fid) END()                                                  \
    MSG(Rstatfs, 9, L) F(u32, type) F(u32, bsize) F(u64, blocks) F(u64, bfree)           \
        F(u64, bavail) F(u64, files) F(u64, ffree) F(u64, fsid) F(u32, namelen) END()     \
    MSG(Tlopen, 12, L) F(u32, fid) F(u32, flags) END()                                    \
    MSG(Rlopen, 13, L) F(Qid, qid) F(u32, iounit) END()                                   \
    MSG(Tlcreate, 14, L) F(u32, fid) F(str, name) F(u32, flags) F(u32, mode)             \
        F(u32, gid) END()                                                                 \
    MSG(Rlcreate, 15, L) F(Qid, qid) F(u32, iounit) END()                                 \
    MSG(Tsymlink, 16, L) F(u32, fid) F(str, name) F(str, symtgt) F(u32, gid) END()        \
    MSG(Rsymlink, 17, L) F(Qid, qid) END()                                                \
    MSG(Tmknod, 18, L) F(u32, dfid) F(str, name) F(u32, mode) F(u32, major)              \
        F(u32, minor) F(u32, gid) END()                                                   \
    MSG(Rmknod, 19, L) F(Qid, qid) END()                                                  \
    MSG(Trename, 20, L) F(u32, fid) F(u32, dfid) F(str, name) END()                       \
    MSG(Rrename, 21, L) END()                                                             \
    MSG(Treadlink, 22, L) F(u32, fid) END()                                               \
    MSG(Rreadlink, 23, L) F(str, target) END()                                            \
    MSG(Tgetattr, 24, L) F(u32, fid) F(u64, request_mask) END()                           \
    MSG(Rgetattr, 25, L) F(u64, valid) F(Qid, qid) F(u32, mode) F(u32, uid) F(u32, gid)  \
        F(u64, nlink) F(u64, rdev) F(u64, size) F(u64, blksize) F(u64, blocks)           \
        F(u64, atime_sec) F(u64, atime_nsec) F(u64, mtime_sec) F(u64, mtime_nsec)        \
        F(u64, ctime_sec) F(u64, ctime_nsec) F(u64, btime_sec) F(u64, btime_nsec)        \
        F(u64, gen) F(u64, data_version) END()                                            \
    MSG(Tsetattr, 26, L) F(u32, fid) F(u32, valid) F(u32, mode) F(u32, uid) F(u32, gid)  \
        F(u64, size) F(u64, atime_sec) F(u64, atime_nsec) F(u64, mtime_sec)              \
        F(u64, mtime_nsec) END()                                                          \
    MSG(Rsetattr, 27, L) END()                                                            \
    MSG(Txattrwalk, 30, L) F(u32, fid) F(u32, newfid) F(str, name) END()                  \
    MSG(Rxattrwalk, 31, L) F(u64, size) END()                                             \
    MSG(Txattrcreate, 32, L) F(u32, fid) F(str, name) F(u64, attr_size) F(u32, flags)    \
        END()                                                                             \
    MSG(Rxattrcreate, 33, L) END()                                                        \
    MSG(Treaddir, 40, L) F(u32, fid) F(u64, offset) F(u32, count) END()                   \
    MSG(Rreaddir, 41, L) F(Data, data) END()                                              \
    MSG(Tfsync, 50, L) F(u32, fid) F(OptU32, datasync) END()                              \
    MSG(Rfsync, 51, L) END()                                                              \
    MSG(Tlock, 52, L) F(u32, fid) F(u8, type) F(u32, flags) F(u64, start) F(u64, length) \
        F(u32, proc_id) F(str, client_id) END()                                           \
    MSG(Rlock, 53, L) F(u8, status) END()                                                 \
    MSG(Tgetlock, 54, L) F(u32, fid) F(u8, type) F(u64, start) F(u64, length)            \
        F(u32, proc_id) F(str, client_id) END()                                           \
    MSG(Rgetlock, 55, L) F(u8, type) F(u64, start) F(u64, length) F(u32, proc_id)        \
        F(str, client_id) END()                                                           \
    MSG(Tlink, 70, L) F(u32, dfid) F(u32, fid) F(str, name) END()                         \
    MSG(Rlink, 71, L) END()                                                               \
    MSG(Tmkdir, 72, L) F(u32, dfid) F(str, name) F(u32, mode) F(u32, gid) END()           \
    MSG(Rmkdir, 73, L) F(Qid, qid) END()                                                  \
    MSG(Trenameat, 74, L) F(u32, olddirfid) F(str, oldname) F(u32, newdirfid)            \
        F(str, newname) END()                                                             \
    MSG(Rrenameat, 75, L) END()                                                           \
    MSG(Tunlinkat, 76, L) F(u32, dirfid) F(str, name) F(u32, flags) END()                 \
    MSG(Runlinkat, 77, L) END()                                                           \
    MSG(Tfallocate, 80, Duct) F(u32, fid) F(u32, mode) F(u64, offset) F(u64, length)     \
        END()                                                                             \
    MSG(Rfallocate, 81, Duct) END()                                                       \
    MSG(Tlseek, 82, Duct) F(u32, fid) F(u64, offset) F(u8, whence) END()                  \
    MSG(Rlseek, 83, Duct) F(u64, offset) END()                                            \
    MSG(Trenameat2, 84, Duct) F(u32, olddirfid) F(str, oldname) F(u32, newdirfid)        \
        F(str, newname) F(u32, flags) END()                                               \
    MSG(Rrenameat2, 85, Duct) END()                                                       \
    MSG(Twalkattr, 86, Duct) F(u32, fid) F(u32, newfid) F(WNames, wname) END()            \
    MSG(Rwalkattr, 87, Duct) F(WQids, wqid) F(u32, xnone) F(u64, valid) F(Qid, qid)      \
        F(u32, mode) F(u32, uid) F(u32, gid) F(u64, nlink) F(u64, rdev) F(u64, size)     \
        F(u64, blksize) F(u64, blocks) F(u64, atime_sec) F(u64, atime_nsec)              \
        F(u64, mtime_sec) F(u64, mtime_nsec) F(u64, ctime_sec) F(u64, ctime_nsec)        \
        F(u64, btime_sec) F(u64, btime_nsec) F(u64, gen) F(u64, data_version) END()      \
    MSG(Tfeed, 88, Duct) F(u64, seq) END()                                                \
    MSG(Rfeed, 89, Duct) F(u64, seq) F(Data, events) END()                                \
    MSG(Treaddirplus, 90, Duct) F(u32, fid) F(u64, offset) F(u32, count) END()            \
    MSG(Rreaddirplus, 91, Duct) F(Data, data) END()                                       \
    MSG(Tlcreateattr, 92, Duct) F(u32, dfid) F(u32, newfid) F(str, name) F(u32, flags)   \
        F(u32, mode) F(u32, gid) END()                                                    \
    MSG(Rlcreateattr, 93, Duct) F(u32, iounit) F(u32, xnone) F(u64, valid) F(Qid, qid)   \
        F(u32, mode) F(u32, uid) F(u32, gid) F(u64, nlink) F(u64, rdev) F(u64, size)     \
        F(u64, blksize) F(u64, blocks) F(u64, atime_sec) F(u64, atime_nsec)              \
        F(u64, mtime_sec) F(u64, mtime_nsec) F(u64, ctime_sec) F(u64, ctime_nsec)        \
        F(u64, btime_sec) F(u64, btime_nsec) F(u64, gen) F(u64, data_version) END()      \
    MSG(Tversion, 100, Any) F(u32, msize) F(str, version) END()                           \
    MSG(Rversion, 101, Any) F(u32, msize) F(str, version) END()                           \
    MSG(Tauth, 102, Any) F(u32, afid) F(str, uname) F(str, aname) F(NUname, n_uname)     \
        END()                                                                             \
    MSG(Rauth, 103, Any) F(Qid, aqid) END()                                               \
    MSG(Tattach, 104, Any) F(u32, fid) F(u32, afid) F(str, uname) F(str, aname)          \
        F(NUname, n_uname) END()                                                          \
    MSG(Rattach, 105, Any) F(Qid, qid) END()                                              \
    MSG(Rerror, 107, P2000) F(str, ename) END()                                               \
    MSG(Tflush, 108, Any) F(u16, oldtag) END()                                            \
    MSG(Rflush, 109, Any) END()                                                           \
    MSG(Twalk, 110, Any) F(u32, fid) F(u32, newfid) F(WNames, wname) END()                \
    MSG(Rwalk, 111, Any) F(WQids, wqid) END()                                             \
    MSG(Topen, 112, P2000) F(u32, fid) F(u8, mode) END()                                      \
    MSG(Ropen, 113, P2000) F(Qid, qid) F(u32, iounit) END()                                   \
    MSG(Tcreate, 114, P2000) F(u32, fid) F(str, name) F(u32, perm) F(u8, mode) END()          \
    MSG(Rcreate, 115, P2000) F(Qid, qid) F(u32, iounit) END()                                 \
    MSG(Tread, 116, Any) F(u32, fid) F(u64, offset) F(u32, count) END()                   \
    MSG(Rread, 117, Any) F(Data, data) END()                                              \
    MSG(Twrite, 118, Any) F(u32, fid) F(u64, offset) F(Data, data) END()                  \
    MSG(Rwrite, 119, Any) F(u32, count) END()                                             \
    MSG(Tclunk, 120, Any) F(u32, fid) END()                                               \
    MSG(Rclunk, 121, Any) END()                                                           \
    MSG(Tremove, 122, Any) F(u32, fid) END()                                              \
    MSG(Rremove, 123, Any) END()                                                          \
    MSG(Tstat, 124, P2000) F(u32, fid) END()                                                  \
    MSG(Rstat, 125, P2000) F(Stat, stat) END()                                                \
    MSG(Twstat, 126, P2000) F(u32, fid) F(Stat, stat) END()                                   \
    MSG(Rwstat, 127, P2000) END()
