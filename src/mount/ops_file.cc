// FUSE ops on open files: open (clone the node's fid + Tlopen), create
// (between two ducts one Tlcreateattr, the new node lazy (inodes.h);
// otherwise clone the dir fid + Tlcreate, then a walk for the new node),
// read/write (Tread/Twrite in chunks of msize - IOHDRSZ or the iounit;
// above 256 KiB in pieces sent together, bulk_io.h), flush (nothing
// is cached, so nothing to do), release (Tclunk), fsync (Tfsync).
// fallocate and lseek(SEEK_DATA/SEEK_HOLE) have no 9P2000.L message: with a
// duct that negotiated the extension they are Tfallocate / Tlseek on the
// open fid (table.h); with any other peer fallocate is EOPNOTSUPP (glibc's
// posix_fallocate then writes zeros) and lseek is ENOSYS, which makes the
// kernel use its generic lseek from then on (the whole file is data).
// SEEK_SET/CUR/END never reach us: the kernel does them itself.
// O_APPEND opens are direct_io (append_whole): the page-cache write path
// splits a write at a page it must not leave locked, and each part would be
// appended on its own, so another appender's line could land in between.
// Direct I/O hands us each write(2) whole (up to max_write), sent as one
// Twrite when it fits the iounit, and the export's O_APPEND write() lands it
// whole. Larger writes cannot be atomic over 9P (several Twrites).
// Runs on FUSE workers; each op blocks in rpc.
#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "mount/bulk_io.h"
#include "mount/ext_ops.h"
#include "mount/fs.h"
#include "mount/readahead.h"
#include "proto/oflags.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {
void append_whole(fuse_file_info* fi) {
    if (fi->flags & O_APPEND) fi->direct_io = 1;
}
// An append is cut only where a Twrite must end, not at the page boundary
// io_chunk rounds to (its offset is ignored anyway): max_write is the
// iosize, so each request of an append is one Twrite.
uint32_t write_chunk(Fs& fs, fuse_file_info* fi) {
    if (!(fi->flags & O_APPEND)) return io_chunk(fs, fi->fh);
    uint32_t n = fs.c.iosize(), iou = fh_iounit(fi->fh);
    return iou && iou < n ? iou : n;
}
}  // namespace

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    apply_readahead(fs_of(req));  // once per mount (readahead.h)
    NodeFid nfid;
    if (int e = node_fid(fs, ino, nfid)) return (void)fuse_reply_err(req, e);
    if (int e = open_clone(fs, req, nfid, fi->flags, fi->fh))
        return (void)fuse_reply_err(req, e);
    direct_io_of(fi);
    append_whole(fi);
    // Unchanged since its pages were read, as the change feed promises:
    // keep them (else the kernel drops them at every open: close-to-open).
    if (keep_pages(fs, ino)) fi->keep_cache = 1;
    if (fuse_reply_open(req, fi) == -ENOENT) {  // the caller went away
        fs.untrack(fh_fid(fi->fh));
        fs.c.clunk_async(fh_fid(fi->fh));
    }
}

// Tlcreateattr (duct extension): the open file in a new fid and its
// attributes in one round trip; the node is lazy (inodes.h), walked to only
// when an op needs its own fid. Returns ENOSYS (nothing replied) for a duct
// older than the message, else replies itself and returns 0, or returns the
// error to reply.
static int create_with_attrs(Fs& fs, fuse_req_t req, fuse_ino_t parent, uint32_t dfid,
                             const char* name, uint32_t lflags, uint32_t cmode,
                             fuse_file_info* fi) {
    uint32_t fid = fs.c.alloc_fid();
    const uint64_t gen0 = fs.c.feed_gen();
    Rlcreateattr r;
    if (int e = fs.c.call(Tlcreateattr{dfid, fid, name, lflags, cmode, create_gid(fs, req)}, r, req)) {
        fs.c.free_fid(fid);
        return e;
    }
    fs.track(fid);
    fi->fh = make_fh(fid, r.iounit);
    direct_io_of(fi);
    Rgetattr a;
    copy_attrs(r, a);
    // Given to another owner: the attributes have changed since.
    if (!set_owner(fs, req, parent, name)) map_ids(fs, a);
    else if (getattr(fs, fid, a, req) != 0) a.valid = 0;
    fuse_entry_param e = {};
    if (a.valid) e.ino = fs.nodes.add_lazy(parent, name, a.qid, a.gen);
    if (!e.ino) {  // the parent went meanwhile, or no attributes
        fs.untrack(fid);
        fs.c.clunk_async(fid);
        return a.valid ? ESTALE : EIO;
    }
    stat_from(a, e.attr);
    entry_times(fs, parent, name, a, gen0, e);  // long with the change feed (feed.cc)
    if (r.xnone) fs.xnone.put(e.ino, r.xnone, e.attr_timeout);
    else fs.xnone.forget(e.ino);
    append_whole(fi);
    if (fuse_reply_create(req, &e, fi) == -ENOENT) {  // the caller went away
        fs.untrack(fid);
        fs.c.clunk_async(fid);
        fs.nodes.forget(e.ino, 1);
    }
    return 0;
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    NodeFid dfid;
    uint32_t fid;
    if (int e = node_fid(fs, parent, dfid)) return (void)fuse_reply_err(req, e);
    // Tlcreate creates: O_CREAT goes (wire_oflags keeps it out of Tlopen).
    uint32_t lflags = wire_oflags(fi->flags) | p9::DOTL_CREATE | (fi->flags & O_EXCL ? p9::DOTL_EXCL : 0);
    uint32_t cmode = create_mode(fs, req, parent, mode);
    if (fs.c.duct_ext() && !fs.no_lcreateattr.load()) {
        int e = create_with_attrs(fs, req, parent, dfid, name, lflags, cmode, fi);
        if (e != ENOSYS) {
            if (e) fuse_reply_err(req, e);
            return;
        }
        fs.no_lcreateattr = true;
    }
    if (int e = walk(fs, dfid, nullptr, fid, req)) return (void)fuse_reply_err(req, e);
    Tlcreate t{fid, name, lflags, cmode, create_gid(fs, req)};
    Rlcreate r;
    if (int e = fs.c.call(t, r, req)) {
        fs.c.clunk_async(fid);
        return (void)fuse_reply_err(req, e);
    }
    // lcreate turned fid into the open file; the node needs a fid of its own.
    fs.track(fid);
    fi->fh = make_fh(fid, r.iounit);
    direct_io_of(fi);
    set_owner(fs, req, parent, name);
    // The node's own fid (a walk to the name) and the attributes (from the
    // open fid, which is the same file) in one round trip.
    uint32_t nfid = fs.c.alloc_fid();
    Rwalk w;
    Rgetattr a;
    int ew, ea;
    fs.c.call_pair(Twalk{dfid, nfid, {name}}, w, ew, Tgetattr{fid, GETATTR_BASIC}, a, ea);
    if (!ew && w.wqid.size() != 1) ew = ENOENT;
    if (ew) fs.c.free_fid(nfid);
    if (ew || ea) {
        if (!ew) fs.c.clunk_async(nfid);
        fs.untrack(fid);
        fs.c.clunk_async(fid);
        return (void)fuse_reply_err(req, ew ? ew : ea);
    }
    map_ids(fs, a);
    fuse_entry_param e;
    entry_from(fs, nfid, a, e);
    append_whole(fi);
    if (fuse_reply_create(req, &e, fi) == -ENOENT) {
        fs.untrack(fid);
        fs.c.clunk_async(fid);
    }
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    uint32_t fid = fh_fid(fi->fh), chunk = io_chunk(fs, fi->fh);
    Rread r;
    if (size <= chunk && (size <= kBulkPiece || (fi->flags & O_DIRECT))) {  // one Tread, no extra copy
        if (int e = fs.c.call(Tread{fid, uint64_t(off), uint32_t(size)}, r, req))
            return (void)fuse_reply_err(req, e);
        size_t n = std::min(r.data.bytes.size(), size);
        fs.c.bytes_read += n;
        return (void)fuse_reply_buf(req, r.data.bytes.data(), n);
    }
    // Read-ahead (not O_DIRECT: the file is positional): pieces in flight
    // together, handed to the kernel as they came, without a copy.
    if (!(fi->flags & O_DIRECT) && size > kBulkPiece) {
        std::vector<std::string> parts;
        if (int e = read_pieces(fs, fid, size, uint64_t(off), chunk, parts)) return (void)fuse_reply_err(req, e);
        std::vector<iovec> iov;
        size_t n = 0;
        for (auto& p : parts) {
            iov.push_back({p.data(), p.size()});
            n += p.size();
        }
        fs.c.bytes_read += n;
        return (void)fuse_reply_iov(req, iov.data(), int(iov.size()));
    }
    std::string buf;
    while (buf.size() < size) {
        uint32_t want = uint32_t(std::min<size_t>(chunk, size - buf.size()));
        int e = fs.c.call(Tread{fid, uint64_t(off) + buf.size(), want}, r, req);
        if (e) {
            if (buf.empty()) return (void)fuse_reply_err(req, e);
            break;
        }
        size_t n = std::min<size_t>(r.data.bytes.size(), want);
        buf.append(r.data.bytes, 0, n);
        if (n < want) break;  // end of file
    }
    fs.c.bytes_read += buf.size();
    fuse_reply_buf(req, buf.data(), buf.size());
}

void op_write(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t off,
              fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    uint32_t fid = fh_fid(fi->fh), chunk = write_chunk(fs, fi);
    // Not an append (one Twrite, whole: append_whole): pieces in flight
    // together, so metadata never waits for more than one (bulk_io.h).
    // On a slow link only: elsewhere one frame is cheaper and brief.
    auto t0 = std::chrono::steady_clock::now();
    auto took = [&] {
        write_took(fs, size, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    };
    if (!(fi->flags & O_APPEND) && write_split(fs, size)) {
        ssize_t n = write_pieces(fs, fid, data, size, uint64_t(off), chunk);
        if (n < 0) return (void)fuse_reply_err(req, int(-n));
        took();
        fs.c.bytes_written += size_t(n);
        return (void)fuse_reply_write(req, size_t(n));
    }
    size_t done = 0;
    while (done < size) {
        uint32_t n = uint32_t(std::min<size_t>(chunk, size - done));
        Twrite t{fid, uint64_t(off) + done, Data{std::string(data + done, n)}};
        Rwrite r;
        int e = fs.c.call(std::move(t), r, req);
        if (e) {
            if (done == 0) return (void)fuse_reply_err(req, e);
            break;
        }
        if (r.count == 0 || r.count > n) break;
        done += r.count;
    }
    if (done == size) took();
    fs.c.bytes_written += done;
    fuse_reply_write(req, done);
}

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    // No write-back cache: every write was answered by the peer already.
    // A close releases the closing process's POSIX locks on the file.
    drop_locks(req, fi);
    fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    uint32_t fid = fh_fid(fi->fh);
    fs.untrack(fid);
    fs.c.clunk(fid);
    fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    Rfsync r;
    int e = fs.c.call(Tfsync{fh_fid(fi->fh), OptU32{uint32_t(datasync ? 1 : 0)}}, r, req);
    fuse_reply_err(req, e);
}

void op_fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                  fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    if (!fs.c.duct_ext()) return (void)fuse_reply_err(req, EOPNOTSUPP);  // 9P2000.L has no Tfallocate
    // The kernel has checked offset >= 0 and length > 0; the mode bits go
    // as they are, so the exporting file system decides what it supports.
    Rfallocate r;
    fuse_reply_err(req, fs.c.call(Tfallocate{fh_fid(fi->fh), uint32_t(mode), uint64_t(offset),
                                             uint64_t(length)},
                                  r, req));
}

void op_lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    if (!fs.c.duct_ext()) return (void)fuse_reply_err(req, ENOSYS);  // kernel: generic lseek for good
    Rlseek r;
    if (int e = fs.c.call(Tlseek{fh_fid(fi->fh), uint64_t(off), uint8_t(whence)}, r, req))
        return (void)fuse_reply_err(req, e);
    if (r.offset > uint64_t(INT64_MAX)) return (void)fuse_reply_err(req, EIO);  // a bogus peer
    fuse_reply_lseek(req, off_t(r.offset));
}

}  // namespace duct::mnt
