// cledger: the Contact Ledger command line.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "tools/cledger/commands.h"

int main(int argc, char** argv) {
  // Logs go to stderr, so stdout stays clean for what scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("cledger"));
  CLI::App app{
      "cledger — the Contact Ledger: an event-sourced, hash-chained ledger of customer "
      "contacts on an embedded RocksDB data directory."};
  app.require_subcommand(1);
  // The key locations below may come after the subcommand too, like its own options.
  app.fallthrough();
  cledger::cli::AddKeyLocationOptions(app);
  app.footer(
      "Exit codes: 0 ok · 1 the work found a problem (e.g. verify), or the data directory is a "
      "damaged ledger · 2 bad arguments · 3 the data directory could not be opened · 4 its "
      "write-ahead log is damaged (see cledger recover).\n"
      "Run 'cledger SUBCOMMAND --help' for examples.");
  cledger::cli::Runner run;
  cledger::cli::AddServe(app, run);
  cledger::cli::AddAdmin(app, run);
  cledger::cli::AddOps(app, run);
  cledger::cli::AddAuditTools(app, run);
  cledger::cli::AddProofs(app, run);
  cledger::cli::AddCluster(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : cledger::cli::kExitUsage;
  }
  return run ? run() : cledger::cli::kExitUsage;
}
