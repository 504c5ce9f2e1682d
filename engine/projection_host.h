// Hosts the projections on RocksDB: one column family each ("p.<name>.<generation>"),
// folded inline with every commit, caught up at start, rebuilt blue/green, verified.
//
// Thread-safety: FoldCommit runs on the writer thread; everything else may run anywhere.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cledger/engine.h"
#include "engine/store/log_store.h"
#include "projections/projection.h"

namespace cledger {

class ProjectionHost {
 public:
  explicit ProjectionHost(store::LogStore& store) : store_(store) {}

  // Finds (or creates) each projection's family and folds what it has not applied yet.
  Status Attach();
  // The inline fold: every projection, every event of one commit, plus the applied position.
  void FoldCommit(store::Txn& txn, const std::vector<Event>& events);
  rocksdb::ColumnFamilyHandle* Family(const projections::Projection& projection);

  std::vector<ProjectionStatus> Statuses();
  Status Rebuild(const std::string& name, const Progress& progress);
  Result<std::vector<ProjectionMismatch>> Verify(const Progress& progress);

 private:
  struct Hosted {
    rocksdb::ColumnFamilyHandle* family = nullptr;
    uint64_t generation = 1;
  };
  // Folds events (from, to] of the log into `family`; returns the last position folded.
  Result<uint64_t> FoldRange(const projections::Projection& projection,
                             rocksdb::ColumnFamilyHandle* family, uint64_t from, uint64_t to,
                             const Progress& progress, bool sync);
  uint64_t Applied(rocksdb::ColumnFamilyHandle* family, const rocksdb::Snapshot* at = nullptr);

  store::LogStore& store_;
  std::mutex mu_;
  std::map<std::string, Hosted, std::less<>> hosted_;
};

}  // namespace cledger
