#include "base/hex.h"

#include <sodium.h>

namespace cledger::base {

std::string Hex(std::span<const uint8_t> bytes) {
  // sodium_bin2hex writes a terminating NUL after the digits; the string's own one takes it.
  std::string out(bytes.size() * 2, '\0');
  sodium_bin2hex(out.data(), out.size() + 1, bytes.data(), bytes.size());
  return out;
}

std::string Hex(std::string_view bytes) {
  return Hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace cledger::base
