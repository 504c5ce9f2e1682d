// What a --data directory holds, checked before any subcommand opens it.
//
// RocksDB finds its files through CURRENT, which names the MANIFEST. Without CURRENT it takes
// the directory for an empty one: told to create a ledger there it makes a fresh one beside the
// old tables and logs and later deletes them as obsolete. So a directory that holds RocksDB
// files but no CURRENT (or a CURRENT naming a MANIFEST that is gone) is a damaged ledger, said
// so before anything opens it, and left exactly as it is.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "tools/cledger/commands.h"

namespace cledger::cli {
namespace {

namespace fs = std::filesystem;

struct LedgerFiles {
  int tables = 0;     // *.sst
  int logs = 0;       // *.log, the write-ahead logs
  int manifests = 0;  // MANIFEST-*
  int options = 0;    // OPTIONS-*
  int total() const { return tables + logs + manifests + options; }
};

LedgerFiles CountLedgerFiles(const fs::path& dir) {
  LedgerFiles files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    files.tables += name.ends_with(".sst");
    files.logs += name.ends_with(".log");
    files.manifests += name.starts_with("MANIFEST-");
    files.options += name.starts_with("OPTIONS-");
  }
  return files;
}

// What is missing from a directory that holds a ledger's files; nullopt when nothing is (or
// when it holds no ledger at all).
std::optional<std::string> MissingPiece(const fs::path& dir) {
  std::error_code ec;
  const fs::path current = dir / "CURRENT";
  if (fs::exists(current, ec)) {
    std::ifstream in(current);
    std::string manifest;
    std::getline(in, manifest);
    if (manifest.empty()) return "CURRENT is empty";
    if (!fs::exists(dir / manifest, ec)) return "CURRENT names " + manifest + ", which is missing";
    return std::nullopt;
  }
  const LedgerFiles files = CountLedgerFiles(dir);
  if (files.total() == 0) return std::nullopt;
  return "CURRENT is missing, yet it holds " + std::to_string(files.tables) + " table, " +
         std::to_string(files.logs) + " log, " + std::to_string(files.manifests) +
         " MANIFEST and " + std::to_string(files.options) + " OPTIONS files";
}

}  // namespace

bool ExplainIfDamaged(const std::string& data_dir) {
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) return false;
  const std::optional<std::string> missing = MissingPiece(data_dir);
  if (!missing) return false;
  std::cerr << "cledger: " << data_dir << " is a damaged ledger, not an empty one: " << *missing
            << ".\nNothing was changed. Restore the ledger from a backup into a new directory "
               "(cledger backup restore BACKUP_DIR --data NEW_DIR) and keep this one for "
               "inspection.\n";
  return true;
}

int OpenFailureExit(const std::string& data_dir) {
  if (WalWasDamaged()) return kExitWalDamaged;
  std::error_code ec;
  return fs::is_directory(data_dir, ec) && MissingPiece(data_dir) ? kExitFailed : kExitUnavailable;
}

}  // namespace cledger::cli
