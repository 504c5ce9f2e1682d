// Shared private plumbing of the ops subcommands: arguments, errors, server replies, options.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tools/cledger/commands.h"

namespace cledger::cli::ops {

namespace json = boost::json;

inline constexpr uint64_t kPage = 1000;  // events per read (and the server's page maximum)

struct OpsArgs {
  std::string data_dir = "./data";
  std::string server;
  std::string token;
  std::string ca_file;  // https: a CA to trust besides the system's
  bool json = false;
  bool digest = false;
  std::string against;
  std::string name;
  bool all = false;
  uint64_t from = 1;
  uint64_t to = 0;  // 0: the head when the dump starts
  std::string tenant;
  std::string format = "jsonl";
  std::string backup_dir;
  std::string restore_to;
  std::optional<uint32_t> backup_id;  // backup verify, restore: which backup
  std::string signing_key_file;       // verify: the key whose signed heads the log is held to
  std::string public_key;             // verify: or only its public half, hex
  bool remote() const { return !server.empty(); }
};

// Prints "cledger: WHAT" on stderr; returns `exit_code`.
int Complain(const std::string& what, int exit_code);
// Prints why `status` failed on stderr; returns the exit code it calls for.
int FailStatus(const Status& status);
// Like OpenOrExplain, but never creates a ledger: a mistyped --data must not "verify" an
// empty directory it just made.
std::unique_ptr<Engine> OpenExisting(const std::string& data_dir);
// Whether --server/--token make sense; prints why not.
bool RemoteArgsOk(const OpsArgs& a);
// `method target` on the server; its reply, which has to be a JSON object.
Result<json::object> GetJson(const OpsArgs& a, const std::string& method, const std::string& target,
                             const std::string& body = {});
// A member of a reply object; 0 or "" when it is missing or of another type.
uint64_t U64(const json::object& o, const char* key);
std::string Str(const json::object& o, const char* key);
void PrintJson(const json::value& value);
std::string HumanBytes(uint64_t bytes);

// --data, or --server with --token: where the command works.
void AddTarget(CLI::App* cmd, OpsArgs& a);
// --server and --token only (a backup directory is read where it lies).
void AddServer(CLI::App* cmd, OpsArgs& a, CLI::Option* data);
void AddJson(CLI::App* cmd, OpsArgs& a);
// The examples, then the exit codes.
std::string Footer(const std::string& examples);

// Each subcommand's registration, in its own file; AddOps calls them with one OpsArgs.
void AddVerify(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args);
void AddProjections(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args);
void AddEvents(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args);
void AddBackup(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args);
void AddStats(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args);

}  // namespace cledger::cli::ops
