// The ops subcommands' shared plumbing (ops_common.h) and AddOps, which registers them.
//
// Ops subcommands: verify, projections status|rebuild, events dump, backup create|restore,
// stats. Each works offline on --data DIR and, where it makes sense, against a running server
// with --server URL --token T (the ops-only admin routes).
//
// stdout carries only what a script reads (text, JSON, JSON lines or raw frames); progress and
// diagnostics go to stderr, and the progress bar draws only when stderr is a terminal.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/remote.h"

namespace cledger::cli {
namespace ops {
namespace {

constexpr char kExitCodes[] =
    "Exit codes: 0 ok · 1 a problem was found, the server refused, or the data directory is a "
    "damaged ledger · 2 bad arguments · 3 the data directory or the server could not be "
    "reached.";

}  // namespace

namespace fs = std::filesystem;

int Complain(const std::string& what, int exit_code) {
  std::cerr << "cledger: " << what << "\n";
  return exit_code;
}

int FailStatus(const Status& status) {
  std::cerr << "cledger: " << Describe(status) << "\n";
  if (status.reason() == "server_unreachable") return kExitUnavailable;
  if (status.reason() == "certificate_not_verified") return kExitUnavailable;
  if (status.reason() == "invalid_server" || status.reason() == "invalid_ca_file" ||
      status.reason() == "projection_not_found") {
    return kExitUsage;
  }
  return kExitFailed;
}

// Like OpenOrExplain, but never creates a ledger: a mistyped --data must not "verify" an
// empty directory it just made.
std::unique_ptr<Engine> OpenExisting(const std::string& data_dir) {
  std::error_code ec;
  if (ExplainIfDamaged(data_dir)) return nullptr;
  if (!fs::exists(fs::path(data_dir) / "CURRENT", ec)) {
    std::cerr << "cledger: no ledger in " << data_dir
              << " (give --data the directory `cledger serve` uses)\n";
    return nullptr;
  }
  return OpenOrExplain(data_dir);
}

// Whether --server/--token make sense; prints why not.
bool RemoteArgsOk(const OpsArgs& a) {
  if (a.remote() && a.token.empty()) {
    Complain("--server needs an ops token: --token T or CLEDGER_TOKEN", kExitUsage);
    return false;
  }
  return true;
}

Result<json::object> GetJson(const OpsArgs& a, const std::string& method, const std::string& target,
                             const std::string& body) {
  return RemoteJson({a.server, a.token, a.ca_file}, method, target, body);
}

uint64_t U64(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return 0;
  boost::system::error_code ec;
  const auto n = v->to_number<uint64_t>(ec);
  return ec ? 0 : n;
}

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

void PrintJson(const json::value& value) { std::cout << json::serialize(value) << "\n"; }

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << " " << kUnits[unit];
  return out.str();
}

// --server with --token, to work through a running server; `data` (or null) excludes it.
void AddServer(CLI::App* cmd, OpsArgs& a, CLI::Option* data) {
  AddServerOptions(cmd, a.server, a.token, a.ca_file, data, "Ops token");
}

// --data, or --server with --token: where the command works.
void AddTarget(CLI::App* cmd, OpsArgs& a) {
  AddServer(
      cmd, a,
      cmd->add_option("--data", a.data_dir, "Data directory (offline: no server may have it open)")
          ->capture_default_str());
}

void AddJson(CLI::App* cmd, OpsArgs& a) {
  cmd->add_flag("--json", a.json, "Print one JSON document for scripts");
}

std::string Footer(const std::string& examples) {
  return "Examples:\n" + examples + "\n" + kExitCodes;
}

}  // namespace ops

void AddOps(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ops::OpsArgs>();
  ops::AddVerify(app, run, args);
  ops::AddProjections(app, run, args);
  ops::AddEvents(app, run, args);
  ops::AddBackup(app, run, args);
  ops::AddStats(app, run, args);
}

}  // namespace cledger::cli
