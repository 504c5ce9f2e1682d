// The audit tools' shared helpers (audit_common.h) and AddAuditTools, which registers them.
//
// Offline tools for auditors and migrations, each on a data directory it has to itself:
//   history       a contact or customer as it was then, with its audit trail up to then
//   audit export  one row per field change, as RFC 4180 CSV or JSON lines
//   import        JSON-lines commands: validated line by line, idempotent and resumable
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cledger/json.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"

namespace cledger::cli {
namespace audit_tools {
// Offline readers act as an auditor: allowed to read the whole tenant, never to change it.
bool ReaderTargetOk(const std::string& server_url, const std::string& token,
                    const std::string& tenant) {
  if (!server_url.empty() && token.empty()) {
    std::cerr << "cledger: --server needs a token that reads history: --token T or CLEDGER_TOKEN\n";
    return false;
  }
  if (server_url.empty() && tenant.empty()) {
    std::cerr << "cledger: --tenant is required with --data\n";
    return false;
  }
  if (!server_url.empty() && !tenant.empty()) {
    std::cerr << "cledger: with --server the token names the tenant; leave out --tenant\n";
    return false;
  }
  return true;
}

Principal Auditor(const std::string& tenant) { return Principal{tenant, {"cli", "auditor"}}; }

// An RFC 3339 option value, or nullopt after saying on stderr why it is not one.
std::optional<int64_t> TimeOption(const char* name, const std::string& text) {
  auto parsed = api::ParseRfc3339(text);
  if (parsed.ok()) return *parsed;
  std::cerr << "cledger: " << name << ": " << parsed.status().message() << "\n";
  return std::nullopt;
}

// The work of a subcommand; a storage read that fails by exception ends it with exit 1 and a
// message rather than an abort.
void SetRunner(Runner& run, std::function<int()> work) {
  run = [work = std::move(work)] {
    try {
      return work();
    } catch (const std::exception& e) {
      std::cerr << "cledger: " << e.what() << "\n";
      return kExitFailed;
    }
  };
}

}  // namespace audit_tools

void AddAuditTools(CLI::App& app, Runner& run) {
  audit_tools::AddHistory(app, run);
  audit_tools::AddAuditExport(app, run);
  audit_tools::AddImport(app, run);
}

}  // namespace cledger::cli
