// Printable (audit_common.h): on its own so the import's line parsing links without the
// subcommands.
#include <string>
#include <string_view>

#include "base/hex.h"
#include "tools/cledger/audit_common.h"

namespace cledger::cli::audit_tools {
namespace {

// True for a C1 control character (U+0080..U+009F) at `i`: some terminals obey them as
// escape sequences just like ESC.
bool IsC1At(std::string_view s, size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xC2 && i + 1 < s.size() &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

}  // namespace

// Text for a terminal: control characters are shown escaped, so a stored value can neither
// forge a line of the report nor drive the auditor's terminal.
std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = IsC1At(s, i);
    if (c >= 0x20 && c != 0x7F && !c1) {
      out.push_back(s[i]);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
    } else {
      if (c1) ++i;  // a C1 character is shown as its code point, which is its second byte
      out += "\\x" + base::Hex(s.substr(i, 1));
    }
  }
  return out;
}

}  // namespace cledger::cli::audit_tools
