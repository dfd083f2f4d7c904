// fsx — a randomized file exerciser in the style of fsx (Avadis Tevanian Jr.,
// later Apple/XFS): one file is driven by a fixed-seed random sequence of
// write, read, truncate, append, fsync, close/reopen, rename and stat, and an
// in-memory model holds what its content must be. Every read and every size
// is compared with the model at once; the first mismatch prints the recent
// operations and exits 1. At the end the whole file is compared, and with
// --backing the file as it sits on the exporting side's disk as well (after
// close; that is the "nothing acknowledged is lost" check).
//
// Usage: fsx [-n OPS] [-t SECONDS] [-s SEED] [-m MAXSIZE] [--backing DIR] DIR NAME
//   DIR is where the file lives (a duct mount); --backing DIR2 is the same
//   directory on the exporting side; -t stops after SECONDS even if fewer
//   than OPS operations ran (the benchmark's timed run). Single-threaded;
//   one process per file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <deque>
#include <random>
#include <string>

namespace {

std::deque<std::string> g_log;  // the last operations, shown on failure
void note(const char* f, long long a = 0, long long b = 0) {
    char buf[160];
    snprintf(buf, sizeof buf, f, a, b);
    g_log.push_back(buf);
    if (g_log.size() > 30) g_log.pop_front();
}
[[noreturn]] void fail(const std::string& why) {
    fprintf(stderr, "fsx: FAIL: %s\nlast operations:\n", why.c_str());
    for (auto& l : g_log) fprintf(stderr, "  %s\n", l.c_str());
    exit(1);
}
void need(bool ok, const char* what) {
    if (!ok) fail(std::string(what) + ": " + strerror(errno));
}

// compare: first differing byte between the file's bytes and the model's
void compare(const std::string& model, const char* got, size_t off, size_t n, const char* what) {
    for (size_t i = 0; i < n; i++) {
        char want = off + i < model.size() ? model[off + i] : 0;
        if (got[i] != want) {
            char b[200];
            snprintf(b, sizeof b, "%s: byte at %zu is 0x%02x, model says 0x%02x", what, off + i,
                     (unsigned char)got[i], (unsigned char)want);
            fail(b);
        }
    }
}

std::string read_all(const std::string& path) {
    int f = open(path.c_str(), O_RDONLY);
    need(f >= 0, ("open " + path).c_str());
    std::string s;
    char buf[1 << 16];
    ssize_t k;
    while ((k = read(f, buf, sizeof buf)) > 0) s.append(buf, k);
    need(k == 0, "read final");
    close(f);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    long ops = 2000, maxsize = 1 << 20, seconds = 0;
    unsigned long seed = 1;
    std::string backing, dir, name;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "-n" && i + 1 < argc) ops = atol(argv[++i]);
        else if (a == "-t" && i + 1 < argc) seconds = atol(argv[++i]);
        else if (a == "-s" && i + 1 < argc) seed = strtoul(argv[++i], nullptr, 0);
        else if (a == "-m" && i + 1 < argc) maxsize = atol(argv[++i]);
        else if (a == "--backing" && i + 1 < argc) backing = argv[++i];
        else if (dir.empty()) dir = a;
        else name = a;
    }
    if (dir.empty() || name.empty()) {
        fprintf(stderr, "usage: fsx [-n OPS] [-t SECONDS] [-s SEED] [-m MAXSIZE] [--backing DIR] DIR NAME\n");
        return 2;
    }
    std::mt19937_64 rng(seed);
    auto rnd = [&](long n) { return n <= 0 ? 0L : long(rng() % uint64_t(n)); };
    std::string model;
    std::string cur = name;  // renames move the file between two names
    auto path = [&](const std::string& n) { return dir + "/" + n; };
    unlink(path(name).c_str());
    unlink(path(name + ".r").c_str());
    int fd = open(path(cur).c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    need(fd >= 0, "create");
    int afd = open(path(cur).c_str(), O_WRONLY | O_APPEND);  // a second open file, appending
    need(afd >= 0, "open O_APPEND");
    std::string buf;
    auto t0 = std::chrono::steady_clock::now();
    auto out_of_time = [&] {
        return seconds > 0 && std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(seconds);
    };
    long op = 0;
    for (; op < ops && !((op & 63) == 0 && out_of_time()); op++) {
        int kind = rnd(100);
        if (kind < 30) {  // write at a random offset, often past EOF (a hole)
            long off = rnd(maxsize), len = 1 + rnd(std::min(65536L, maxsize - off));
            buf.resize(len);
            for (auto& c : buf) c = char(rng());
            note("write off %lld len %lld", off, len);
            need(pwrite(fd, buf.data(), len, off) == len, "pwrite");
            if ((long)model.size() < off + len) model.resize(off + len, 0);
            model.replace(off, len, buf);
        } else if (kind < 55) {  // read and compare (around EOF too)
            long off = rnd(model.size() + 4096), len = 1 + rnd(65536);
            buf.assign(len, '\x5a');
            note("read off %lld len %lld", off, len);
            ssize_t k = pread(fd, &buf[0], len, off);
            need(k >= 0, "pread");
            long want = std::max(0L, std::min(len, (long)model.size() - off));
            if (k != want) fail("read returned " + std::to_string(k) + ", model says " + std::to_string(want));
            compare(model, buf.data(), off, k, "read");
        } else if (kind < 65) {  // truncate up or down
            long sz = rnd(4) == 0 ? 0 : rnd(maxsize);
            note("truncate to %lld", sz);
            need(ftruncate(fd, sz) == 0, "ftruncate");
            model.resize(sz, 0);
        } else if (kind < 77) {  // append through the O_APPEND descriptor
            long len = 1 + rnd(8192);
            if ((long)model.size() + len > maxsize) continue;
            buf.resize(len);
            for (auto& c : buf) c = char(rng());
            note("append len %lld at %lld", len, (long long)model.size());
            need(write(afd, buf.data(), len) == len, "append");
            model += buf;
        } else if (kind < 82) {
            note("fsync");
            need(fsync(rnd(2) ? fd : afd) == 0, "fsync");
        } else if (kind < 88) {  // size as seen by fstat and by stat of the name
            struct stat a, b;
            need(fstat(fd, &a) == 0 && stat(path(cur).c_str(), &b) == 0, "stat");
            note("stat size %lld (model %lld)", a.st_size, (long long)model.size());
            if (a.st_size != (off_t)model.size() || b.st_size != (off_t)model.size())
                fail("size: fstat " + std::to_string(a.st_size) + " stat " + std::to_string(b.st_size) + " model " +
                     std::to_string(model.size()));
        } else if (kind < 94) {  // rename to the other name; open files follow
            std::string to = cur == name ? name + ".r" : name;
            note("rename");
            need(rename(path(cur).c_str(), path(to).c_str()) == 0, "rename");
            cur = to;
        } else {  // close and reopen both descriptors by the current name
            note("close/reopen");
            close(fd);
            close(afd);
            fd = open(path(cur).c_str(), O_RDWR);
            afd = open(path(cur).c_str(), O_WRONLY | O_APPEND);
            need(fd >= 0 && afd >= 0, "reopen");
        }
    }
    close(fd);
    close(afd);
    std::string got = read_all(path(cur));
    if (got.size() != model.size()) fail("final size " + std::to_string(got.size()) + " model " + std::to_string(model.size()));
    compare(model, got.data(), 0, got.size(), "final content");
    if (!backing.empty()) {
        std::string disk = read_all(backing + "/" + cur);
        if (disk.size() != model.size()) fail("on the exporting side: size " + std::to_string(disk.size()));
        compare(model, disk.data(), 0, disk.size(), "content on the exporting side");
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("fsx: %s seed %lu: %ld operations ok in %.1f s (%.0f ops/s), final size %zu\n", name.c_str(), seed, op,
           secs, secs > 0 ? op / secs : 0.0, model.size());
    return 0;
}
