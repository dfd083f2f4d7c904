// File handles for fids (see handle.h): making them, the per-mount
// descriptors open_by_handle_at needs, and opening them per request.
// Threads: any worker; the mount table under Handles::mu_.
#include "export/handle.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "export/creds.h"

namespace duct::exp {

namespace {

constexpr size_t kMaxHandle = 128;  // MAX_HANDLE_SZ in the kernel
constexpr size_t kSweepAt = 64;     // forget dead mounts once the table is this big

file_handle* as_handle(void* p) { return static_cast<file_handle*>(p); }
const file_handle* as_handle(const void* p) { return static_cast<const file_handle*>(p); }

// name_to_handle_at(fd, "", AT_EMPTY_PATH): false where the file system
// makes no handles (EOPNOTSUPP) or anything else goes wrong (the caller
// then falls back to holding the descriptor).
bool make_handle(int fd, std::vector<unsigned char>& buf, int& mount_id) {
    buf.assign(sizeof(file_handle) + kMaxHandle, 0);
    as_handle(buf.data())->handle_bytes = kMaxHandle;
    if (name_to_handle_at(fd, "", as_handle(buf.data()), &mount_id, AT_EMPTY_PATH) != 0) return false;
    buf.resize(sizeof(file_handle) + as_handle(buf.data())->handle_bytes);
    return true;
}

int open_handle(int mount_fd, const void* h) {
    // A worker acting as a user has lost CAP_DAC_READ_SEARCH with its
    // fsuid; decoding is the server's business (O_PATH checks no
    // permission), what the user then does with the fd is checked as the user.
    int fd, e;
    {
        ServerFsuid as_server;
        fd = open_by_handle_at(mount_fd, const_cast<file_handle*>(as_handle(h)), O_PATH | O_CLOEXEC);
        e = errno;
    }
    errno = e;
    return fd;
}

bool same_file(int a, int b) {
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// open_by_handle_at's mount_fd may not be an O_PATH descriptor (EBADF):
// a directory opened for reading, as the server (who may read any).
Fd open_mount_dir(int dir) {
    ServerFsuid as_server;
    Fd fd(openat(dir, ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    return fd;
}

}  // namespace

bool handle_names(const FileHandle& h, int dir, const char* name) {
    std::vector<unsigned char> buf(sizeof(file_handle) + kMaxHandle, 0);
    as_handle(buf.data())->handle_bytes = kMaxHandle;
    int mount_id = -1;
    if (name_to_handle_at(dir, name, as_handle(buf.data()), &mount_id, 0) != 0) return true;
    buf.resize(sizeof(file_handle) + as_handle(buf.data())->handle_bytes);
    return buf == h.buf && (!h.mnt || h.mnt->id == mount_id);
}

void FileHandle::pin(std::shared_ptr<const Fd> fd) const {
    std::lock_guard<std::mutex> g(mu_);
    pin_ = std::move(fd);
    has_pin_.store(true, std::memory_order_release);
}

std::shared_ptr<const Fd> FileHandle::pinned() const {
    if (!has_pin_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard<std::mutex> g(mu_);
    return pin_;
}

std::shared_ptr<const Fd> FileHandle::recent() const {
    std::lock_guard<std::mutex> g(mu_);
    return open_.lock();
}

void FileHandle::opened(const std::shared_ptr<const Fd>& fd) const {
    std::lock_guard<std::mutex> g(mu_);
    open_ = fd;
}

void MountRef::remember(std::shared_ptr<const Fd> dir) const {
    std::lock_guard<std::mutex> g(recent_mu_);
    recent_[next_++ % kRecentDirs] = std::move(dir);  // the oldest closes (when its last user is done)
}

PathFd open_ref(const FileRef& r, int& err) {
    if (r.pfd) return PathFd(r.pfd);
    if (!r.fh) {
        err = EBADF;
        return {};
    }
    if (auto p = r.fh->pinned()) return PathFd(std::move(p));
    if (r.fh->dir)
        if (auto p = r.fh->recent()) return PathFd(std::move(p));
    Fd fd(open_handle(r.fh->mnt->fd.get(), r.fh->buf.data()));
    if (!fd) {
        err = errno;
        return {};
    }
    if (!r.fh->dir) return PathFd(std::move(fd));
    auto p = std::make_shared<const Fd>(std::move(fd));
    r.fh->opened(p);
    r.fh->mnt->remember(p);
    return PathFd(std::move(p));
}

void Handles::init(int root) {
    std::vector<unsigned char> buf;
    int id = -1;
    if (!make_handle(root, buf, id)) return;
    Fd dir = open_mount_dir(root);
    if (!dir) return;
    Fd back(open_handle(dir.get(), buf.data()));  // EPERM without CAP_DAC_READ_SEARCH
    enabled_ = back && same_file(back.get(), root);
}

std::shared_ptr<const MountRef> Handles::mount_of(int id, int fd, int parent, const void* handle) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = mounts_.find(id);
    if (it != mounts_.end())
        if (auto m = it->second.lock()) return m;
    // A mount id is not reused while a descriptor on that mount is open, and
    // every live MountRef holds one: a dead entry may be replaced freely.
    if (mounts_.size() >= kSweepAt)
        for (auto i = mounts_.begin(); i != mounts_.end();) i = i->second.expired() ? mounts_.erase(i) : ++i;
    auto m = std::make_shared<MountRef>();
    m->id = id;
    // The descriptor must be a directory (open_mount_dir); it also pins
    // what it names, and a directory is better pinned than a file the
    // exporting side may delete. A non-directory's parent qualifies if it
    // is on the same mount; a file bind-mounted onto a name has none, and
    // its fids hold descriptors.
    struct stat st;
    if (fstat(fd, &st) != 0) return nullptr;
    int pin = fd;
    if (!S_ISDIR(st.st_mode)) {
        std::vector<unsigned char> pb;
        int pid = -1;
        if (parent >= 0 && make_handle(parent, pb, pid) && pid == id) pin = parent;
        else pin = -1;
    }
    if (pin >= 0) {
        m->fd = open_mount_dir(pin);
        if (!m->fd) return nullptr;  // out of descriptors: the caller holds fd instead
    }
    if (!m->fd) {
        mounts_[id] = m;  // unusable
        return m;
    }
    // Some file systems make handles they cannot open again: try once.
    Fd back(open_handle(m->fd.get(), handle));
    if (!back && errno == ESTALE) return nullptr;  // the file went meanwhile: no verdict
    m->usable = back && same_file(back.get(), fd);
    mounts_[id] = m;
    return m;
}

std::shared_ptr<const FileHandle> Handles::handle_of(int fd, int parent, bool dir) {
    if (!enabled_) return nullptr;
    auto h = std::make_shared<FileHandle>();
    h->dir = dir;
    int id = -1;
    if (!make_handle(fd, h->buf, id)) return nullptr;
    h->mnt = mount_of(id, fd, parent, h->buf.data());
    if (!h->mnt || !h->mnt->usable) return nullptr;
    return h;
}

FileRef Handles::hold(Fd fd, int parent, bool dir) {
    FileRef r;
    r.fh = handle_of(fd.get(), parent, dir);
    if (!r.fh) r.pfd = std::make_shared<const Fd>(std::move(fd));
    return r;  // with a handle, fd closes here: nothing of the file stays open
}

}  // namespace duct::exp
