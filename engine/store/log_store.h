// The RocksDB implementation of the Ledger, and the seam through which the domain runs its
// commands: a command is a `Decide` function that the single writer thread calls against
// the state as of all earlier commits, so rules that span streams (unique emails) hold
// without locks, and inline projections are written in the same WriteBatch as the events.
#pragma once

#include <rocksdb/db.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cledger/limits.h"
#include "cledger/proofs.h"
#include "engine/store/db_gate.h"
#include "engine/store/personal_keys.h"
#include "engine/store/raw_ledger.h"
#include "engine/store/recent_events.h"
#include "engine/store/txn.h"

namespace cledger::store {

class LogStore;

// Decides a command's events from the current state. Runs on the writer thread: it must be
// quick (no password hashing, no I/O beyond `txn` reads) and must not block.
using Decide = std::function<Result<Commit>(Txn& txn)>;
// Folds one commit's events into the inline projections inside the same WriteBatch.
// A failure fails the commit (and, being a storage fault, its group).
using InlineFold = std::function<Status(Txn& txn, const std::vector<Event>& events)>;
// Runs on the writer thread right after a decided commit is staged, with the transaction
// that holds it and what the inline projections folded of it: where a caller reads what its
// own commit left, before any later commit changes it. It only reads, and quickly: every
// commit behind it waits.
using Staged = std::function<void(Txn& txn)>;
// Work that must not interleave with commits (a projection swap); runs on the writer thread.
using Exclusive = std::function<Status()>;

struct StoreOptions {
  LedgerOptions ledger;
  std::vector<std::string> column_families;  // extra families, e.g. for projections
  InlineFold inline_fold;
  // Runs once per group, after its last commit is staged, with the group's head position:
  // where inline projections record the position they have applied (once, not per commit).
  std::function<void(Txn& txn, uint64_t head)> inline_applied;
  // Runs on the writer thread after each durable group, before SetCommitListener's listener.
  std::function<void(uint64_t head)> on_durable;
  rocksdb::Env* env = nullptr;  // the storage environment; tests inject faults through it
  // Free bytes on the file system holding `path`; nullopt when unknown. Default: statvfs.
  std::function<std::optional<uint64_t>(const std::string& path)> free_bytes;
};

// Approximate bytes of each column family of the database in `path` (files and memtables),
// by family name, read without the lock a writer holds; empty when the directory cannot be
// opened that way.
std::map<std::string, uint64_t> FamilySizesOnDisk(const std::string& path);

class LogStore final : public RawLedger {
 public:
  static Result<std::unique_ptr<LogStore>> Open(StoreOptions options);
  ~LogStore() override;

  // Runs `decide` on the writer thread and appends the commit it returns. A retry whose
  // (tenant, idempotency_key) was already committed returns the first result without
  // calling `decide`.
  Result<CommitResult> Submit(const std::string& tenant, const std::string& idempotency_key,
                              Decide decide);
  // The same, without waiting: commands queued one after another are decided in that order,
  // so a caller may keep many in flight and still have each see the ones before it.
  // `fingerprint` (32 bytes, or empty) binds the key to one request: a replay with another
  // fingerprint is refused with idempotency_key_reused.
  std::future<Result<CommitResult>> SubmitAsync(const std::string& tenant,
                                                const std::string& idempotency_key, Decide decide,
                                                std::string fingerprint = {}, Staged staged = {});
  // The same, without a future: `then` hears the result once, on the thread that answers
  // commits (it must not hold that thread up), or on this one if the ledger is closing.
  using Then = std::function<void(Result<CommitResult>)>;
  void SubmitThen(const std::string& tenant, const std::string& idempotency_key, Decide decide,
                  std::string fingerprint, Then then, Staged staged = {});

  // What a (tenant, idempotency key) first answered: its positions and the fingerprint of
  // that request (empty for keys recorded before fingerprints existed).
  struct Recorded {
    uint64_t first_position = 0;
    uint64_t last_position = 0;
    std::string fingerprint;
  };
  // The commit a key already answered, if any, so a caller can recognise a retry before any
  // costly work (a key too long to be recorded is refused here). Submit still decides every
  // request by itself.
  Result<std::optional<Recorded>> FindRecorded(const std::string& tenant,
                                               const std::string& idempotency_key);

  // Seals the personal fields of every event appended from now on under their subject's data
  // key, and opens them in every event read back (Read, ReadStream). Without it they are
  // recorded as given. REQUIRES: called before the first append or read; `keys` outlives it.
  void SetPersonalKeys(PersonalKeys* keys);

  // Deletes the idempotency record of every commit whose target (its first event) is in the
  // stream. Its fingerprint covers the fields the request carried, so after an erasure a
  // replay under the key would tell a right guess of them (replayed) from a wrong one
  // (idempotency_key_reused). A commit that only touched the stream (a customer's deletion
  // deleting its contacts) carried none of its fields: its record stays.
  Status ForgetRequestsOf(const std::string& tenant, const std::string& stream);

  // Flushes every family, so the write-ahead log files that held their writes are released and
  // deleted, and compacts the families of the projections, the idempotency records and their
  // index down to the last level, so no file keeps a value they overwrote or deleted: what an
  // erasure runs once it has rewritten them.
  Status PurgeOverwritten();

  // Runs `work` on the writer thread between two commit groups.
  Status RunExclusive(Exclusive work);
  // Appends events another node decided (a cluster follower): each must continue the chain
  // at the head; positions at or below it are skipped (already applied). Folded into the
  // inline projections, indexed and written like the writer's own groups.
  Status ApplyReplicated(const ReplicaGroup& group);

  Result<CommitResult> Append(Commit commit) override;
  Result<std::vector<Event>> Read(uint64_t from, size_t limit) override;
  // As Read, into `out` (emptied first): a caller reading batch after batch keeps one
  // vector's memory instead of faulting in a fresh one each time.
  Status ReadInto(uint64_t from, size_t limit, std::vector<Event>& out);
  Result<std::vector<Event>> ReadStream(const std::string& tenant, const std::string& stream,
                                        uint64_t from_version, size_t limit) override;
  Result<std::string> ReadRaw(uint64_t position) override;
  Result<std::string> ReadRedacted(uint64_t position) override;
  Result<uint64_t> StreamVersion(const std::string& tenant, const std::string& stream) override;
  Head GetHead() override;
  LedgerStats Stats() override;
  uint64_t TokenRevocations() override { return token_revocations_.load(); }
  void SetCommitListener(std::function<void(uint64_t head)> listener) override;
  VerifyReport VerifyChain(const Progress& progress = {}) override;
  Result<Hash> TreeRoot(uint64_t size) override;
  Result<std::vector<Hash>> InclusionProof(uint64_t position, uint64_t size) override;
  Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) override;
  Result<std::vector<proofs::TreeHead>> SignedHeads() override;
  Result<std::vector<proofs::Cosignature>> Cosignatures(const proofs::TreeHead& head) override;

  // Keeps a head the ledger signed and published, so verify can hold the log to it later.
  Status RecordSignedHead(const proofs::TreeHead& head);
  // Keeps a witness's cosignature of `head`. REQUIRES: the caller checked it.
  Status RecordCosignature(const proofs::TreeHead& head, const proofs::Cosignature& cosignature);

  // REQUIRES: the caller is the writer thread (exclusive work, a Decide) or holds ReadLock().
  // Null while a reopen after a fault has not succeeded yet.
  rocksdb::DB* db() { return db_.get(); }
  // Held by whoever uses db() or a family handle outside the writer thread, so a reopen
  // never pulls the database from under a reader. May be nested.
  DbGate::Shared ReadLock() { return DbGate::Shared(gate_); }
  // Writes a batch that is not a commit (a projection's fold, its applied position).
  Status WriteSide(rocksdb::WriteBatch& batch, bool sync);
  // Writes `batch` unless an earlier write failed; a failure is recorded before any other
  // write starts. Debian's RocksDB 7.8 aborts (an assertion in its WAL writer) when a write
  // that was already on its way reaches the WAL after another one failed there, so the commit
  // writer and the side writers (projection folds, signed heads) never write concurrently.
  rocksdb::Status WriteOne(const rocksdb::WriteOptions& options, rocksdb::WriteBatch& batch);
  // REQUIRES: as db(). Null when there is no such family (or no database).
  rocksdb::ColumnFamilyHandle* Family(const std::string& name);
  Result<rocksdb::ColumnFamilyHandle*> CreateFamily(const std::string& name);
  // Drops the family's data. A `shared` family's handle stays valid for readers that hold
  // the gate, and goes (with its files) once none does: the drop waits briefly for that (in
  // vain when the caller holds ReadLock() itself). A private one's (nobody else holds it)
  // goes at once.
  Status DropFamily(const std::string& name, bool shared = true);
  // Drops each shared family, then waits once for the readers (not once per family). The
  // first failure is returned; the others are still tried.
  Status DropFamilies(const std::vector<std::string>& names);
  // Every column family open now.
  std::vector<std::string> FamilyNames();

 private:
  struct Request {
    std::string tenant;
    std::string idempotency_key;
    std::string fingerprint;  // of the request, stored with its idempotency key
    Decide decide;
    Staged staged;        // optional: told when `decide`'s commit is staged
    Exclusive exclusive;  // set instead of `decide` for exclusive work
    Then then;            // told the result, once
  };
  static std::unique_ptr<Request> MakeRequest(const std::string& tenant,
                                              const std::string& idempotency_key, Decide decide,
                                              std::string fingerprint, Staged staged);
  using Subject = std::pair<std::string, std::string>;  // tenant, stream
  // What the writer tracks across the commits of one group.
  struct GroupState {
    Head head;
    int64_t last_recorded_at_us = 0;
    uint64_t commits = 0;            // the ledger's commits, this group's included
    uint64_t token_revocations = 0;  // this group's
    std::unordered_map<std::string, uint64_t> versions;  // stream head key → staged version
    proofs::CompactTree tree;  // the Merkle tree's peaks, this group's leaves included
    ReplicaGroup replica;      // the group for LedgerOptions::replicate, when set
    std::set<Subject> erased;  // the subjects this group erases
    // When replicating: the requests this group recorded, by target and last position.
    std::vector<std::pair<Subject, uint64_t>> requests;
  };
  struct Answer {
    std::unique_ptr<Request> request;
    Result<CommitResult> result;
  };

  explicit LogStore(StoreOptions options);
  // The value of the idempotency family: first and last position, then the fingerprint.
  static Recorded DecodeRecorded(std::string_view value);
  static std::future<Result<CommitResult>> Promised(Request& request);
  // REQUIRES: the request's decide or exclusive, and its then, are set.
  void Enqueue(std::unique_ptr<Request> request);
  Status OpenDb();
  Status ReadHead();
  // positions.cc: reservations ahead of the head and gaps left by an accepted WAL loss.
  Status ReservePositions(uint64_t head);
  Status CheckWalLossAcceptable() const;
  Status RecordAcceptedLoss(const std::string& wal);
  Status LoadGaps();
  // The last position of the recorded gap that starts at `position`; 0 when none does.
  uint64_t GapEnd(uint64_t position) const;
  // tree.cc: the Merkle tree over the log.
  // Verify's half for the tree: fed every position in order, it rebuilds the tree from the
  // events and holds it to the stored leaves and to every signed head.
  class TreeCheck {
   public:
    TreeCheck(LogStore& store, const rocksdb::ReadOptions& read, VerifyReport& report);
    void Add(uint64_t position, std::string_view event_bytes);
    // REQUIRES: before the snapshot its reads use is released.
    void Close() { levels_ = {}; }

   private:
    LogStore& store_;
    const rocksdb::ReadOptions& read_;
    VerifyReport& report_;
    proofs::CompactTree tree_;
    size_t next_head_ = 0;  // the first signed head not reached yet
    // One iterator per level: a level's nodes complete in index order, so each level is read
    // as one sequential scan instead of a lookup per node.
    std::array<std::unique_ptr<rocksdb::Iterator>, 64> levels_;
  };
  struct SignedHeadRecords {
    std::vector<proofs::TreeHead> heads;
    std::vector<std::string> problems;
  };
  Result<SignedHeadRecords> ReadSignedHeads();
  Status LoadTree();
  void StageLeaf(Txn& txn, proofs::CompactTree& tree, std::string_view event_bytes);
  Result<Hash> StoredSubtree(int level, uint64_t index);  // REQUIRES: as db()
  proofs::SubtreeSource Subtrees();                       // REQUIRES: as db()
  Result<Hash> LeafAt(uint64_t position);
  bool InGap(uint64_t position) const;
  Status PastTheHead(uint64_t size);
  // Flushes (when asked) and closes the database; db() is null afterwards.
  void CloseDb(bool flush);
  // Writer thread: whether the group of `batch_bytes` may be written now. Refuses with
  // NoSpace under the free-space threshold, and with Unavailable until RocksDB has resumed
  // after a failed write (reopening the database when it will not).
  Status ReadyToStage();
  Status ReadyToWrite(size_t batch_bytes);
  // With no writes queued and the storage not ok: tries to recover, or notices free space.
  void RecoverWhileIdle();
  Status CheckFreeSpace(size_t batch_bytes);
  Status Recover();
  Status Reopen();
  void SetHealth(const std::string& state, const std::string& reason);
  // Nothing is written again until the databases were reopened (Recover), the first time a
  // poll interval later: the fault is likely still there.
  void MarkWriteFailed(const std::string& reason);
  void Announce(uint64_t head);
  void Report(const Status& status);
  void WriterLoop();
  Status DropOne(const std::string& name, bool shared);
  void ReleaseDroppedFamilies();
  void WriteGroup(std::vector<std::unique_ptr<Request>>& group);
  void RunExclusiveRequest(Request& request);
  void RecordWrite(int64_t micros, bool ok);
  void DeferUnstaged(std::vector<std::unique_ptr<Request>>& group, size_t staged);
  Result<CommitResult> Stage(Request& request, Txn& txn, GroupState& state);
  Result<CommitResult> StageCommit(Commit&& commit, Txn& txn, GroupState& state);
  // Calls `fn` with the idempotency key and record of each request made to `subject`: each
  // commit whose first event is in its stream (a prefix scan of the `requests` family); the
  // record is null when the key's was forgotten, the index entry left behind.
  // REQUIRES: the database open (the gate held, or the writer thread).
  Status EachRequestTo(const Subject& subject,
                       const std::function<void(std::string_view key, const Recorded*)>& fn);
  // Indexes the idempotency records of commits written past the `requests` index (by a
  // binary from before it).
  Status IndexRequestsByTarget();
  // Lists, for the log of record, the requests to the subjects the group erases.
  Status ListForgottenRequests(GroupState& state);
  // Indexes staged events (log, tree, streams) and folds them inline as one commit.
  Status StageEvents(std::vector<std::pair<Event, std::string>>& staged, Txn& txn,
                     GroupState& state);
  GroupState CurrentState();
  // Writes a staged group (replicating it first when `replicate`) and publishes its head.
  Status WriteStaged(Txn& txn, GroupState& state, bool replicate);
  Status ApplyReplicatedOnWriter(const ReplicaGroup& group);
  Result<uint64_t> StreamVersionForStaging(const std::string& key, const GroupState& state);
  // Stages the group's requests into `txn`; the Status of a storage fault that must fail
  // the whole group (a failed read, a full batch), else Ok with `results` filled.
  Status StageGroup(std::vector<std::unique_ptr<Request>>& group, Txn& txn, GroupState& state,
                    std::vector<Result<CommitResult>>& results);
  Result<uint64_t> DurableStreamVersion(const std::string& prefix);
  void CacheStreamVersions(GroupState& state);
  void NotifierLoop();
  Status CheckCommit(const Commit& commit) const;
  std::string NewEventId(const Commit& commit, size_t index);
  Result<std::string> ReadAt(const rocksdb::ReadOptions& read, uint64_t position);
  // An event's stored bytes, verified and decoded, its personal fields opened.
  Result<Event> DecodeForReaders(std::string_view bytes);
  // What the key store can open now (PersonalKeys::generation); 0 without one.
  uint64_t KeysGeneration() const { return personal_ ? personal_->generation() : 0; }

  // Every column family's options: the shared block cache and memtable budget below.
  rocksdb::ColumnFamilyOptions FamilyOptions() const;

  StoreOptions options_;
  PersonalKeys* personal_ = nullptr;
  RecentEvents recent_{limits::kRecentEventsWindow, limits::kRecentEventsBytesMax};
  // Outlive every reopen of the database, so the bounds hold across them.
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::Logger> info_log_;
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex families_mu_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families_;
  std::vector<rocksdb::ColumnFamilyHandle*> dropped_;  // until ReleaseDroppedFamilies()
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency_ = nullptr;
  rocksdb::ColumnFamilyHandle* requests_ = nullptr;  // idempotency keys by target
  rocksdb::ColumnFamilyHandle* tree_ = nullptr;
  proofs::CompactTree tree_state_;    // writer thread only: the durable tree's peaks
  uint64_t tree_leaves_rebuilt_ = 0;  // leaves the tree lacked at the last open

  std::mutex stats_mu_;
  LedgerStats stats_;
  std::mutex listener_mu_;
  std::function<void(uint64_t)> listener_;

  std::mutex head_mu_;
  Head head_;                          // the durable head, as acknowledged
  int64_t last_recorded_at_us_ = 0;    // writer thread only
  uint64_t reserved_through_ = 0;      // writer thread only: positions reserved on disk
  std::map<uint64_t, uint64_t> gaps_;  // lost ranges, first → last; set at open only
  uint64_t commits_ = 0;               // every commit ever acknowledged; written under head_mu_
  // A write failed: nothing is written until the database was reopened. Set by any writer
  // (the follower's side writes too), cleared by the writer thread's reopen.
  std::atomic<bool> write_failed_{false};
  std::atomic<uint64_t> token_revocations_{0};
  // One foreground write at a time (WriteOne): the failure of one is recorded before the
  // next can reach RocksDB.
  std::mutex write_mu_;
  int64_t last_recovery_ms_ = 0;  // writer thread only: the last reopen attempt
  std::string health_ = "ok";     // writer thread's copy of stats_.storage_state
  std::string health_reason_;
  DbGate gate_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable space_cv_;
  std::deque<std::unique_ptr<Request>> queue_;
  bool stopping_ = false;
  std::thread writer_;

  // Writer thread only: the durable version of recently written streams.
  std::unordered_map<std::string, uint64_t> stream_versions_;
  // Writer thread only: durable records of the inline projections the rules read.
  CommittedMemory committed_views_{limits::kWriterMemoryPerProjectionBytes};

  std::mutex answers_mu_;
  std::condition_variable answers_cv_;
  std::vector<Answer> answers_;
  bool notifier_stopping_ = false;
  std::thread notifier_;
};

// Whether a request with `fingerprint` is the one a key recorded. Keys recorded before
// fingerprints existed (and requests without one) answer any request, as they always did.
bool IsSameRequest(const LogStore::Recorded& recorded, std::string_view fingerprint);
// The answer to a key used again for another request.
Status IdempotencyKeyReused();

}  // namespace cledger::store
