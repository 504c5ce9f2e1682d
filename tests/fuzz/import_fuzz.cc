// cledger import's line parsing: one JSON line into the command it runs and its idempotency
// key. A line that parses must carry a key (the import's resumability depends on it).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tools/cledger/import_commands.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return -1;
  auto parsed = cledger::cli::audit_tools::ParseLine(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (parsed.ok() && parsed->idempotency_key.empty()) std::abort();
  if (!parsed.ok() && parsed.status().reason().empty()) std::abort();
  return 0;
}
