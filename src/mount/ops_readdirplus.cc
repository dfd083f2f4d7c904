// FUSE readdirplus: a listing whose entries carry their attributes, so the
// kernel needs no lookup per name afterwards (`ls -l` of N files is a
// handful of Treaddirplus round trips, not N Twalkattrs). Only between two
// ducts (Treaddirplus, proto/table.h); init asks the kernel for it then.
//
// Each entry given with a node id raises that node's lookup count in the
// kernel, so it gets a node here too, but a lazy one (inodes.h): no fid on
// the export until an op needs it (node_fid walks the name then). Entries
// the export sent without attributes ("." and "..", a name that vanished
// or may not be walked to) go with node id 0: the kernel then makes no
// dentry and looks the name up itself when it needs it. A duct older than
// Treaddirplus answers ENOSYS: plain Treaddir entries (node id 0) from then
// on.
// Runs on FUSE workers; blocks in rpc.
#include <cerrno>
#include <cstring>

#include "mount/fs.h"
#include "proto/codec.h"

namespace duct::mnt {

using namespace duct::p9;

namespace {

bool dot_or_dotdot(const std::string& n) { return n == "." || n == ".."; }

}  // namespace

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
    Fs& fs = fs_of(req);
    if (fs.no_readdirplus.load()) return reply_treaddir(fs, req, size, off, fi, true);
    // A wire entry is some 30 bytes longer than FUSE's (its name unpadded):
    // ask a quarter more so one reply fills the kernel's buffer; what does
    // not fit is asked for again from its offset.
    uint32_t count = uint32_t(std::min<size_t>(size + size / 4, io_chunk(fs, fi->fh)));
    Rreaddirplus r;
    const uint64_t gen0 = fs.c.feed_gen();
    int err = fs.c.call(Treaddirplus{fh_fid(fi->fh), uint64_t(off), count}, r, req);
    if (err == ENOSYS) {
        fs.no_readdirplus = true;
        return reply_treaddir(fs, req, size, off, fi, true);
    }
    if (err) return (void)fuse_reply_err(req, err);
    // Parse everything first: a malformed reply then adds no node.
    std::vector<DirentPlus> ents;
    size_t pos = 0;
    while (pos < r.data.bytes.size()) {
        DirentPlus d;
        if (!parse_direntplus(r.data.bytes, pos, d)) return (void)fuse_reply_err(req, EIO);
        ents.push_back(std::move(d));
    }
    std::string out(size, '\0');
    size_t used = 0;
    std::vector<uint64_t> added;
    for (DirentPlus& d : ents) {
        fuse_entry_param e = {};
        bool attrs = d.attr.valid != 0 && !dot_or_dotdot(d.d.name) &&
                     std::memchr(d.d.name.data(), '/', d.d.name.size()) == nullptr &&
                     std::memchr(d.d.name.data(), '\0', d.d.name.size()) == nullptr && !d.d.name.empty();
        if (attrs) {
            map_ids(fs, d.attr);
            stat_from(d.attr, e.attr);
            e.attr_timeout = fs.timeout;
            e.entry_timeout = fs.timeout;
        } else {
            e.attr.st_ino = d.d.qid.path;
            e.attr.st_mode = mode_t(d.d.type) << 12;
        }
        // The size it takes, before a node is made for it: an entry that
        // does not fit must not raise a lookup count the kernel never sees.
        size_t n = fuse_add_direntry_plus(req, nullptr, 0, d.d.name.c_str(), &e, off_t(d.d.offset));
        if (n > size - used) break;
        if (attrs) {
            e.ino = fs.nodes.add_lazy(ino, d.d.name, d.attr.qid, d.attr.gen);
            if (e.ino) {
                added.push_back(e.ino);
                // Long, when the change feed reports this directory (feed.cc).
                entry_times(fs, ino, d.d.name.c_str(), d.attr, gen0, e);
                if (d.xnone) fs.xnone.put(e.ino, d.xnone, e.attr_timeout);
                else fs.xnone.forget(e.ino);
            }
        }
        fuse_add_direntry_plus(req, out.data() + used, size - used, d.d.name.c_str(), &e,
                               off_t(d.d.offset));
        used += n;
    }
    // The kernel drops the reply only if the request was interrupted; the
    // lookups it then never counted are forgotten here.
    if (fuse_reply_buf(req, out.data(), used) == -ENOENT)
        for (uint64_t n : added) fs.nodes.forget(n, 1);
}

}  // namespace duct::mnt
