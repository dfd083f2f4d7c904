// channel_auth: the one place that decides whether a socket channel is
// keyed; the key file is read here, once per listener or dial.
#include "uplink/auth.h"

#include "wire/address.h"

namespace duct {

std::string unauthenticated_tcp_message(const std::string& addr) {
    return "refusing plain 9P on TCP (" + addr +
           "): anyone who can connect would get the export. Give both ends --key FILE (make it with "
           "duct --genkey FILE, copy it to the other machine), or --no-auth for a peer that speaks only plain "
           "9P (the original Inferno duct, Plan 9, diod)";
}

bool tcp_address(const std::string& addr) {
    wire::Address a;
    std::string why;
    return wire::parse_address(addr, a, why) && a.kind == wire::Address::Tcp;
}

bool channel_auth(const Options& opts, bool tcp, ChannelAuth& auth, std::string& err) {
    const std::string& addr = opts.dial.empty() ? opts.listen : opts.dial;
    if (!opts.key_file.empty() && opts.no_auth) {
        err = "give --key FILE or --no-auth, not both";
        return false;
    }
    if (tcp && opts.key_file.empty() && !opts.no_auth) {
        err = unauthenticated_tcp_message(addr == "systemd" ? "the socket systemd passed" : addr);
        return false;
    }
    auth.handshake_ms = opts.timeout > 0 ? opts.timeout * 1000 : 30000;
    if (opts.key_file.empty()) return true;
    auth.key = std::make_unique<wire::Key>();
    return wire::load_key(opts.key_file, *auth.key, err);
}

bool generate_key(const std::string& path, std::string& why) { return wire::generate_key(path, why); }

bool valid_key_file(const std::string& path, std::string& why) {
    wire::Key k;
    return wire::load_key(path, k, why);
}

}  // namespace duct
