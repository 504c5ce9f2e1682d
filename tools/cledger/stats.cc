// cledger stats: events, commits, tenants, customers, contacts, size on disk, head.
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "base/hex.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"

namespace cledger::cli::ops {
namespace {

Result<json::object> StatsOffline(Engine& engine) {
  auto stats = engine.Stats();
  if (!stats.ok()) return stats.status();
  return json::object{{"position", stats->head.position}, {"hash", base::Hex(stats->head.hash)},
                      {"events", stats->head.position},   {"commits", stats->ledger.total_commits},
                      {"tenants", stats->tenants},        {"customers", stats->customers},
                      {"contacts", stats->contacts},      {"size_bytes", stats->size_bytes}};
}

int Stats(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) {
    return OpenFailureExit(a.data_dir);
  }
  auto stats = engine ? StatsOffline(*engine) : GetJson(a, "GET", "/v1/admin/stats");
  if (!stats.ok()) return FailStatus(stats.status());
  if (a.json) {
    PrintJson(*stats);
    return kExitOk;
  }
  const json::object& s = *stats;
  std::cout << "head       " << U64(s, "position") << " " << Str(s, "hash") << "\n"
            << "events     " << U64(s, "events") << "\n"
            << "commits    " << U64(s, "commits") << "\n"
            << "tenants    " << U64(s, "tenants") << "\n"
            << "customers  " << U64(s, "customers") << "  (deleted included)\n"
            << "contacts   " << U64(s, "contacts") << "  (deleted included)\n"
            << "size       " << HumanBytes(U64(s, "size_bytes")) << " on disk\n";
  return kExitOk;
}

}  // namespace

void AddStats(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* stats = app.add_subcommand(
      "stats", "Events, commits, tenants, customers, contacts, size on disk, head");
  AddTarget(stats, *args);
  AddJson(stats, *args);
  stats->footer(
      Footer("  cledger stats --data ./data\n"
             "  cledger stats --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" --json\n"
             "Commits are every commit the ledger holds, kept in its head record."));
  stats->callback([args, &run] { run = [args] { return Stats(*args); }; });
}

}  // namespace cledger::cli::ops
