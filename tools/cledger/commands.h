// The cledger subcommands. Each registers itself on the CLI11 app and returns the exit code
// through `run` once parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "cledger/engine.h"

namespace cledger::cli {

// Exit codes, documented in `cledger --help` and the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;      // the work ran and found a problem (e.g. verify)
inline constexpr int kExitUsage = 2;       // bad arguments
inline constexpr int kExitUnavailable = 3; // the data directory could not be opened

using Runner = std::function<int()>;

void AddServe(CLI::App& app, Runner& run);
void AddAdmin(CLI::App& app, Runner& run);  // head, tenant create, token issue|revoke
void AddOps(CLI::App& app, Runner& run);    // verify, projections, events dump, backup, stats
void AddAuditTools(CLI::App& app, Runner& run);  // history, audit export, import

// Opens the engine on `data_dir`, printing why not on stderr.
std::unique_ptr<Engine> OpenOrExplain(const std::string& data_dir);
// The same with the caller's options (their `path` is the data directory).
std::unique_ptr<Engine> OpenOrExplain(const LedgerOptions& options);
// The ops context offline tools act with.
CommandContext OfflineOps();

}  // namespace cledger::cli
