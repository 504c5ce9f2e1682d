// Projection keyspaces backed by RocksDB: through a commit group's Txn (writes), or straight
// from the database at one snapshot (queries).
#pragma once

#include <rocksdb/db.h>

#include <cstdlib>
#include <memory>

#include "engine/store/errors.h"
#include "engine/store/txn.h"
#include "projections/kv.h"

namespace cledger::store {

class TxnKv final : public projections::Kv {
 public:
  // `remember`: reads may be answered from the writer's CommittedMemory (Txn::Get).
  TxnKv(Txn& txn, rocksdb::ColumnFamilyHandle* cf, bool remember = false)
      : txn_(txn), cf_(cf), remember_(remember) {}
  Result<std::optional<std::string>> Get(std::string_view key) override {
    return txn_.Get(cf_, key, remember_);
  }
  void Put(std::string_view key, std::string_view value) override { txn_.Put(cf_, key, value); }
  void Delete(std::string_view key) override { txn_.Delete(cf_, key); }
  Status Scan(std::string_view prefix, const projections::ScanFn& fn) override {
    return txn_.Scan(cf_, prefix, fn);
  }

 private:
  Txn& txn_;
  rocksdb::ColumnFamilyHandle* cf_;
  bool remember_;
};

// Read-only. Writes are a programming error: queries never change projections.
class SnapshotKv final : public projections::Kv {
 public:
  SnapshotKv(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snapshot)
      : db_(db), cf_(cf) {
    read_.snapshot = snapshot;
  }
  Result<std::optional<std::string>> Get(std::string_view key) override {
    std::string value;
    rocksdb::Status s = db_->Get(read_, cf_, key, &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "read failed");
    return std::optional<std::string>(std::move(value));
  }
  void Put(std::string_view, std::string_view) override { std::abort(); }
  void Delete(std::string_view) override { std::abort(); }
  Status Scan(std::string_view prefix, const projections::ScanFn& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_, cf_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) return Status::Ok();
    }
    return it->status().ok() ? Status::Ok() : FromRocks(it->status(), "scan failed");
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::ReadOptions read_;
};

}  // namespace cledger::store
