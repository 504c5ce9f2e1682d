#include "engine/store/txn.h"

#include <cstdlib>
#include <memory>

namespace cledger::store {

std::optional<std::optional<std::string>> Txn::Pending(rocksdb::ColumnFamilyHandle* cf,
                                                       std::string_view key) const {
  if (auto it = pending_.find(cf); it != pending_.end()) {
    if (auto hit = it->second.find(key); hit != it->second.end()) return hit->second;
  }
  return std::nullopt;
}

std::optional<std::string> Txn::Get(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  if (auto mine = Pending(cf, key)) return *mine;
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf, key, &value);
  if (s.IsNotFound()) return std::nullopt;
  // A failed read could let a rule pass that must not; the writer treats it as fatal for
  // the group, which the caller sees as an I/O error.
  if (!s.ok()) throw std::runtime_error("read failed: " + s.ToString());
  return value;
}

void Txn::Put(rocksdb::ColumnFamilyHandle* cf, std::string_view key, std::string_view value) {
  pending_[cf].insert_or_assign(std::string(key), std::string(value));
  if (!batch_.Put(cf, key, value).ok()) throw std::runtime_error("write batch full");
}

void Txn::Delete(rocksdb::ColumnFamilyHandle* cf, std::string_view key) {
  pending_[cf].insert_or_assign(std::string(key), std::nullopt);
  if (!batch_.Delete(cf, key).ok()) throw std::runtime_error("write batch full");
}

void Txn::Scan(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, const ScanFn& fn) {
  std::map<std::string, std::string, std::less<>> merged;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    merged.emplace(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) throw std::runtime_error("scan failed: " + it->status().ToString());
  MergePending(cf, prefix, merged);
  for (const auto& [key, value] : merged) {
    if (!fn(key, value)) return;
  }
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
