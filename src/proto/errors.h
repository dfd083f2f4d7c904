// Protocol errors are values: an errno for 9P2000.L (Rlerror), a string for
// 9P2000 (Rerror). One table converts between them, using the strings Plan 9
// and Inferno programs recognise ("file does not exist", ...).
#pragma once
#include <string>
#include <string_view>

namespace duct::p9 {

// The 9P2000 error string for an errno (Plan 9 wording where one exists,
// strerror() otherwise).
std::string errstr_of(int err);
// The errno for a 9P2000 error string; EIO when nothing matches.
int errno_of(std::string_view ename);

}  // namespace duct::p9
