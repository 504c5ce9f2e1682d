// Hosts the projections on RocksDB: one column family each ("p.<name>.<generation>"),
// folded inline with every commit, caught up at start, rebuilt blue/green, verified.
//
// Thread-safety: FoldCommit runs on the writer thread; everything else may run anywhere.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cledger/engine.h"
#include "engine/store/log_store.h"
#include "projections/projection.h"

namespace cledger {

// Ok, or personal_data_unreadable when `event`'s personal fields could not be opened (no key
// store, or not the ledger's): every fold that reads the log (a rebuild, a follower, verify,
// time travel) refuses such an event. A replicated group is folded as it comes: a node that
// caught up past an erasure never received the erased subject's key.
Status Foldable(const Event& event);

class ProjectionHost {
 public:
  // `on_fault` hears about a follower's failed fold once, not at every retry.
  ProjectionHost(store::LogStore& store, std::function<void(const Status&)> on_fault)
      : store_(store), on_fault_(std::move(on_fault)) {}
  ~ProjectionHost() { StopFollowing(); }

  // Finds (or creates) each projection's family, folds what an inline projection has not
  // applied yet, and starts the thread that folds the others just behind the commits.
  Status Attach();
  // The inline fold: every inline projection, every event of one commit, plus the applied
  // position, in the commit's own batch.
  Status FoldCommit(store::Txn& txn, const std::vector<Event>& events);
  // Records `head` as applied by every inline projection, once per commit group.
  void MarkApplied(store::Txn& txn, uint64_t head);
  // A group became durable up to `head`: the follower thread folds it into the others.
  void Notify(uint64_t head);
  // Waits until every projection has applied `position`: Ok then. Ends at once with the
  // followers' failure when their last pass met one no retry mends (personal data this
  // process holds no keys for, a damaged record); a storage fault, which may pass, is waited
  // out until `timeout`, which ends with the failure still pending, if any, else Ok (what
  // lags is then read as it stands).
  Status AwaitFollowers(uint64_t position, std::chrono::milliseconds timeout);
  // REQUIRES: called before the store closes.
  void StopFollowing();
  // REQUIRES: the writer thread or the store's ReadLock(): the handle lives until a reopen.
  rocksdb::ColumnFamilyHandle* Family(const projections::Projection& projection);
  // Every projection's family, with a snapshot of the database taken at the same moment when
  // `snapshot` is not null: a rebuild's swap is wholly before it (the snapshot holds every
  // write of the new family) or wholly after (the old family stays readable).
  std::map<const projections::Projection*, rocksdb::ColumnFamilyHandle*> Families(
      rocksdb::DB* db, const rocksdb::Snapshot** snapshot);

  // The column family that holds a projection's generation: "p.<name>.<generation>"
  // (engine/store/FORMAT.md). The one place the name is spelled.
  static std::string FamilyName(std::string_view name, uint64_t generation);

  std::vector<ProjectionStatus> Statuses();
  // One at a time: a second is refused (Conflict) while one runs.
  Result<std::vector<FoldTime>> Rebuild(const std::vector<std::string>& names,
                                        const Progress& progress);
  Result<std::vector<ProjectionMismatch>> Verify(const Progress& progress);

 private:
  // Families are named, not held by handle: a reopen after a storage fault replaces handles.
  struct Hosted {
    uint64_t generation = 1;
  };
  // A projection and the family a fold writes it to; `seconds` adds up the time its fold took,
  // `last_seconds` is its last batch's.
  struct Target {
    const projections::Projection* projection;
    std::string family;
    double seconds = 0;
    double last_seconds = 0;
    projections::CachedKv::Memory cache;  // its family's records, as its fold last saw them
  };
  // A target whose family was just made empty (FreshFamily): its fold knows every key there.
  static Target FreshTarget(const projections::Projection& projection, std::string family) {
    Target target{&projection, std::move(family)};
    target.cache.written.emplace();
    return target;
  }
  std::string FamilyOf(const projections::Projection& projection);
  rocksdb::ColumnFamilyHandle* FamilyLocked(const projections::Projection& projection);  // mu_
  // Folds events (from, to] of the log into every target's family, reading the log once;
  // returns the last position folded.
  Result<uint64_t> FoldRange(std::vector<Target>& targets, uint64_t from, uint64_t to,
                             const Progress& progress, bool sync);
  // Folds `events` into every target, each into its own txn, on up to two threads.
  Status FoldSideBySide(std::vector<Target>& targets,
                        std::vector<std::unique_ptr<store::Txn>>& txns,
                        const std::vector<Event>& events, uint64_t last);
  Result<uint64_t> FoldRange(const projections::Projection& projection, const std::string& family,
                             uint64_t from, uint64_t to, const Progress& progress, bool sync) {
    std::vector<Target> one{{&projection, family}};
    return FoldRange(one, from, to, progress, sync);
  }
  // Each projection's generation by name, after folding afresh those an older fold wrote.
  Result<std::map<std::string_view, uint64_t>> Generations(uint64_t head);
  // Folds the `stale` projections afresh into their next generations up to `head` in one
  // scan and swaps them in, before anything is served; `generations` (by name) moves on.
  // For families an older fold wrote.
  Status Refold(const std::vector<const projections::Projection*>& stale,
                std::map<std::string_view, uint64_t>& generations, uint64_t head);
  // Creates `family` empty, dropping what an interrupted run left under that name first.
  Status FreshFamily(const std::string& family, bool shared = true);
  // Adds to `meta` that `generation` serves `projection`, written by its current fold.
  void RecordGeneration(rocksdb::WriteBatch& meta, const projections::Projection& projection,
                        uint64_t generation);
  // Drops every projection family no projection uses and every verify scratch family.
  void DropLeftovers();
  // The projections `names` names, or why one is unknown.
  Result<std::vector<const projections::Projection*>> Named(const std::vector<std::string>& names);
  // The position the family has applied (0: none yet), or why it cannot be read.
  Result<uint64_t> Applied(const std::string& family);
  // The first key where `family` at `snapshot` differs from the fresh fold in `scratch`.
  Result<std::optional<std::string>> FirstDifference(rocksdb::ColumnFamilyHandle* family,
                                                     const rocksdb::Snapshot* snapshot,
                                                     rocksdb::ColumnFamilyHandle* scratch);

  void FollowLoop();
  // One follower pass up to `target`; the first failure, the rest still tried.
  Status FollowOnce(uint64_t target);
  Result<uint64_t> FollowersApplied();

  store::LogStore& store_;
  std::function<void(const Status&)> on_fault_;
  std::mutex mu_;
  std::map<std::string, Hosted, std::less<>> hosted_;
  // Held by a rebuild: two would fold into (and drop) the same next generation's family.
  std::mutex rebuild_mu_;

  // Held by the follower from naming a generation to the last write into it: a rebuild
  // drops the generation it replaced only after taking it, so no fold writes to a dropped
  // family (RocksDB fails that write, and the store takes it for a fault).
  std::mutex folding_mu_;
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;   // a new head to fold, or stopping
  std::condition_variable applied_cv_;  // the followers applied more
  uint64_t target_ = 0;                 // the durable head the followers should reach
  uint64_t followed_ = 0;               // what every follower has applied
  bool stopping_ = false;
  Status follow_failure_;  // the followers' last pass's, Ok when it succeeded
  std::thread follower_;
};

}  // namespace cledger
