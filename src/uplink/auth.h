// Who may use a socket channel (--dial, --listen): TCP needs --key (TLS 1.3
// with that pre-shared key, wire/tls.h) or an explicit --no-auth; a unix
// socket is limited to our uid and root by wire/net.cc and may add --key;
// the other channels (stdin/stdout, --exec, --fd) are trusted as whatever
// runs under them (ssh), and take no key.
// No threads; called before a channel exists.
#pragma once
#include <memory>
#include <string>

#include <duct/uplink.h>

#include "wire/key.h"

namespace duct {

struct ChannelAuth {
    std::unique_ptr<wire::Key> key;  // null: plain 9P on this socket
    int handshake_ms = 30000;        // a peer must finish the TLS handshake within this
};

// `tcp`: the socket (dialed, or listening) is TCP. False with `err` set
// when the options do not allow this channel or the key file is unusable.
bool channel_auth(const Options& opts, bool tcp, ChannelAuth& auth, std::string& err);

}  // namespace duct
