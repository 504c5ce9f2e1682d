// cledger stats: events, commits, tenants, customers, contacts, size on disk, head.
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/progress.h"

namespace cledger::cli::ops {
namespace {

// Commits in the log: a commit's events are contiguous and share one correlation id and one
// recorded_at, so a change in either starts the next commit.
Result<uint64_t> CountCommits(Ledger& ledger, uint64_t head) {
  ProgressBar bar("count commits");
  uint64_t commits = 0;
  std::string correlation;
  int64_t recorded_at = -1;
  for (uint64_t next = 1; next <= head;) {
    auto events = ledger.Read(next, 10 * kPage);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const Event& e : *events) {
      if (e.correlation_id != correlation || e.recorded_at_us != recorded_at) ++commits;
      correlation = e.correlation_id;
      recorded_at = e.recorded_at_us;
    }
    next = events->back().position + 1;
    bar.Update(next - 1, head);
  }
  return commits;
}

Result<json::object> StatsOffline(Engine& engine) {
  auto stats = engine.Stats();
  if (!stats.ok()) return stats.status();
  auto commits = CountCommits(engine.ledger(), stats->head.position);
  if (!commits.ok()) return commits.status();
  return json::object{{"position", stats->head.position}, {"hash", HexOf(stats->head.hash)},
                      {"events", stats->head.position},   {"commits", *commits},
                      {"tenants", stats->tenants},         {"customers", stats->customers},
                      {"contacts", stats->contacts},       {"size_bytes", stats->size_bytes}};
}

int Stats(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) return kExitUnavailable;
  auto stats = engine ? StatsOffline(*engine) : GetJson(a, "GET", "/v1/admin/stats");
  if (!stats.ok()) return FailStatus(stats.status());
  if (a.json) {
    PrintJson(*stats);
    return kExitOk;
  }
  const json::object& s = *stats;
  std::cout << "head       " << U64(s, "position") << " " << Str(s, "hash") << "\n"
            << "events     " << U64(s, "events") << "\n"
            << "commits    " << U64(s, "commits")
            << (a.remote() ? "  (since the server started)" : "") << "\n"
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
  stats->footer(Footer(
      "  cledger stats --data ./data\n"
      "  cledger stats --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" --json\n"
      "Offline, commits are counted from the log; through a server, since it started."));
  stats->callback([args, &run] { run = [args] { return Stats(*args); }; });
}

}  // namespace cledger::cli::ops
