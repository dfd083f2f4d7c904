// Key files: "duct-key-v1" on the first line, 64 hex digits on the second.
// The random bytes come from OpenSSL's RAND_bytes (the kernel's getrandom
// underneath); the file is written whole and fsync'd before we say it is.
#include "wire/key.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fd.h"

namespace duct::wire {

namespace {
const char kHeader[] = "duct-key-v1";
std::string sys(const std::string& what) { return what + ": " + strerror(errno); }
int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

bool generate_key(const std::string& path, std::string& err) {
    std::array<uint8_t, 32> k;
    if (RAND_bytes(k.data(), int(k.size())) != 1) {
        err = "cannot get random bytes for a key";
        return false;
    }
    std::string text = std::string(kHeader) + "\n";
    static const char hex[] = "0123456789abcdef";
    for (uint8_t b : k) {
        text += hex[b >> 4];
        text += hex[b & 15];
    }
    text += "\n";
    OPENSSL_cleanse(k.data(), k.size());
    Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        err = errno == EEXIST ? path + " already exists; duct --genkey never overwrites a key (remove it first)"
                              : sys("cannot create " + path);
        return false;
    }
    // The umask may only take bits away; make sure of 0600 whatever it is.
    bool ok = fchmod(fd.get(), 0600) == 0 && write(fd.get(), text.data(), text.size()) == ssize_t(text.size()) &&
              fsync(fd.get()) == 0;
    OPENSSL_cleanse(text.data(), text.size());
    if (!ok) {
        err = sys("cannot write " + path);
        unlink(path.c_str());
        return false;
    }
    return true;
}

bool load_key(const std::string& path, Key& key, std::string& err) {
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        err = sys("key " + path);
        return false;
    }
    struct stat st;
    if (fstat(fd.get(), &st) < 0) {
        err = sys("key " + path);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        err = "key " + path + ": not a regular file";
        return false;
    }
    if (st.st_mode & 077) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        err = "key " + path + " is readable by group or others (mode " + mode + "): it would not stay secret; chmod 600 " +
              path;
        return false;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        err = "key " + path + " belongs to uid " + std::to_string(st.st_uid) + ", not to us (uid " +
              std::to_string(geteuid()) + ") or root";
        return false;
    }
    char buf[256];
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
        err = sys("key " + path);
        return false;
    }
    std::string text(buf, size_t(n));
    OPENSSL_cleanse(buf, sizeof buf);
    auto bad = [&] {
        OPENSSL_cleanse(text.data(), text.size());
        err = "key " + path + " is not a duct key file (make one with duct --genkey FILE)";
        return false;
    };
    size_t hl = sizeof kHeader - 1;
    if (text.size() < hl + 1 + 64 || text.compare(0, hl, kHeader) != 0 || text[hl] != '\n') return bad();
    const char* h = text.data() + hl + 1;
    for (size_t i = 0; i < 32; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        if (a < 0 || b < 0) return bad();
        key.bytes[i] = uint8_t(a << 4 | b);
    }
    // Only a newline (or nothing) may follow.
    std::string rest = text.substr(hl + 1 + 64);
    if (!(rest.empty() || rest == "\n" || rest == "\r\n")) return bad();
    OPENSSL_cleanse(text.data(), text.size());
    key.file = path;
    return true;
}

}  // namespace duct::wire
