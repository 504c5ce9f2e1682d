// The cledger subcommands. Each registers itself on the CLI11 app and returns the exit code
// through `run` once parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "cledger/engine.h"
#include "cledger/proofs.h"

namespace cledger::cli {

// Exit codes, documented in `cledger --help` and the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the work found a problem (e.g. verify), or the
                                            // data directory is a damaged ledger
inline constexpr int kExitUsage = 2;        // bad arguments
inline constexpr int kExitUnavailable = 3;  // the data directory could not be opened
inline constexpr int kExitWalDamaged = 4;   // its write-ahead log is damaged (cledger recover)

using Runner = std::function<int()>;

// The key files every command that opens a data directory uses, given once before or after
// the subcommand (`--key-store`, `--master-key-file`); empty: beside the data directory.
// A subcommand's own --master-key-file wins.
struct KeyLocations {
  std::string key_store;
  std::string master_key_file;
};
KeyLocations& GlobalKeyLocations();
// Where the keys of the ledger in `data_dir` are: the options given, or beside it.
KeyLocations KeyLocationsOf(const std::string& data_dir);
// --public-key: 64 hex digits, or a file holding them (alone, or as `cledger proof public-key`
// prints them).
Result<proofs::PublicKey> PublicKeyArgument(const std::string& given);
void AddKeyLocationOptions(CLI::App& app);
// --key-store on a subcommand of its own, so its --help lists it (the same setting).
void KeyStoreOption(CLI::App* cmd);

void AddServe(CLI::App& app, Runner& run);
void AddAdmin(CLI::App& app, Runner& run);       // head, tenant create, token issue|revoke
void AddOps(CLI::App& app, Runner& run);         // verify, projections, events dump, backup, stats
void AddAuditTools(CLI::App& app, Runner& run);  // history, audit export, import
void AddProofs(CLI::App& app, Runner& run);      // proof verify|public-key, witness
void AddWitness(CLI::App& app, Runner& run);     // witness (AddProofs registers it)
void AddCluster(CLI::App& app, Runner& run);     // cluster init

// serve --cluster: the node's own options (docs/CLUSTER.md).
struct ClusterServeArgs {
  std::string dsn;
  std::string node;
  std::string advertise;
};
}  // namespace cledger::cli
namespace cledger::api {
struct ServerOptions;
}
namespace cledger::cli {
int ServeClusterNode(const ClusterServeArgs& args, const LedgerOptions& ledger,
                     const api::ServerOptions& server_options,
                     std::optional<int64_t> ops_token_ttl_s);

// Where the signing key of the ledger in `data_dir` lives unless told otherwise: beside the
// directory, never in it ("./data" → "./data.signing-key").
std::string DefaultSigningKeyFile(const std::string& data_dir);

// Opens the engine on `data_dir`, printing why not on stderr. A damaged ledger (see
// ExplainIfDamaged) is never opened: opening it would start a new ledger over the old files.
std::unique_ptr<Engine> OpenOrExplain(const std::string& data_dir);
// Whether `data_dir` holds a ledger's files but not what RocksDB needs to find them (CURRENT,
// or the MANIFEST it names); if so says on stderr what is missing and how to recover.
bool ExplainIfDamaged(const std::string& data_dir);
// The exit code for a `data_dir` OpenOrExplain did not open: kExitWalDamaged when its
// write-ahead log is damaged, kExitFailed for a damaged ledger, kExitUnavailable otherwise.
int OpenFailureExit(const std::string& data_dir);
// The same with the caller's options (their `path` is the data directory).
std::unique_ptr<Engine> OpenOrExplain(const LedgerOptions& options);
// Whether the last OpenOrExplain failed on a damaged write-ahead log.
bool& WalWasDamaged();
// The ops context offline tools act with.
CommandContext OfflineOps();
// NotFound "tenant_not_found" unless the ledger has `tenant`: a mistyped tenant must not read
// as an empty trail, an empty export or a file of rejected lines.
Status TenantExists(Engine& engine, const std::string& tenant);
// How every command shows a failure: "message (field F) [reason]" — the message for people,
// the field it names if any, the stable reason for scripts.
std::string Describe(const Status& status);

}  // namespace cledger::cli
