// cledger backup create|list|verify|restore: consistent backups, with a progress bar for the
// copy.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "base/time.h"
#include "engine/store/export.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/progress.h"
#include "tools/cledger/remote.h"

namespace cledger::cli::ops {
namespace {

namespace fs = std::filesystem;

// Bytes of the regular files under `dir`; files may come and go while it counts.
uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

// Progress of a copy into `dir` (backup, restore): a thread watches the destination grow
// towards `total` bytes. RocksDB 7.8 reports progress while it creates a backup (a bare
// CreateBackupOptions::progress_callback every 4 MiB copied) but not while it restores one;
// watching the destination serves both the same way.
class CopyProgress {
 public:
  CopyProgress(const std::string& label, std::string dir, uint64_t total)
      : bar_(label), dir_(std::move(dir)), total_(total) {
    if (isatty(STDERR_FILENO) == 0 || total_ == 0) return;
    const uint64_t before = DirBytes(dir_);
    thread_ = std::thread([this, before] {
      while (!stop_.load()) {
        const uint64_t now = DirBytes(dir_);
        bar_.Update(std::min(total_ - 1, now > before ? now - before : 0), total_);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
    });
  }
  ~CopyProgress() { Stop(); }
  // The copy is complete: the bar shows it whole.
  void Done() {
    Stop();
    if (total_ > 0) bar_.Update(total_, total_);
  }

 private:
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  ProgressBar bar_;
  std::string dir_;
  uint64_t total_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The keys are never in a backup: a restore and its verify need the original ledger's (a
// server's are on its machine, where it was started with them).
// A path is named only where something is there: a hint must not send a restore to nothing.
std::string KeyArguments(const OpsArgs& a) {
  const KeyLocations keys = a.remote() ? KeyLocations{} : KeyLocationsOf(a.data_dir);
  auto there = [](const std::string& path, const char* placeholder) {
    std::error_code ec;
    return !path.empty() && fs::exists(path, ec) ? fs::absolute(path, ec).string()
                                                 : std::string(placeholder);
  };
  return " --key-store " + there(keys.key_store, "KEY_STORE") + " --master-key-file " +
         there(keys.master_key_file, "MASTER_KEY");
}

int BackupCreate(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  json::object out{{"dir", a.backup_dir}};
  if (a.remote()) {
    if (!fs::path(a.backup_dir).is_absolute()) {
      return Complain("with --server, DIR is a path on the server's machine: give it absolute",
                      kExitUsage);
    }
    auto reply = GetJson(a, "POST", "/v1/admin/backups", json::serialize(out));
    if (!reply.ok()) return FailStatus(reply.status());
    out["id"] = U64(*reply, "id");
    out["position"] = U64(*reply, "position");
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return OpenFailureExit(a.data_dir);
    const Head head = engine->ledger().GetHead();
    {
      CopyProgress progress("backup", a.backup_dir, DirBytes(a.data_dir));
      if (Status s = engine->Backup(a.backup_dir); !s.ok()) return FailStatus(s);
      progress.Done();
    }
    auto backups = Engine::ListBackups(a.backup_dir);
    out["id"] = backups.ok() && !backups->empty() ? backups->back().id : 0;
    out["position"] = head.position;
    out["hash"] = base::Hex(head.hash);
  }
  if (a.json) {
    PrintJson(out);
  } else {
    // Offline nothing else writes; a server keeps committing while the backup is taken, and
    // the position it reports is the head before the backup started.
    std::cout << "backup " << out["id"].as_uint64() << " holds " << (a.remote() ? "at least " : "")
              << "position " << out["position"].as_uint64();
    if (!a.remote()) std::cout << " (" << out["hash"].as_string().c_str() << ")";
    std::cout << ", written to " << a.backup_dir << (a.remote() ? " on the server" : "") << "\n"
              << "restore it with: cledger backup restore " << a.backup_dir << " --id "
              << out["id"].as_uint64() << " --data NEWDIR" << KeyArguments(a) << "\n";
  }
  return kExitOk;
}

// The original ledger's signing key, which lies beside its master key unless the server was
// told otherwise: verify checks the restored ledger's signed heads with it. Empty when it is
// not there.
std::string SigningKeyArgument(const std::string& master_key_file) {
  constexpr std::string_view kMasterKey = ".master-key";
  if (!master_key_file.ends_with(kMasterKey)) return "";
  const std::string signing_key =
      master_key_file.substr(0, master_key_file.size() - kMasterKey.size()) + ".signing-key";
  std::error_code ec;
  return fs::exists(signing_key, ec) ? " --signing-key-file " + signing_key : "";
}

int BackupRestore(const OpsArgs& a) {
  std::error_code ec;
  if (fs::exists(a.restore_to, ec) && !fs::is_directory(a.restore_to, ec)) {
    return Complain(a.restore_to + " is a file, not a directory: restore into a new directory",
                    kExitUsage);
  }
  if (fs::exists(a.restore_to, ec) && !fs::is_empty(a.restore_to, ec)) {
    return Complain(a.restore_to +
                        " is not empty; restore into a new directory (nothing was "
                        "changed)",
                    kExitUsage);
  }
  const bool existed = fs::exists(a.restore_to, ec);
  {
    CopyProgress progress("restore", a.restore_to, DirBytes(a.backup_dir));
    if (Status s = Engine::RestoreBackup(a.backup_dir, a.restore_to, a.backup_id); !s.ok()) {
      return FailStatus(s);
    }
    progress.Done();
  }
  // Read, not opened: an engine opened without the ledger's key store would fold the
  // projections that lag behind the backup's head with its personal fields unreadable.
  auto recorded = store::RecordedHead(a.restore_to);
  if (!recorded.ok()) return FailStatus(recorded.status());
  const Head head = *recorded;
  // With the ledger's key store, the restored ledger is opened to write once: erasures made
  // after the backup was taken are appended again (from the key store's tombstones).
  const std::string& key_store = GlobalKeyLocations().key_store;
  uint64_t reapplied = 0;
  if (!key_store.empty()) {
    LedgerOptions options;
    options.path = a.restore_to;
    auto engine = OpenOrExplain(options);
    if (!engine) {  // keys not the ledger's, most often: as any failed restore, nothing is left
      std::vector<fs::path> restored;
      for (const auto& entry : fs::directory_iterator(a.restore_to, ec)) {
        restored.push_back(entry.path());
      }
      std::error_code kept;
      for (const fs::path& path : restored) fs::remove_all(path, kept);
      if (!existed && !kept) fs::remove(a.restore_to, kept);
      std::cerr << "cledger: "
                << (kept ? "could not remove what was restored in " : "nothing was left in ")
                << a.restore_to << "; restore again once the problem above is mended\n";
      return OpenFailureExit(a.restore_to);
    }
    reapplied = engine->ledger().GetHead().position - head.position;
  }
  if (a.json) {
    PrintJson(json::object{{"data", a.restore_to},
                           {"position", head.position},
                           {"hash", base::Hex(head.hash)},
                           {"erasures_reapplied", reapplied}});
    return kExitOk;
  }
  std::cout << "restored position " << head.position << " (" << base::Hex(head.hash) << ") into "
            << a.restore_to << "\n";
  if (!key_store.empty()) {
    const std::string& master_key = GlobalKeyLocations().master_key_file;
    std::cout << reapplied << " erasures made since the backup were applied again\n"
              << "check it with: cledger verify --data " << a.restore_to << " --key-store "
              << key_store << " --master-key-file "
              << (master_key.empty() ? "MASTER_KEY" : master_key) << SigningKeyArgument(master_key)
              << "\n";
  } else {
    std::cout << "erasures made since the backup are applied when it is first opened with the "
                 "ledger's key store (restore with --key-store DIR --master-key-file FILE to "
                 "do it now)\ncheck it with: cledger verify --data "
              << a.restore_to << " --key-store KEY_STORE --master-key-file MASTER_KEY\n";
  }
  return kExitOk;
}

// The backups in DIR, read here or by the server (DIR on its machine), as the API lists them.
Result<std::vector<json::object>> ListedBackups(const OpsArgs& a) {
  if (a.remote()) {
    auto reply = GetJson(a, "GET", "/v1/admin/backups" + QueryString({{"dir", a.backup_dir}}), "");
    if (!reply.ok()) return reply.status();
    return ItemsOf(*reply);
  }
  auto backups = Engine::ListBackups(a.backup_dir);
  if (!backups.ok()) return backups.status();
  std::vector<json::object> items;
  for (const BackupInfo& b : *backups) {
    items.push_back(json::object{{"id", b.id},
                                 {"created_at", base::Rfc3339Micros(b.created_at_us)},
                                 {"size_bytes", b.size_bytes},
                                 {"position", b.position}});
  }
  return items;
}

int BackupList(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  auto items = ListedBackups(a);
  if (!items.ok()) return FailStatus(items.status());
  if (a.json) {
    PrintJson(
        json::object{{"dir", a.backup_dir}, {"items", json::array(items->begin(), items->end())}});
    return kExitOk;
  }
  if (items->empty()) std::cerr << "cledger: no backups in " << a.backup_dir << "\n";
  for (const json::object& b : *items) {
    std::cout << "backup " << U64(b, "id") << "  " << audit_tools::Printable(Str(b, "created_at"))
              << "  position ≥ " << U64(b, "position") << "  " << HumanBytes(U64(b, "size_bytes"))
              << "\n";
  }
  return kExitOk;
}

// One backup's check: {"id", "ok", and "problem" when it is damaged}; a backup that is not
// there, or a server that refused, is a Status.
Result<json::object> VerifiedBackup(const OpsArgs& a, uint32_t id) {
  json::object out{{"id", id}, {"ok", true}};
  if (a.remote()) {
    auto reply = GetJson(a, "POST", "/v1/admin/backups/" + std::to_string(id) + "/verify",
                         json::serialize(json::object{{"dir", a.backup_dir}}));
    if (!reply.ok()) return reply.status();
    const json::value* verified = reply->if_contains("ok");
    out["ok"] = verified != nullptr && verified->is_bool() && verified->as_bool();
    if (!out["ok"].as_bool()) out["problem"] = audit_tools::Printable(Str(*reply, "problem"));
    return out;
  }
  const Status checked = Engine::VerifyBackup(a.backup_dir, id);
  if (!checked.ok() && checked.code() != Code::kCorruption) return checked;  // not damage
  out["ok"] = checked.ok();
  if (!checked.ok()) out["problem"] = checked.message();
  return out;
}

// Checks one backup's files (--id) or every backup's against their checksums, without
// restoring any.
int BackupVerify(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::vector<uint32_t> ids;
  if (a.backup_id) {
    ids.push_back(*a.backup_id);
  } else {
    auto items = ListedBackups(a);
    if (!items.ok()) return FailStatus(items.status());
    if (items->empty())
      return FailStatus(Status::NotFound("backup_not_found", "no backups in " + a.backup_dir));
    for (const json::object& b : *items) ids.push_back(static_cast<uint32_t>(U64(b, "id")));
  }
  json::array checked;
  bool all_ok = true;
  for (const uint32_t id : ids) {
    auto one = VerifiedBackup(a, id);
    if (!one.ok()) return FailStatus(one.status());
    const bool ok = one->at("ok").as_bool();
    all_ok = all_ok && ok;
    if (!a.json && ok) {
      std::cout << "backup " << id << " in " << a.backup_dir
                << ": every file matches its checksum\n";
    } else if (!a.json) {
      std::cout << "backup " << id << " in " << a.backup_dir
                << " is damaged: " << one->at("problem").as_string().c_str() << "\n";
    }
    checked.push_back(std::move(*one));
  }
  if (a.json) PrintJson(json::object{{"dir", a.backup_dir}, {"items", std::move(checked)}});
  return all_ok ? kExitOk : kExitFailed;
}

}  // namespace

void AddBackup(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* backup = app.add_subcommand("backup", "Consistent backups, and restoring them");
  backup->require_subcommand(1);
  auto* create = backup->add_subcommand(
      "create",
      "Back up a ledger into DIR (incremental, checksummed; consistent while it is "
      "written to)");
  create->add_option("dir", args->backup_dir, "Backup directory (created when missing)")
      ->required();
  AddTarget(create, *args);
  AddJson(create, *args);
  create->footer(
      Footer("  cledger backup create /backups/ledger --data ./data\n"
             "  cledger backup create /backups/ledger --server http://127.0.0.1:8080 "
             "--token \"$OPS_TOKEN\"\n"
             "With --server the server writes DIR on its own machine, while it keeps serving."));
  create->callback([args, &run] { run = [args] { return BackupCreate(*args); }; });

  auto* list = backup->add_subcommand("list", "List the backups in DIR: id, time, position, size");
  list->add_option("dir", args->backup_dir, "Backup directory")->required();
  AddServer(list, *args, nullptr);
  AddJson(list, *args);
  list->footer(
      Footer("  cledger backup list /backups/ledger\n"
             "  cledger backup list /backups/ledger --server http://127.0.0.1:8080 "
             "--token \"$OPS_TOKEN\""));
  list->callback([args, &run] { run = [args] { return BackupList(*args); }; });

  auto* verify = backup->add_subcommand(
      "verify", "Check a backup's files against their checksums, without restoring it");
  verify->add_option("dir", args->backup_dir, "Backup directory")->required();
  verify->add_option("--id", args->backup_id,
                     "Which backup (cledger backup list). Default: every backup in DIR");
  AddServer(verify, *args, nullptr);
  AddJson(verify, *args);
  verify->footer(
      Footer("  cledger backup verify /backups/ledger\n"
             "  cledger backup verify /backups/ledger --id 3\n"
             "One line per backup checked. Exit 1 when a file of any is missing or differs from "
             "its checksum."));
  verify->callback([args, &run] { run = [args] { return BackupVerify(*args); }; });

  auto* restore = backup->add_subcommand(
      "restore", "Restore a backup of DIR (the latest, or --id N) into a new data directory");
  restore->add_option("dir", args->backup_dir, "Backup directory")->required();
  restore->add_option("--id", args->backup_id,
                      "Which backup (cledger backup list); it is verified first. Default: the "
                      "latest");
  restore->add_option("--data", args->restore_to, "A new data directory to restore into")
      ->required();
  AddJson(restore, *args);
  restore->footer(
      Footer("  cledger backup restore /backups/ledger --data ./restored --key-store ./data.keys "
             "--master-key-file ./data.master-key\n"
             "  cledger backup restore /backups/ledger --id 2 --data ./restored --key-store "
             "./data.keys --master-key-file ./data.master-key\n"
             "  cledger verify --data ./restored --key-store ./data.keys --master-key-file "
             "./data.master-key --signing-key-file ./data.signing-key\n"
             "The keys are never in a backup: give the original ledger's (its server stopped), so "
             "erasures made since the backup are applied again and the personal fields can be "
             "read. Refuses a --data directory that is not empty."));
  restore->callback([args, &run] { run = [args] { return BackupRestore(*args); }; });
}

}  // namespace cledger::cli::ops
