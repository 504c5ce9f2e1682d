#include "engine/projection_host.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <numeric>
#include <set>
#include <thread>

#include "base/hex.h"
#include "base/keys.h"
#include "engine/store/errors.h"
#include "engine/store/keys.h"
#include "engine/store/kv_adapters.h"

namespace cledger {
namespace {

// Sorts after every key a fold writes: tenant keys start with a length byte below 0x81 and
// the other kinds with a lowercase letter.
constexpr char kAppliedKey[] =
    "\xff"
    "applied";
constexpr size_t kFoldBatchEvents = 10'000;
// What each target of a fold remembers of its family's records (CachedKv): a rebuild's peak
// memory grows by up to this much per projection, and by its WrittenKeys (up to 64 MiB; about
// 20 MiB for the audit's keys at 2 million events). A 2-million-event rebuild --all: 120 s and
// 572 MiB with 64 MiB, 111 s and 708 MiB with 128, 109 s and 930 MiB with 256.
constexpr size_t kFoldCacheBytes = 128u << 20;
// On a thread of its own, or (when none can be started) on the caller's when it waits.
constexpr auto kAsideIfPossible = std::launch::async | std::launch::deferred;
// A follower whose fold failed retries after a pause that doubles up to the maximum, so a
// lasting storage fault costs a retry every few seconds, not a busy loop.
constexpr std::chrono::milliseconds kFollowRetryFirst{50};
constexpr std::chrono::milliseconds kFollowRetryMax{5000};

Status AllFoldable(const std::vector<Event>& events) {
  for (const Event& event : events) {
    if (Status s = Foldable(event); !s.ok()) return s;
  }
  return Status::Ok();
}

// A storage fault may pass (the follower retries it); any other failure a retry would only
// meet again.
bool Passing(const Status& failure) {
  return failure.code() == Code::kIoError || failure.code() == Code::kUnavailable ||
         failure.code() == Code::kNoSpace;
}

std::string MetaKey(std::string_view name) { return "projection/" + std::string(name); }
// The FoldVersion that wrote the projection's family; absent: 1 (written before versions).
std::string FoldKey(std::string_view name) { return "projection-fold/" + std::string(name); }

}  // namespace

// A fold of an event whose personal fields this process could not open would keep them
// empty for good (an erased subject's read empty as they must: Personal::kErased).
Status Foldable(const Event& event) {
  if (event.personal != Personal::kUnreadable) return Status::Ok();
  return Status(  // no retry mends it: only a process given the keys can fold it
      Code::kConflict, "personal_data_unreadable",
      "position " + std::to_string(event.position) +
          " holds personal data sealed under keys this process does not hold (what it folded "
          "would show those fields empty); give the ledger's --key-store and --master-key-file");
}

std::string ProjectionHost::FamilyName(std::string_view name, uint64_t generation) {
  return "p." + std::string(name) + "." + std::to_string(generation);
}

// Each projection's recorded generation; those an older fold wrote (an upgrade) are folded
// afresh first, all in one scan.
Result<std::map<std::string_view, uint64_t>> ProjectionHost::Generations(uint64_t head) {
  std::map<std::string_view, uint64_t> generations;
  std::vector<const projections::Projection*> stale;
  auto recorded = [&](const std::string& key) -> std::optional<uint64_t> {
    std::string value;
    if (!store_.db()->Get(rocksdb::ReadOptions(), store_.Family(store::kCfMeta), key, &value).ok())
      return std::nullopt;
    return std::stoull(value);
  };
  for (const projections::Projection* p : projections::All()) {
    generations[p->name()] = recorded(MetaKey(p->name())).value_or(Hosted{}.generation);
    const std::optional<uint64_t> fold = recorded(FoldKey(p->name()));
    const bool fold_known = fold.has_value();
    // A ledger with events but no fold version recorded was written before versions: 1.
    if ((fold_known || head > 0) && fold.value_or(1) != p->FoldVersion()) {
      stale.push_back(p);  // written by an older fold (an upgrade)
    } else if (!fold_known) {
      rocksdb::WriteBatch meta;
      (void)meta.Put(store_.Family(store::kCfMeta), FoldKey(p->name()),
                     std::to_string(p->FoldVersion()));
      if (Status s = store_.WriteSide(meta, /*sync=*/false); !s.ok()) return s;
    }
  }
  // A process without the personal data's keys cannot fold afresh: what the older fold wrote
  // goes on serving its reads (its version stays recorded) until a process given the keys
  // opens the ledger, as a lagging audit trail does.
  if (Status s = stale.empty() ? Status::Ok() : Refold(stale, generations, head);
      !s.ok() && s.reason() != "personal_data_unreadable") {
    return s;
  }
  return generations;
}

Status ProjectionHost::Attach() {
  const uint64_t head = store_.GetHead().position;
  auto generations = Generations(head);
  if (!generations.ok()) return generations.status();
  for (const projections::Projection* p : projections::All()) {
    Hosted hosted;
    hosted.generation = generations->at(p->name());
    const std::string family = FamilyName(p->name(), hosted.generation);
    if (auto created = store_.CreateFamily(family); !created.ok()) return created.status();
    // Inline folds share each commit's batch, so this is a no-op unless the projection is
    // new or was dropped: start-up work never grows with the log. Followers catch up in the
    // background instead.
    if (p->Inline()) {
      auto applied = Applied(family);
      if (!applied.ok()) return applied.status();
      auto folded = FoldRange(*p, family, *applied, head, {}, true);
      if (!folded.ok()) return folded.status();
    }
    std::lock_guard lock(mu_);
    hosted_[std::string(p->name())] = hosted;
  }
  DropLeftovers();
  target_ = head;
  auto followed = FollowersApplied();
  if (!followed.ok()) return followed.status();
  followed_ = *followed;
  follower_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cledger-follow");
    FollowLoop();
  });
  return Status::Ok();
}

void ProjectionHost::Notify(uint64_t head) {
  {
    std::lock_guard lock(follow_mu_);
    target_ = std::max(target_, head);
  }
  follow_cv_.notify_one();
}

Status ProjectionHost::AwaitFollowers(uint64_t position, std::chrono::milliseconds timeout) {
  std::unique_lock lock(follow_mu_);
  applied_cv_.wait_for(lock, timeout, [&] {
    return stopping_ || followed_ >= position ||
           (!follow_failure_.ok() && !Passing(follow_failure_));
  });
  return stopping_ || followed_ >= position ? Status::Ok() : follow_failure_;
}

void ProjectionHost::StopFollowing() {
  {
    std::lock_guard lock(follow_mu_);
    stopping_ = true;
  }
  follow_cv_.notify_all();
  applied_cv_.notify_all();
  if (follower_.joinable()) follower_.join();
}

Result<uint64_t> ProjectionHost::FollowersApplied() {
  uint64_t applied = UINT64_MAX;
  for (const projections::Projection* p : projections::All()) {
    if (p->Inline()) continue;
    auto one = Applied(FamilyOf(*p));
    if (!one.ok()) return one.status();
    applied = std::min(applied, *one);
  }
  return applied;
}

// Folds each durable group into the projections that are not inline, in batches, unsynced:
// a crash loses only what their applied position also forgets, and they fold it again.
void ProjectionHost::FollowLoop() {
  std::chrono::milliseconds retry{0};  // the pause after a failed pass; zero while folds succeed
  for (;;) {
    uint64_t target;
    {
      std::unique_lock lock(follow_mu_);
      follow_cv_.wait(lock, [&] { return stopping_ || target_ > followed_; });
      if (stopping_) return;
      target = target_;
    }
    const Status folded = FollowOnce(target);
    auto followed = FollowersApplied();
    {
      std::lock_guard lock(follow_mu_);
      if (followed.ok()) followed_ = *followed;
      follow_failure_ = folded;
    }
    applied_cv_.notify_all();
    if (folded.ok()) {
      retry = {};
      continue;
    }
    // Told once per run of failures: a fault that lasts must not flood the log.
    if (retry.count() == 0) {
      if (on_fault_) on_fault_(folded);
      retry = kFollowRetryFirst;
    } else {
      retry = std::min(retry * 2, kFollowRetryMax);
    }
    std::unique_lock lock(follow_mu_);
    follow_cv_.wait_for(lock, retry, [&] { return stopping_; });
  }
}

Status ProjectionHost::FollowOnce(uint64_t target) {
  Status first;
  for (const projections::Projection* p : projections::All()) {
    if (p->Inline()) continue;
    std::lock_guard folding(folding_mu_);
    const std::string family = FamilyOf(*p);
    auto applied = Applied(family);
    // Folding from a position it could not read would fold events twice: skip this pass.
    auto folded = applied.ok() ? FoldRange(*p, family, *applied, target, {}, false)
                               : Result<uint64_t>(applied.status());
    if (!folded.ok() && first.ok()) first = folded.status();
  }
  return first;
}

Status ProjectionHost::FoldCommit(store::Txn& txn, const std::vector<Event>& events) {
  for (const projections::Projection* p : projections::All()) {
    if (!p->Inline()) continue;
    store::TxnKv kv(txn, Family(*p), /*remember=*/true);
    for (const Event& event : events) {
      if (Status s = p->Apply(kv, event); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

void ProjectionHost::MarkApplied(store::Txn& txn, uint64_t head) {
  const std::string applied = base::U64Key(head);
  for (const projections::Projection* p : projections::All()) {
    if (p->Inline()) txn.Put(Family(*p), kAppliedKey, applied);
  }
}

std::string ProjectionHost::FamilyOf(const projections::Projection& projection) {
  std::lock_guard lock(mu_);
  return FamilyName(projection.name(), hosted_.find(projection.name())->second.generation);
}

rocksdb::ColumnFamilyHandle* ProjectionHost::Family(const projections::Projection& projection) {
  std::lock_guard lock(mu_);
  return FamilyLocked(projection);
}

// Name and handle under mu_: a rebuild swaps the generation under it and drops the old family
// only after, so the handle found is the live one, or one a drop keeps readable.
rocksdb::ColumnFamilyHandle* ProjectionHost::FamilyLocked(
    const projections::Projection& projection) {
  return store_.Family(
      FamilyName(projection.name(), hosted_.find(projection.name())->second.generation));
}

std::map<const projections::Projection*, rocksdb::ColumnFamilyHandle*> ProjectionHost::Families(
    rocksdb::DB* db, const rocksdb::Snapshot** snapshot) {
  std::lock_guard lock(mu_);
  if (snapshot != nullptr) *snapshot = db->GetSnapshot();
  std::map<const projections::Projection*, rocksdb::ColumnFamilyHandle*> out;
  for (const projections::Projection* p : projections::All()) out[p] = FamilyLocked(*p);
  return out;
}

Result<uint64_t> ProjectionHost::Applied(const std::string& family) {
  auto gate = store_.ReadLock();
  rocksdb::ColumnFamilyHandle* handle = store_.Family(family);
  if (store_.db() == nullptr || handle == nullptr) return store::Reopening();
  std::string value;
  rocksdb::Status s = store_.db()->Get(rocksdb::ReadOptions(), handle, kAppliedKey, &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return store::FromRocks(s, "reading a projection's applied position");
  return base::DecodeU64(value);
}

// The log is read a batch ahead of the folds (reading and opening events is a fifth of a
// rebuild's time), and the targets fold side by side on two threads, each into a batch of
// its own: projections share no record. The batches are written (from one thread: RocksDB's
// writers spin waiting for each other) before the next batch folds, which reads them.
Result<uint64_t> ProjectionHost::FoldRange(std::vector<Target>& targets, uint64_t from, uint64_t to,
                                           const Progress& progress, bool sync) {
  auto read = [this, to](uint64_t after, std::vector<Event>& into) {
    return store_.ReadInto(after + 1, std::min<uint64_t>(kFoldBatchEvents, to - after), into);
  };
  // Two batches' memory, in turn: one folds while the next is read into the other.
  std::vector<Event> batches[2];
  std::future<Status> ahead;  // destroyed first: waits for a read still filling a batch
  uint64_t done = from;
  for (size_t turn = 0; done < to; turn ^= 1) {
    std::vector<Event>& events = batches[turn];
    if (Status s = ahead.valid() ? ahead.get() : read(done, events); !s.ok()) return s;
    // Past a recorded gap a read of N events reaches further than N positions: not past `to`.
    while (!events.empty() && events.back().position > to) events.pop_back();
    if (Status s = AllFoldable(events); !s.ok()) return s;
    // No event up to `to`: the rest is a recorded gap (an accepted loss), applied as nothing.
    const uint64_t last = events.empty() ? to : events.back().position;
    if (last < to) ahead = std::async(kAsideIfPossible, read, last, std::ref(batches[turn ^ 1]));
    auto gate = store_.ReadLock();  // the batch reads and writes one database
    if (store_.db() == nullptr) return store::Reopening();
    std::vector<std::unique_ptr<store::Txn>> txns;
    for (size_t i = 0; i < targets.size(); ++i) {
      // Coalescing: a record folded often is written once.
      txns.push_back(std::make_unique<store::Txn>(store_.db(), /*coalesce=*/true));
    }
    if (Status s = FoldSideBySide(targets, txns, events, last); !s.ok()) return s;
    for (auto& txn : txns) {  // nothing written unless every fold's batch took its writes
      (void)txn->batch();
      if (!txn->status().ok()) return txn->status();
    }
    for (size_t i = 0; i < txns.size(); ++i) {
      // One sync, after the last: it makes every earlier write of the batch durable too.
      if (Status s = store_.WriteSide(txns[i]->batch(), sync && i + 1 == txns.size()); !s.ok()) {
        return s;
      }
    }
    done = last;
    if (progress) progress(done, to);
  }
  return done;
}

// The slowest fold of the last batch goes first, so the two threads finish close together.
Status ProjectionHost::FoldSideBySide(std::vector<Target>& targets,
                                      std::vector<std::unique_ptr<store::Txn>>& txns,
                                      const std::vector<Event>& events, uint64_t last) {
  std::vector<size_t> order(targets.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return targets[a].last_seconds > targets[b].last_seconds; });
  std::atomic<size_t> next{0};
  auto fold = [&]() -> Status {
    for (size_t n; (n = next++) < order.size();) {
      Target& target = targets[order[n]];
      rocksdb::ColumnFamilyHandle* handle = store_.Family(target.family);
      if (handle == nullptr) return store::Reopening();
      store::TxnKv txn(*txns[order[n]], handle);
      projections::CachedKv kv(txn, target.cache, kFoldCacheBytes);
      const auto started = std::chrono::steady_clock::now();
      for (const Event& event : events) {
        if (Status s = target.projection->Apply(kv, event); !s.ok()) return s;
      }
      kv.Put(kAppliedKey, base::U64Key(last));
      target.last_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      target.seconds += target.last_seconds;
    }
    return Status::Ok();
  };
  std::future<Status> helper;
  if (targets.size() > 1 && std::thread::hardware_concurrency() > 1) {
    helper = std::async(kAsideIfPossible, fold);
  }
  Status mine = fold();
  Status theirs = helper.valid() ? helper.get() : Status::Ok();
  return mine.ok() ? theirs : mine;
}

std::vector<ProjectionStatus> ProjectionHost::Statuses() {
  const uint64_t head = store_.GetHead().position;
  std::vector<ProjectionStatus> out;
  for (const projections::Projection* p : projections::All()) {
    const uint64_t generation = [&] {
      std::lock_guard lock(mu_);
      return hosted_.find(p->name())->second.generation;
    }();
    // Only a report: an unreadable position shows as nothing applied (the lag says so).
    const uint64_t applied = Applied(FamilyName(p->name(), generation)).value_or(0);
    out.push_back({std::string(p->name()), applied, head > applied ? head - applied : 0, generation,
                   p->Inline()});
  }
  return out;
}

Status ProjectionHost::Refold(const std::vector<const projections::Projection*>& stale,
                              std::map<std::string_view, uint64_t>& generations, uint64_t head) {
  std::vector<Target> targets;
  for (const projections::Projection* p : stale) {
    const std::string family = FamilyName(p->name(), generations[p->name()] + 1);
    if (Status s = FreshFamily(family); !s.ok()) return s;
    targets.push_back(FreshTarget(*p, family));
  }
  auto folded = FoldRange(targets, 0, head, {}, true);  // one scan of the log for them all
  if (!folded.ok()) return folded.status();
  rocksdb::WriteBatch meta;
  for (const projections::Projection* p : stale) {
    RecordGeneration(meta, *p, generations[p->name()] + 1);
  }
  if (Status s = store_.WriteSide(meta, /*sync=*/true); !s.ok()) return s;
  // The new generations are recorded: a failed drop leaves a family DropLeftovers drops later.
  std::vector<std::string> replaced;
  for (const projections::Projection* p : stale) {
    replaced.push_back(FamilyName(p->name(), generations[p->name()]++));
  }
  (void)store_.DropFamilies(replaced);
  return Status::Ok();
}

// An empty family: what an interrupted rebuild, refold or verify left under its name goes.
// A drop that fails fails the work: a fold into the family trusts that it began empty.
Status ProjectionHost::FreshFamily(const std::string& family, bool shared) {
  if (Status dropped = store_.DropFamily(family, shared); !dropped.ok()) return dropped;
  return store_.CreateFamily(family).status();
}

// The generation that serves `projection` from now on, and the fold that wrote it.
void ProjectionHost::RecordGeneration(rocksdb::WriteBatch& meta,
                                      const projections::Projection& projection,
                                      uint64_t generation) {
  (void)meta.Put(store_.Family(store::kCfMeta), MetaKey(projection.name()),
                 std::to_string(generation));
  (void)meta.Put(store_.Family(store::kCfMeta), FoldKey(projection.name()),
                 std::to_string(projection.FoldVersion()));
}

// What an interrupted rebuild, refold or verify left: a generation no projection uses, a
// scratch family. Nothing serves from them, and an erasure would not reach them.
void ProjectionHost::DropLeftovers() {
  std::set<std::string> in_use;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, hosted] : hosted_) in_use.insert(FamilyName(name, hosted.generation));
  }
  std::vector<std::string> unused;
  for (const std::string& family : store_.FamilyNames()) {
    if (family.starts_with("verify.")) (void)store_.DropFamily(family, /*shared=*/false);
    if (family.starts_with("p.") && !in_use.contains(family)) unused.push_back(family);
  }
  (void)store_.DropFamilies(unused);
}

Result<std::vector<const projections::Projection*>> ProjectionHost::Named(
    const std::vector<std::string>& names) {
  std::vector<const projections::Projection*> out;
  for (const std::string& name : names) {
    const projections::Projection* projection = projections::Find(name);
    if (projection == nullptr) {
      std::string known;
      for (const projections::Projection* p : projections::All()) {
        known += (known.empty() ? "" : ", ") + std::string(p->name());
      }
      return Status(Code::kNotFound, "projection_not_found",
                    "no projection named '" + name + "'; the projections are " + known);
    }
    if (std::find(out.begin(), out.end(), projection) == out.end()) out.push_back(projection);
  }
  return out;
}

// Blue/green: fold the whole log into new families while the old ones serve, then, on the
// writer thread, fold the last few events and swap before the next commit. One scan of the
// log feeds every fold.
Result<std::vector<FoldTime>> ProjectionHost::Rebuild(const std::vector<std::string>& names,
                                                      const Progress& progress) {
  std::unique_lock one_at_a_time(rebuild_mu_, std::try_to_lock);
  if (!one_at_a_time.owns_lock()) {
    return Status(Code::kConflict, "rebuild_in_progress",
                  "a rebuild is already running on this ledger; ask again when it has ended");
  }
  auto projections = Named(names);
  if (!projections.ok()) return projections.status();
  std::vector<Target> targets;
  std::vector<uint64_t> generations;
  for (const projections::Projection* projection : *projections) {
    uint64_t generation;
    {
      std::lock_guard lock(mu_);
      generation = hosted_.find(projection->name())->second.generation + 1;
    }
    std::string family = FamilyName(projection->name(), generation);
    if (Status s = FreshFamily(family); !s.ok()) return s;
    targets.push_back(FreshTarget(*projection, std::move(family)));
    generations.push_back(generation);
  }
  auto folded = FoldRange(targets, 0, store_.GetHead().position, progress, false);
  if (!folded.ok()) return folded.status();

  std::vector<std::string> old_families;
  Status swapped = store_.RunExclusive([&]() -> Status {
    auto rest = FoldRange(targets, *folded, store_.GetHead().position, {}, true);
    if (!rest.ok()) return rest.status();
    rocksdb::WriteBatch meta;
    for (size_t i = 0; i < targets.size(); ++i) {
      RecordGeneration(meta, *targets[i].projection, generations[i]);
    }
    if (Status s = store_.WriteSide(meta, /*sync=*/true); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < targets.size(); ++i) {
      Hosted& hosted = hosted_.find(targets[i].projection->name())->second;
      old_families.push_back(FamilyName(targets[i].projection->name(), hosted.generation));
      hosted = {generations[i]};
    }
    return Status::Ok();
  });
  if (!swapped.ok()) return swapped;
  { std::lock_guard follower_done(folding_mu_); }  // it names the new generations from now on
  // Swapped: a family that fails to drop is left for DropLeftovers at the next open.
  (void)store_.DropFamilies(old_families);
  std::vector<FoldTime> times;
  for (const Target& target : targets) {
    times.push_back({std::string(target.projection->name()), target.seconds});
  }
  return times;
}

// Folds the whole log, once, into a scratch family per projection — on disk, so memory stays
// bounded however large they are (each fold's CachedKv budget) — and compares each with its
// live family at one snapshot.
Result<std::vector<ProjectionMismatch>> ProjectionHost::Verify(const Progress& progress) {
  // A snapshot taken between two commits: every projection is exactly at one head. The
  // gate keeps the database (and the snapshot) from a reopen until the end.
  auto gate = store_.ReadLock();
  const rocksdb::Snapshot* snapshot = nullptr;
  uint64_t head = 0;
  // The families the snapshot belongs with: a rebuild may swap others in meanwhile (their
  // handles stay valid while the gate is held).
  std::vector<rocksdb::ColumnFamilyHandle*> live;
  Status taken = store_.RunExclusive([&] {
    if (store_.db() == nullptr) return store::Reopening();
    head = store_.GetHead().position;
    // They fold without the writer. One that cannot shows as a difference, or (no keys) the
    // fresh fold below fails for the same reason.
    (void)AwaitFollowers(head, std::chrono::seconds(60));
    snapshot = store_.db()->GetSnapshot();
    for (const projections::Projection* p : projections::All()) live.push_back(Family(*p));
    return Status::Ok();
  });
  if (!taken.ok()) return taken;
  std::vector<Target> scratch;
  Status failed;
  for (const projections::Projection* p : projections::All()) {
    std::string name = "verify." + std::string(p->name());
    failed = FreshFamily(name, /*shared=*/false);
    if (!failed.ok()) break;
    scratch.push_back(FreshTarget(*p, std::move(name)));
  }
  std::vector<ProjectionMismatch> mismatches;
  if (failed.ok()) {
    auto folded = FoldRange(scratch, 0, head, progress, false);
    if (!folded.ok()) failed = folded.status();
  }
  for (size_t i = 0; i < scratch.size(); ++i) {
    if (failed.ok()) {
      auto differing = FirstDifference(live[i], snapshot, store_.Family(scratch[i].family));
      if (!differing.ok()) failed = differing.status();
      if (differing.ok() && *differing) {
        mismatches.push_back(
            {std::string(scratch[i].projection->name()), base::ReadableKey(**differing)});
      }
    }
    (void)store_.DropFamily(scratch[i].family, /*shared=*/false);
  }
  store_.db()->ReleaseSnapshot(snapshot);
  if (!failed.ok()) return failed;
  return mismatches;
}

Result<std::optional<std::string>> ProjectionHost::FirstDifference(
    rocksdb::ColumnFamilyHandle* family, const rocksdb::Snapshot* snapshot,
    rocksdb::ColumnFamilyHandle* scratch) {
  rocksdb::ReadOptions at_snapshot;
  at_snapshot.snapshot = snapshot;
  std::unique_ptr<rocksdb::Iterator> live(store_.db()->NewIterator(at_snapshot, family));
  std::unique_ptr<rocksdb::Iterator> fresh(
      store_.db()->NewIterator(rocksdb::ReadOptions(), scratch));
  auto record = [](rocksdb::Iterator& it) {  // the applied marker is not state
    return it.Valid() && it.key().ToStringView() != kAppliedKey;
  };
  auto failed = [&]() -> Status {  // an iterator that failed ends early: no difference, an error
    for (rocksdb::Iterator* it : {live.get(), fresh.get()}) {
      if (!it->status().ok())
        return store::FromRocks(it->status(), "reading a projection to verify");
    }
    return Status::Ok();
  };
  for (live->SeekToFirst(), fresh->SeekToFirst(); record(*live) || record(*fresh);
       live->Next(), fresh->Next()) {
    if (Status s = failed(); !s.ok()) return s;
    if (!record(*live) || !record(*fresh)) {  // one side has keys the other lacks
      return std::optional<std::string>((record(*live) ? live : fresh)->key().ToString());
    }
    if (live->key() != fresh->key() || live->value() != fresh->value()) {
      return std::optional<std::string>(
          std::min(live->key().ToStringView(), fresh->key().ToStringView()));
    }
  }
  if (Status s = failed(); !s.ok()) return s;
  return std::optional<std::string>();
}

}  // namespace cledger
