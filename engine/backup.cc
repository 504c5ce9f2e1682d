// Backups through RocksDB's backup engine: incremental, checksummed, one point in time.
#include <rocksdb/utilities/backup_engine.h>

#include <filesystem>
#include <memory>

#include "engine/maintenance.h"
#include "engine/store/errors.h"

namespace cledger {

Status CreateBackup(store::LogStore& store, const std::string& backup_dir) {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(),
                                                    rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!s.ok()) return Status(Code::kIoError, "backup_failed", s.ToString());
  std::unique_ptr<rocksdb::BackupEngine> backups(raw);
  auto gate = store.ReadLock();
  if (store.db() == nullptr) return store::Reopening();
  // Live WAL files are copied with the tables, so the backup is one point in time across
  // every column family even while commits go on.
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = false;
  rocksdb::BackupID id = 0;
  s = backups->CreateNewBackup(create, store.db(), &id);
  if (s.ok()) s = backups->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return Status(Code::kIoError, "backup_failed", s.ToString());
  return Status::Ok();
}

Status Engine::RestoreBackup(const std::string& backup_dir, const std::string& data_dir) {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec) && !std::filesystem::is_empty(data_dir, ec)) {
    return Status(Code::kConflict, "data_dir_not_empty",
                  "restore into a new data directory; " + data_dir + " is not empty");
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!s.ok()) return Status(Code::kNotFound, "backup_not_found", s.ToString());
  std::unique_ptr<rocksdb::BackupEngineReadOnly> backups(raw);
  s = backups->RestoreDBFromLatestBackup(data_dir, data_dir);
  if (!s.ok()) return Status(Code::kIoError, "restore_failed", s.ToString());
  return Status::Ok();
}

}  // namespace cledger
