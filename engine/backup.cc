// Backups through RocksDB's backup engine: incremental, checksummed, one point in time.
#include <rocksdb/utilities/backup_engine.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <memory>

#include "engine/maintenance.h"
#include "engine/store/errors.h"

namespace cledger {
namespace {

// Every backup records the head it began at, as its application metadata.
constexpr std::string_view kPositionPrefix = "position=";
// A path the system takes (PATH_MAX): a longer one fails at its calls, after work.
constexpr size_t kPathBytesMax = 4096;

uint64_t PositionOf(const std::string& metadata) {
  uint64_t position = 0;
  if (metadata.starts_with(kPositionPrefix)) {
    std::from_chars(metadata.data() + kPositionPrefix.size(), metadata.data() + metadata.size(),
                    position);
  }
  return position;
}

// What RocksDB's backup engine opens in a backup directory must be a directory or a regular
// file. A FIFO placed there would block its open() (and the thread serving the caller) until
// someone wrote to it; a device would be read as a backup; a link (the engine makes none)
// could lead a check to any file the server may read (its size and checksum in the answer)
// or round a loop without end. A NUL byte would cut the path short at the system's calls,
// so another directory would be used than the one named; control characters have no place
// in a directory's name and would reach terminals in answers.
Status CheckBackupDir(const std::string& dir) {
  if (dir.size() > kPathBytesMax) {
    return Status::InvalidArgument(
        "invalid_value", "dir is longer than " + std::to_string(kPathBytesMax) + " bytes", "dir");
  }
  if (std::any_of(dir.begin(), dir.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return Status::InvalidArgument(
        "invalid_value", "a directory's name holds no NUL byte nor other control character", "dir");
  }
  namespace fs = std::filesystem;
  auto refuse = [&](const fs::path& path) {
    return Status::InvalidArgument(
        "not_a_backup",
        path.string() +
            " is neither a file nor a directory (a link, a FIFO, a device), which no backup "
            "holds: remove it, or name the backups' own directory",
        "dir");
  };
  // What cannot be read here (a file removed meanwhile, a permission) is left to RocksDB,
  // which says what it could not read; only what is there and not a file is refused here.
  for (const char* part : {"meta", "private", "shared", "shared_checksum"}) {
    std::error_code ec;
    const fs::path top = fs::path(dir) / part;
    const fs::file_status top_status = fs::symlink_status(top, ec);
    if (!fs::exists(top_status)) continue;
    if (!fs::is_directory(top_status)) return refuse(top);
    // Links are not followed: a link anywhere is refused as what it is.
    for (fs::recursive_directory_iterator it(top, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code unreadable;
      const fs::file_type type = it->symlink_status(unreadable).type();
      if (!unreadable && type != fs::file_type::regular && type != fs::file_type::directory) {
        return refuse(it->path());
      }
    }
  }
  return Status::Ok();
}

// A backup directory opened for reading; a directory with no backups is not found.
Result<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenBackups(const std::string& backup_dir) {
  if (Status s = CheckBackupDir(backup_dir); !s.ok()) return s;
  std::error_code ec;
  if (!std::filesystem::is_directory(backup_dir, ec)) {
    return Status::NotFound("backup_not_found", "no backup directory " + backup_dir);
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (s.IsNotFound()) return Status::NotFound("backup_not_found", "no backups in " + backup_dir);
  if (!s.ok()) {
    return Status::NotFound("backup_not_found",
                            "cannot read backups in " + backup_dir + ": " + s.ToString());
  }
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(raw);
}

// A directory for backups or a restore, made with its parents (as `mkdir -p`). What is wrong
// with the path is said plainly: RocksDB's words name its own calls. A file in the way is the
// caller's mistake; a directory that cannot be made (permissions, a full disk) is `failed`.
Status MakeDirectory(const std::string& dir, const std::string& field, const std::string& failed) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return Status::InvalidArgument("not_a_directory",
                                   dir + " is a file, not a directory: name a directory", field);
  }
  std::filesystem::create_directories(dir, ec);
  if (!ec) return Status::Ok();
  return Status(Code::kUnavailable, failed,
                "cannot create " + dir + " or a directory above it: " + ec.message(), field);
}

}  // namespace

Status CreateBackup(store::LogStore& store, const std::string& backup_dir) {
  if (Status s = CheckBackupDir(backup_dir); !s.ok()) return s;
  if (Status s = MakeDirectory(backup_dir, "dir", "backup_failed"); !s.ok()) return s;
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(),
                                                    rocksdb::BackupEngineOptions(backup_dir), &raw);
  // Unavailable, not an I/O error of the ledger: the cause lies in the directory the caller
  // named, and is theirs to read.
  if (!s.ok()) return Status(Code::kUnavailable, "backup_failed", s.ToString());
  std::unique_ptr<rocksdb::BackupEngine> backups(raw);
  auto gate = store.ReadLock();
  if (store.db() == nullptr) return store::Reopening();
  // Live WAL files are copied with the tables, so the backup is one point in time across
  // every column family even while commits go on.
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = false;
  const std::string metadata =
      std::string(kPositionPrefix) + std::to_string(store.GetHead().position);
  rocksdb::BackupID id = 0;
  s = backups->CreateNewBackupWithMetadata(create, store.db(), metadata, &id);
  if (s.ok()) s = backups->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return Status(Code::kUnavailable, "backup_failed", s.ToString());
  return Status::Ok();
}

Status Engine::RestoreBackup(const std::string& backup_dir, const std::string& data_dir,
                             std::optional<uint32_t> id) {
  std::error_code ec;
  if (std::filesystem::is_directory(data_dir, ec) && !std::filesystem::is_empty(data_dir, ec)) {
    return Status(Code::kConflict, "data_dir_not_empty",
                  "restore into a new data directory; " + data_dir + " is not empty");
  }
  auto backups = OpenBackups(backup_dir);
  if (!backups.ok()) return backups.status();
  if (!id) {  // the latest, checked as a chosen one is
    std::vector<rocksdb::BackupInfo> infos;
    (*backups)->GetBackupInfo(&infos);
    if (infos.empty()) return Status::NotFound("backup_not_found", "no backups in " + backup_dir);
    id = std::max_element(infos.begin(), infos.end(), [](const auto& a, const auto& b) {
           return a.backup_id < b.backup_id;
         })->backup_id;
  }
  // A damaged file is named before anything is written.
  if (Status s = VerifyBackup(backup_dir, *id); !s.ok()) return s;
  if (Status s = MakeDirectory(data_dir, "data_dir", "restore_failed"); !s.ok()) return s;
  rocksdb::IOStatus s = (*backups)->RestoreDBFromBackup(*id, data_dir, data_dir);
  if (s.ok()) return Status::Ok();
  // The directory was empty or absent: a half-restored ledger is not left in it.
  std::vector<std::filesystem::path> restored;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir, ec)) {
    restored.push_back(entry.path());
  }
  for (const auto& path : restored) std::filesystem::remove_all(path, ec);
  return Status(Code::kIoError, "restore_failed", s.ToString());
}

Result<std::vector<BackupInfo>> Engine::ListBackups(const std::string& backup_dir) {
  if (Status s = CheckBackupDir(backup_dir); !s.ok()) return s;
  std::error_code ec;
  // A directory no backup was made in yet lists none (RocksDB would find no meta in it).
  if (std::filesystem::is_directory(backup_dir, ec) &&
      !std::filesystem::exists(backup_dir + "/meta", ec)) {
    return std::vector<BackupInfo>();
  }
  auto backups = OpenBackups(backup_dir);
  if (!backups.ok()) return backups.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*backups)->GetBackupInfo(&infos);
  std::vector<BackupInfo> out;
  for (const rocksdb::BackupInfo& info : infos) {
    out.push_back({info.backup_id, info.timestamp * int64_t{1'000'000}, info.size,
                   PositionOf(info.app_metadata)});
  }
  return out;
}

Status Engine::VerifyBackup(const std::string& backup_dir, uint32_t id) {
  auto backups = OpenBackups(backup_dir);
  if (!backups.ok()) return backups.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*backups)->GetBackupInfo(&infos);
  if (std::none_of(infos.begin(), infos.end(),
                   [&](const rocksdb::BackupInfo& i) { return i.backup_id == id; })) {
    return Status::NotFound("backup_not_found",
                            "no backup " + std::to_string(id) + " in " + backup_dir);
  }
  rocksdb::IOStatus s = (*backups)->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return Status(Code::kCorruption, "backup_damaged", s.ToString());
  return Status::Ok();
}

}  // namespace cledger
