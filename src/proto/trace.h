// The -D tracer: one line per 9P message in Plan 9 notation, e.g.
//   Twalk tag 1 fid 0 newfid 1 nwname 1 0:src
// generated from table.h like the codec. Pure; safe from any thread.
#pragma once
#include <string>

#include "proto/messages.h"

namespace duct::p9 {

std::string format(const Fcall& f);
std::string format_qid(const Qid& q);  // (path version type), as Plan 9's %Q

}  // namespace duct::p9
