// Times as they are shown everywhere: the API, the audit trail, the tools.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cledger::base {

// RFC 3339 in UTC with exactly six fractional digits, e.g. "2026-11-21T04:31:39.123456Z".
// Times before 1970 count forward within their second, like every other.
std::string Rfc3339Micros(int64_t unix_us);

// A lifetime as people write it: digits then one unit, s, m, h or d ("90s", "15m", "12h",
// "30d"), in seconds. nullopt for anything else, zero, or more than 10 years (the longest a
// token may live).
std::optional<int64_t> ParseDurationSeconds(std::string_view text);

}  // namespace cledger::base
