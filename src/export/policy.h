// export: the export's policy options (ServerOptions::read_only), checked
// once per request before its handler runs, so no handler needs to know.
// Pure function of the request and the options: no threads, no I/O.
#pragma once
#include "export/server.h"
#include "proto/messages.h"

namespace duct::exp {

// The errno a request is refused with by policy (EROFS for a request that
// would change the export's files when it is read-only), or 0.
int refused_by_policy(const ServerOptions& o, const p9::Fcall& fc);

}  // namespace duct::exp
