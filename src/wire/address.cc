// Address parsing: Inferno's net!host!port first (it is unambiguous), then
// unix:, then [v6]:port and host:port.
#include "wire/address.h"

#include <vector>

namespace duct::wire {

std::string Address::text() const {
    if (kind == Unix) return "unix!" + path;
    if (kind == Systemd) return "systemd";
    return "tcp!" + (host.empty() ? std::string("*") : host) + "!" + port;
}

static bool valid_port(const std::string& p) {
    if (p.empty() || p.size() > 32) return false;
    bool digits = true;
    for (char c : p) digits = digits && c >= '0' && c <= '9';
    if (digits) return std::stoul(p) > 0 && std::stoul(p) < 65536;
    for (char c : p)
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_')) return false;
    return true;  // a service name, resolved by getaddrinfo
}

bool parse_address(const std::string& s, Address& a, std::string& err) {
    a = Address{};
    auto bad = [&](const std::string& why) {
        err = "bad address '" + s + "': " + why;
        return false;
    };
    if (s.empty()) return bad("empty");
    if (s == "systemd") {
        a.kind = Address::Systemd;
        return true;
    }
    if (s.find('!') != std::string::npos) {
        std::vector<std::string> parts;
        size_t start = 0, bang;
        while ((bang = s.find('!', start)) != std::string::npos) {
            parts.push_back(s.substr(start, bang - start));
            start = bang + 1;
        }
        parts.push_back(s.substr(start));
        if (parts[0] == "unix") {
            if (parts.size() != 2 || parts[1].empty()) return bad("use unix!/path");
            a.kind = Address::Unix;
            a.path = parts[1];
            return true;
        }
        if (parts[0] != "tcp" && parts[0] != "net" && parts[0] != "tcp6")
            return bad("network must be tcp, net or unix");
        if (parts.size() != 3) return bad("use tcp!host!port");
        a.host = parts[1] == "*" ? "" : parts[1];
        a.port = parts[2];
        if (!valid_port(a.port)) return bad("port '" + a.port + "'");
        return true;
    }
    if (s.rfind("unix:", 0) == 0) {
        if (s.size() == 5) return bad("use unix:/path");
        a.kind = Address::Unix;
        a.path = s.substr(5);
        return true;
    }
    if (s[0] == '/' || s.rfind("./", 0) == 0) {
        a.kind = Address::Unix;
        a.path = s;
        return true;
    }
    if (s[0] == '[') {
        size_t close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return bad("use [v6address]:port");
        a.host = s.substr(1, close - 1);
        a.port = s.substr(close + 2);
    } else {
        size_t colon = s.rfind(':');
        if (colon == std::string::npos) return bad("use host:port, tcp!host!port or unix:/path");
        a.host = s.substr(0, colon);
        if (a.host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets: [addr]:port");
        a.port = s.substr(colon + 1);
    }
    if (a.host == "*") a.host.clear();
    if (!valid_port(a.port)) return bad("port '" + a.port + "'");
    return true;
}

}  // namespace duct::wire
