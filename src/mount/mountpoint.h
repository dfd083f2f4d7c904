// mountpoint: the checks and steps both backends make on their mount point.
// What /proc/self/mountinfo says is mounted at a path: refuse a mount point
// that already has a mount on it, and at teardown unmount the path only
// while the mount on top of it is still ours (umount2 takes a path and
// removes whatever is on top: another duct's mount, or a tmpfs someone
// stacked over ours). And the bounded flush before an orderly unmount.
// Threads: flush_within() runs syncfs on a thread of its own, so that a
// stuck peer cannot hold the caller longer than the bound; the rest runs
// on the caller's thread and reads mountinfo afresh each time.
#pragma once
#include <string>
#include <vector>

namespace duct::mnt {

struct MountEntry {
    int id = 0, parent = 0;
    std::string dev;         // "major:minor" (a FUSE mount: "0:N", N names its fusectl directory)
    std::string mountpoint;  // unescaped
    std::string fstype;      // "fuse.duct", "9p", "tmpfs", ...
    std::string source;      // "duct", ...
};

// The mounts at `path` (absolute, no symlinks), bottom first: each one is
// mounted on the one before it. Empty if nothing is mounted there.
std::vector<MountEntry> mounts_at(const std::string& path);

// Checks a mount point before anything is mounted or any channel is used:
// it exists, is a directory, has no mount on it already. Sets `real` to
// its absolute path; else false and `err` says why.
bool check_mountpoint(const std::string& mountpoint, std::string& real, std::string& err);

// Where our mount (the one whose mountinfo "major:minor" is `dev`) is now.
enum class Place { Top, Covered, Gone };
Place place_of(const std::string& path, const std::string& dev);

// How many files processes hold on the mount with mountinfo id `mnt_id`
// and device `dev` ("major:minor"): open fds (/proc/PID/fdinfo mnt_id) and
// mapped files (/proc/PID/maps), each file of each process once. Processes
// we may not look into are not counted.
size_t files_held_on(int mnt_id, const std::string& dev);

// Writes back what the page cache holds for our mount (dirty mmap pages
// above all: a write(2) is already with the peer) before an orderly
// unmount: syncfs(2) on `path` when our mount is on top, else sync(2).
// Waits at most `seconds`; false if it took longer (it goes on meanwhile,
// and ends once the mount is detached or aborted).
bool flush_within(const std::string& path, Place where, int seconds);

}  // namespace duct::mnt
