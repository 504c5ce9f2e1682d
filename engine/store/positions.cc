// Positions are never reused, even after an operator accepts losing the end of a damaged
// write-ahead log. A file beside the database (not in it: it must survive the WAL) reserves
// positions ahead of the head, fsynced before any of them is acknowledged; accepting a loss
// records the whole reserved range past the recovered head as a gap, and the next commit
// takes the first position after it. Subscribers that saw a lost position never see it
// again with another event.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/keys.h"
#include "cledger/limits.h"
#include "engine/store/errors.h"
#include "engine/store/keys.h"
#include "engine/store/log_store.h"

namespace cledger::store {
namespace {

namespace fs = std::filesystem;

constexpr char kReservedFile[] = "RESERVED_POSITIONS";
constexpr char kGapPrefix[] = "gap/";

// The last reserved position, or 0 when nothing was ever reserved (a ledger written before
// reservations, or one restored from a backup, which holds only the database).
uint64_t ReadReserved(const fs::path& dir) {
  std::ifstream in(dir / kReservedFile);
  uint64_t through = 0;
  return in >> through ? through : 0;
}

Status SyncPath(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return Status::IoError("storage_error", "cannot sync " + path.string());
  }
  ::close(fd);
  return Status::Ok();
}

// Written whole to a temporary file, synced, renamed over the old one, directory synced: a
// crash leaves the old reservation or the new one, never a torn one.
Status WriteReserved(const fs::path& dir, uint64_t through) {
  const fs::path temporary = dir / (std::string(kReservedFile) + ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << through << "\n";
    if (!out.flush()) return Status::IoError("storage_error", "cannot write " + temporary.string());
  }
  if (Status s = SyncPath(temporary, O_RDONLY); !s.ok()) return s;
  std::error_code ec;
  fs::rename(temporary, dir / kReservedFile, ec);
  if (ec) return Status::IoError("storage_error", "cannot rename " + temporary.string());
  return SyncPath(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace

Status LogStore::ReservePositions(uint64_t head) {
  const uint64_t through = head + limits::kPositionsReservedAhead;
  if (Status s = WriteReserved(options_.ledger.path, through); !s.ok()) return s;
  reserved_through_ = through;
  return Status::Ok();
}

Status LogStore::CheckWalLossAcceptable() const {
  if (ReadReserved(options_.ledger.path) == 0) {
    return Status::Corruption(
        "wal_damaged",
        "this ledger holds no position reservation (" + std::string(kReservedFile) +
            "), so the positions a loss would take cannot be bounded and might be reused; "
            "restore from a backup instead");
  }
  return Status::Ok();
}

// After an open that dropped the damaged end of the write-ahead log: everything the lost
// commits may have used, up to the reservation, becomes a recorded gap.
Status LogStore::RecordAcceptedLoss(const std::string& wal) {
  const uint64_t reserved = ReadReserved(options_.ledger.path);
  Head head = GetHead();
  if (reserved <= head.position) return Status::Ok();
  const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  rocksdb::WriteBatch batch;
  batch.Put(meta_, kGapPrefix + base::U64Key(head.position + 1),
            base::U64Key(reserved) + base::U64Key(static_cast<uint64_t>(now_us)) + wal);
  const uint64_t lost_from = head.position + 1;
  head.position = reserved;  // same hash: the next event links to the last one kept
  batch.Put(meta_, kMetaHead,
            base::EncodeHeadRecord({head.position, head.hash, last_recorded_at_us_, commits_}));
  batch.Put(meta_, kMetaRequestsIndexed, base::U64Key(head.position));  // nothing in the gap
  rocksdb::WriteOptions write;
  write.sync = true;
  if (rocksdb::Status s = db_->Write(write, &batch); !s.ok()) return FromRocks(s, "storage fault");
  {
    std::lock_guard lock(head_mu_);
    head_ = head;
  }
  gaps_[lost_from] = reserved;
  return Status::Ok();
}

Status LogStore::LoadGaps() {
  gaps_.clear();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(kGapPrefix); it->Valid() && it->key().starts_with(kGapPrefix); it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(sizeof(kGapPrefix) - 1);
    gaps_[base::DecodeU64(key)] = base::DecodeU64(it->value().ToStringView());
  }
  return it->status().ok() ? Status::Ok() : FromRocks(it->status(), "storage fault");
}

uint64_t LogStore::GapEnd(uint64_t position) const {
  auto it = gaps_.find(position);
  return it == gaps_.end() ? 0 : it->second;
}

}  // namespace cledger::store
