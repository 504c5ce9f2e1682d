// The view a commit group reads and writes through: the committed state of the column
// families plus the writes of the group's earlier commits, which are not durable yet.
//
// Errors are values: reads return theirs; a write the batch cannot take (it is full) is
// kept as the transaction's first error, status(), and the writer fails the whole group on
// it instead of writing, so nothing is half-applied.
//
// Thread-safety: owned by one thread; not shared.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cledger/status.h"
#include "projections/kv.h"

namespace cledger::store {

// Called for each (key, value) in key order; returns false to stop.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

class Txn;

// The durable values of records the writer read, by family, for its next commands: the rules
// read the same tenants, contacts and customers again and again, which RocksDB would look for
// through its memtables and tables each time. Only for families no one else writes while it
// is kept (the inline projections): it learns a group's writes once they are durable, and is
// forgotten whenever something else may have written (a swap of generations, replicated
// groups, a reopen after a fault). Writer thread only.
class CommittedMemory {
 public:
  explicit CommittedMemory(size_t budget_per_family) : budget_(budget_per_family) {}
  void Learn(const Txn& durable);
  void Clear() { families_.clear(); }

 private:
  friend class Txn;
  size_t budget_;
  std::unordered_map<rocksdb::ColumnFamilyHandle*, projections::CachedKv::Memory> families_;
};

class Txn {
 public:
  // `coalesce`: writes wait in the overlay, and batch() holds only each key's last value.
  // For folds over many events (a rebuild, a follower), where one record changes many times.
  // `memory`: answers the reads asked to be remembered; told of the writes by Durable().
  explicit Txn(rocksdb::DB* db, bool coalesce = false, CommittedMemory* memory = nullptr)
      : db_(db), coalesce_(coalesce), memory_(memory) {}

  // `remember`: the value may come from, and goes into, the writer's CommittedMemory.
  Result<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                                         bool remember = false);
  void Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value);
  void Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  // Every key that starts with `prefix`, committed and pending merged, deletions hidden.
  Status Scan(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, const ScanFn& fn);

  // The first write the batch refused; Ok while every write was taken. When coalescing,
  // only known once batch() was called.
  const Status& status() const { return status_; }
  rocksdb::WriteBatch& batch();
  bool empty() const { return batch_.Count() == 0 && pending_.empty(); }
  // The batch is durable: the memory learns what it wrote.
  void Durable() {
    if (memory_ != nullptr) memory_->Learn(*this);
  }

 private:
  using Overlay = std::map<std::string, std::optional<std::string>, std::less<>>;
  // The pending value of `key`: nullopt when this overlay has no say, a nullopt inside when
  // the key is deleted.
  std::optional<std::optional<std::string>> Pending(rocksdb::ColumnFamilyHandle* cf,
                                                    std::string_view key) const;
  void Keep(const rocksdb::Status& s);
  // The overlay's entry for `key`, made (absent: nullopt) when there is none.
  std::optional<std::string>& PendingSlot(rocksdb::ColumnFamilyHandle* cf, std::string_view key);
  void MergePending(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix,
                    std::map<std::string, std::string, std::less<>>& merged) const;
  rocksdb::DB* db_;
  bool coalesce_;  // cleared once batch() has materialised the overlay
  rocksdb::WriteBatch batch_;
  Status status_;
  std::unordered_map<rocksdb::ColumnFamilyHandle*, Overlay> pending_;
  CommittedMemory* memory_;
  friend class CommittedMemory;
};

}  // namespace cledger::store
