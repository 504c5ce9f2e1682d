#include "engine/store/txn.h"

#include <cstdlib>
#include <memory>

#include "engine/store/errors.h"

namespace cledger::store {

std::optional<std::optional<std::string>> Txn::Pending(rocksdb::ColumnFamilyHandle* cf,
                                                       std::string_view key) const {
  if (auto it = pending_.find(cf); it != pending_.end()) {
    if (auto hit = it->second.find(key); hit != it->second.end()) return hit->second;
  }
  return std::nullopt;
}

// A failed read could let a rule pass that must not: it fails the command (and the rules
// pass it on), which the caller sees as a storage error.
Result<std::optional<std::string>> Txn::Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                                            bool remember) {
  if (auto mine = Pending(cf, key)) return *mine;
  projections::CachedKv::Memory* memory =
      remember && memory_ != nullptr ? &memory_->families_[cf] : nullptr;
  if (memory != nullptr) {
    if (auto it = memory->records.find(key); it != memory->records.end()) return it->second;
  }
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, key, &value);
  std::optional<std::string> found;
  if (s.ok()) {
    found = std::move(value);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read failed");
  }
  if (memory != nullptr) memory->Remember(key, found, memory_->budget_);
  return found;
}

// Only families it was asked to remember records of, and only records it holds.
void CommittedMemory::Learn(const Txn& durable) {
  for (const auto& [cf, overlay] : durable.pending_) {
    auto family = families_.find(cf);
    if (family == families_.end()) continue;
    for (const auto& [key, value] : overlay) family->second.Update(key, value);
  }
}

void Txn::Keep(const rocksdb::Status& s) {
  if (!s.ok() && status_.ok()) {
    status_ =
        Status::LimitExceeded("batch_full", "the commit group's batch is full: " + s.ToString());
  }
}

void Txn::Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
  std::optional<std::string>& pending = PendingSlot(cf, key);
  if (pending) {
    pending->assign(value);  // a record folded again reuses its buffer
  } else {
    pending.emplace(value);
  }
  if (!coalesce_) Keep(batch_.Put(cf, key, value));
}

void Txn::Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  PendingSlot(cf, key).reset();
  if (!coalesce_) Keep(batch_.Delete(cf, key));
}

// A fold writes the same records again and again: the key is copied only the first time.
std::optional<std::string>& Txn::PendingSlot(rocksdb::ColumnFamilyHandle* cf,
                                             std::string_view key) {
  Overlay& overlay = pending_[cf];
  auto it = overlay.lower_bound(key);
  if (it == overlay.end() || it->first != key) {
    it = overlay.emplace_hint(it, std::string(key), std::nullopt);
  }
  return it->second;
}

// From here on, writes go straight to the batch as well: none is lost after the first call.
rocksdb::WriteBatch& Txn::batch() {
  if (!coalesce_) return batch_;
  coalesce_ = false;
  for (const auto& [cf, overlay] : pending_) {
    for (const auto& [key, value] : overlay) {
      Keep(value ? batch_.Put(cf, key, *value) : batch_.Delete(cf, key));
    }
  }
  return batch_;
}

Status Txn::Scan(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, const ScanFn& fn) {
  std::map<std::string, std::string, std::less<>> merged;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    merged.emplace(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan failed");
  MergePending(cf, prefix, merged);
  for (const auto& [key, value] : merged) {
    if (!fn(key, value)) break;
  }
  return Status::Ok();
}

void Txn::MergePending(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix,
                       std::map<std::string, std::string, std::less<>>& merged) const {
  auto p = pending_.find(cf);
  if (p == pending_.end()) return;
  for (auto e = p->second.lower_bound(prefix);
       e != p->second.end() && std::string_view(e->first).starts_with(prefix); ++e) {
    if (e->second) {
      merged.insert_or_assign(e->first, *e->second);
    } else {
      merged.erase(e->first);
    }
  }
}

}  // namespace cledger::store
