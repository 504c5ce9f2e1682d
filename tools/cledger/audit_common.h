// Shared private helpers of the offline audit tools: history, audit export and import.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tools/cledger/commands.h"

namespace cledger::cli::audit_tools {

namespace json = boost::json;

inline constexpr const char* kOpenFailure =
    "3 the data directory could not be opened (is a server running on it?); 1 also when it is\n"
    "a damaged ledger (it holds RocksDB's files without CURRENT or its MANIFEST).";

using cli::Describe;
// Whether the reader has where to read: --server with a token, or --data with --tenant (a
// server's token names its own tenant). Says on stderr what is missing.
bool ReaderTargetOk(const std::string& server_url, const std::string& token,
                    const std::string& tenant);
// Offline readers act as an auditor: allowed to read the whole tenant, never to change it.
Principal Auditor(const std::string& tenant);
// An RFC 3339 option value, or nullopt after saying on stderr why it is not one.
std::optional<int64_t> TimeOption(const char* name, const std::string& text);
// The work of a subcommand; a storage read that fails by exception ends it with exit 1 and a
// message rather than an abort.
void SetRunner(Runner& run, std::function<int()> work);
// Text for a terminal: control characters are shown escaped, so a stored value can neither
// forge a line of the report nor drive the auditor's terminal.
std::string Printable(std::string_view s);

// Each tool's registration, in its own file; AddAuditTools calls them.
void AddHistory(CLI::App& app, Runner& run);
void AddAuditExport(CLI::App& app, Runner& run);
void AddImport(CLI::App& app, Runner& run);

}  // namespace cledger::cli::audit_tools
