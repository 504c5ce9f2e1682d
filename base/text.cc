#include "base/text.h"

#include <algorithm>

namespace cledger::base {

std::string_view TrimBlanks(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

std::string NormalizeEmail(std::string_view s) {
  std::string out(TrimBlanks(s));
  std::transform(out.begin(), out.end(), out.begin(), AsciiLower);
  return out;
}

}  // namespace cledger::base
