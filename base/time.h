// Times as they are shown everywhere: the API, the audit trail, the tools.
#pragma once

#include <cstdint>
#include <string>

namespace cledger::base {

// RFC 3339 in UTC with exactly six fractional digits, e.g. "2026-11-21T04:31:39.123456Z".
// Times before 1970 count forward within their second, like every other.
std::string Rfc3339Micros(int64_t unix_us);

}  // namespace cledger::base
