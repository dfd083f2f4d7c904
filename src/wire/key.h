// Pre-shared keys for --key / --genkey: 32 random bytes kept in a small text
// file (a header line, then the key in hex), mode 0600, read only if nobody
// but its owner can read it (as ssh treats its private keys).
// Pure file handling; no threads.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace duct::wire {

struct Key {
    std::array<uint8_t, 32> bytes{};
    std::string file;  // where it came from, for messages
};

// Writes a new random key to `path` (created O_EXCL, mode 0600: an existing
// file is never overwritten). False with `err` set on failure.
bool generate_key(const std::string& path, std::string& err);
// Reads the key in `path`; refuses a file group or others can read, one
// owned by another user (not root), or one that is not a key file.
bool load_key(const std::string& path, Key& key, std::string& err);

}  // namespace duct::wire
