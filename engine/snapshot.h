// Every projection read at one point: what queries read through.
//
// The store's read lock is held for the snapshot's life, so a reopen after a storage fault
// waits for it; while the database is being reopened every read answers 503. Not
// thread-safe: one snapshot serves one query on one thread.
#pragma once

#include <rocksdb/db.h>

#include <cstdlib>
#include <map>
#include <memory>

#include "engine/projection_host.h"
#include "engine/store/errors.h"
#include "engine/store/kv_adapters.h"
#include "engine/store/log_store.h"
#include "projections/projection.h"

namespace cledger {

class Snapshot {
 public:
  // `consistent`: every read at one point in time. A query that reads one key needs no
  // snapshot (taking one costs a trip through the database's mutex).
  Snapshot(store::LogStore& store, ProjectionHost& host, bool consistent = true)
      : gate_(store.ReadLock()), db_(store.db()) {
    if (db_ != nullptr) families_ = host.Families(db_, consistent ? &snapshot_ : nullptr);
  }
  ~Snapshot() {
    if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
  }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  projections::Kv& Kv(const projections::Projection& p) {
    auto family = families_.find(&p);
    if (db_ == nullptr || family == families_.end() || family->second == nullptr) {
      return unavailable_;
    }
    auto it = kvs_.find(&p);
    if (it == kvs_.end()) {
      it = kvs_.emplace(&p, std::make_unique<store::SnapshotKv>(db_, family->second, snapshot_))
               .first;
    }
    return *it->second;
  }

 private:
  // Reads while the database is being reopened: every one answers 503.
  class UnavailableKv final : public projections::Kv {
   public:
    Result<std::optional<std::string>> Get(std::string_view) override { return store::Reopening(); }
    void Put(std::string_view, std::string_view) override { std::abort(); }
    void Delete(std::string_view) override { std::abort(); }
    Status Scan(std::string_view, const projections::ScanFn&) override {
      return store::Reopening();
    }
  };

  store::DbGate::Shared gate_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  // Taken with the snapshot: the generations it belongs with.
  std::map<const projections::Projection*, rocksdb::ColumnFamilyHandle*> families_;
  UnavailableKv unavailable_;
  std::map<const projections::Projection*, std::unique_ptr<store::SnapshotKv>> kvs_;
};

}  // namespace cledger
