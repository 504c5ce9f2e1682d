#include "base/time.h"

#include <fmt/chrono.h>

#include <ctime>

namespace cledger::base {

std::string Rfc3339Micros(int64_t unix_us) {
  // fmt 9 formats a time_point in local time and truncates its fraction toward zero, so the
  // calendar comes from the UTC std::tm of the second the time falls in (floor, so times
  // before 1970 still count forward within it), and the fraction is printed on its own.
  int64_t seconds = unix_us / 1'000'000;
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06}Z", fmt::gmtime(static_cast<std::time_t>(seconds)),
                     micros);
}

std::optional<int64_t> ParseDurationSeconds(std::string_view text) {
  constexpr int64_t kMaxSeconds = 10ll * 366 * 24 * 3600;  // limits::kTokenLifetimeMaxSeconds
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  int64_t count = 0;
  for (const char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    count = count * 10 + (c - '0');  // at most 11 digits: no overflow
  }
  if (count == 0 || count > kMaxSeconds / unit) return std::nullopt;
  return count * unit;
}

}  // namespace cledger::base
