// Channel addresses for --listen and --dial. Accepted forms:
//   Inferno dial strings  tcp!host!1127  tcp!*!1127  net!host!1127  unix!/run/duct.sock
//   the usual             host:1127  [::1]:1127  *:1127  :1127  unix:/path  /abs/path.sock
//   systemd               (--listen only) the socket systemd passes as fd 3
// Pure parsing; no I/O.
#pragma once
#include <string>

namespace duct::wire {

struct Address {
    enum Kind { Tcp, Unix, Systemd } kind = Tcp;
    std::string host;   // Tcp: name or literal; "" or "*" = any (listen) / localhost (dial)
    std::string port;   // Tcp: number or service name
    std::string path;   // Unix
    std::string text() const;  // canonical form for messages
};

// False with `err` set when `s` is not an address.
bool parse_address(const std::string& s, Address& a, std::string& err);

}  // namespace duct::wire
