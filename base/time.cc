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

}  // namespace cledger::base
