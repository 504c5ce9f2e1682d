// The ledger as its readers see it: the append-only, hash-chained log of events in an
// embedded RocksDB directory, its head and its health. Read-only: every event enters through
// Engine::Execute, where the domain's rules are checked; one writer thread group-commits them
// (one WAL sync serves many commits) and acknowledges each only once it is durable.
//
// Thread-safety: every method may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cledger/events.h"
#include "cledger/limits.h"
#include "cledger/proofs.h"
#include "cledger/status.h"
#include "cledger/world.h"

namespace cledger {

// One event of a commit group as a cluster's log of record holds it (docs/CLUSTER.md): what
// LedgerOptions::replicate hands over and Engine::ApplyReplicated takes back on another node.
struct ReplicaEvent {
  uint64_t position = 0;
  std::string bytes;        // as stored: chained, personal fields sealed
  bool commit_end = false;  // the last event of its commit
  // The commit's idempotency record, on its last event (the store's own key and value).
  std::string idempotency_key;
  std::string idempotency_value;
};

// A data key of personal data made by the group that first sealed a field under it, wrapped
// under the master key (which every node shares): what followers need to open those fields.
struct ReplicaDataKey {
  std::string key_id;
  std::string subject;  // the key store's name of the contact's or customer's stream
  std::string wrapped;
};

// A commit group as the log of record takes it: its events in position order, and the data
// keys it made.
struct ReplicaGroup {
  std::vector<ReplicaEvent> events;
  std::vector<ReplicaDataKey> data_keys;
  // The last positions of the commits (this group's or earlier) whose idempotency records the
  // group's erasures forget: the requests made to an erased subject. Their fingerprints would
  // tell a right guess of the erased fields from a wrong one.
  std::vector<uint64_t> forgotten_requests;
};

struct LedgerOptions {
  std::string path;  // the data directory; created when missing
  bool sync = true;  // fsync the WAL before acknowledging (off only in benchmarks)
  bool create_if_missing = true;
  std::shared_ptr<Clock> clock = SystemClock();
  std::shared_ptr<Random> random = SystemRandom();
  // Told once about each storage fault the engine handles by itself (a projection fold
  // that will be retried, a database reopened); unset: one line on stderr.
  std::function<void(const Status&)> on_storage_fault;
  // Writes are refused (507 insufficient_storage) while the data directory's file system has
  // less free space than this plus the group's size; 0 turns the check off.
  uint64_t min_free_bytes = limits::kMinFreeBytesDefault;
  // The write-ahead log file (its name, as a refused open printed it) whose damage the
  // operator accepts: the open keeps every commit before the damage, and the positions the
  // lost ones may have taken are recorded as a gap, never reused. Empty: a damaged WAL
  // refuses to open (wal_damaged).
  std::string accept_wal_loss;
  // The Ed25519 key that signs the tree heads the ledger publishes (docs/PROOFS.md), kept
  // outside the data directory; created (mode 0600) when missing. Empty: heads are not signed.
  std::string signing_key_file;
  // Hex public keys of the witnesses whose cosignatures the ledger accepts and shows.
  std::vector<std::string> witness_keys;
  // The 32-byte master key under which credentials are recorded (FORMAT.md, "Secrets"): a
  // password's hash sealed, a token named by a keyed digest. Kept outside the data directory
  // and created (mode 0600) when missing. Empty: `<path>.master-key`, beside the data
  // directory. The same key must come with the data to every process that opens it, and with
  // a restored backup; without it, tokens issued under it no longer authenticate. The ledger
  // records which key it was opened with and refuses another (master_key_mismatch).
  std::string master_key_file;
  // Whether a missing master key file is created. Off (read-only tools), the ledger opens
  // without one: commands that record a credential fail (master_key_missing) and only tokens
  // issued before keyed digests authenticate.
  bool create_master_key = true;
  // The ledger's own master key is lost: record this one instead of refusing it. Tokens issued
  // under the lost key stop authenticating (issue new ones) and the password hashes sealed
  // under it can no longer be opened; nothing else changes.
  bool replace_master_key = false;
  // The key store: one data key per contact and customer, under which their personal fields
  // are sealed in the events (FORMAT.md, "Personal data"). A RocksDB directory of its own,
  // outside the data directory so that backups never hold a key; created when missing.
  // Empty: `<path>.keys`, beside the data directory. It must come with the data to every
  // process that opens it; without it personal fields read as unreadable.
  std::string key_store_dir;
  // Whether personal fields are sealed under per-subject data keys. Off: recorded as given,
  // and erasure is refused.
  bool seal_personal_data = true;
  // Cluster mode: called on the writer thread with each commit group, in position order,
  // before it is written locally. A failure fails the group and nothing of it is written.
  std::function<Status(const ReplicaGroup& group)> replicate;
  // Cluster mode: `replicate` took a group that the local write then failed to keep; the
  // node must stop deciding commands and catch up from the log of record.
  std::function<void()> replica_ahead;
};

struct Head {
  uint64_t position = 0;  // 0: the ledger is empty
  Hash hash{};
};

struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t first_broken_position = 0;  // 0 when ok
  std::string problem;                 // what is wrong at that position
  Head head;
  uint64_t lost_positions = 0;  // in recorded gaps: an accepted loss of the WAL's end
  // The Merkle tree recomputed from the events as they are now (docs/PROOFS.md): the first
  // position whose leaf, or a subtree its leaf completes, differs from what the tree stored
  // when it was written (0: none).
  uint64_t first_tree_mismatch = 0;
  // Leaves the tree lacked when the ledger was opened and that were rebuilt from the log then
  // (a ledger written before the tree, or a tree someone deleted): they vouch for nothing.
  uint64_t tree_leaves_rebuilt = 0;
  // Signed-head records that cannot be read, and sizes a witness cosigned whose signed head
  // the ledger no longer holds: evidence that heads were damaged or deleted.
  std::vector<std::string> tree_problems;
  // Each head the ledger signed and published, and whether the log as it is now still has
  // that head's root at its size. The caller checks the signatures, with a key it trusts.
  struct SignedHeadCheck {
    proofs::TreeHead head;
    bool root_matches = false;
  };
  std::vector<SignedHeadCheck> signed_heads;
};

// Counters since the ledger was opened, for metrics.
struct LedgerStats {
  uint64_t total_commits = 0;  // every commit the ledger holds (kept in the head record)
  uint64_t commits = 0;        // acknowledged commits since the ledger was opened
  uint64_t groups = 0;         // WriteBatches written (each one WAL sync)
  uint64_t rejected = 0;       // commits refused by a rule, a version or a limit
  uint64_t write_errors = 0;   // groups that failed in storage
  // Latency of each group's synced write: counts of writes at or under each bound (µs).
  static constexpr uint64_t kBucketsUs[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000};
  uint64_t write_us_buckets[std::size(kBucketsUs) + 1] = {};  // the last: over every bound
  uint64_t write_us_sum = 0;
  // Storage health: "ok"; "degraded" after a failed write, until RocksDB has resumed or the
  // database was reopened (writes answer 503); "no_space" while free space is under the
  // threshold (writes answer 507). Reads go on in every state.
  std::string storage_state = "ok";
  std::string storage_reason;      // why, when not ok
  uint64_t reopens = 0;            // times the database was closed and opened again after a fault
  uint64_t no_space_refusals = 0;  // groups refused for lack of free space
};

// Called now and then during long work with (done, total).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Up to `limit` events from position `from` on, in order.
  virtual Result<std::vector<Event>> Read(uint64_t from, size_t limit) = 0;
  // Up to `limit` events of one stream from `from_version` on.
  virtual Result<std::vector<Event>> ReadStream(const std::string& tenant,
                                                const std::string& stream, uint64_t from_version,
                                                size_t limit) = 0;
  // The event's bytes exactly as stored: a plain FlatBuffer with the "CLEV" identifier.
  virtual Result<std::string> ReadRaw(uint64_t position) = 0;
  // The event's bytes as a reader outside the engine may have them: ReadRaw's, except that an
  // event carrying a secret (a password or token hash) is re-encoded with each secret reading
  // "[redacted]", so its bytes no longer match its chain hash.
  virtual Result<std::string> ReadRedacted(uint64_t position) = 0;
  // The current version of a stream (0 when it has no events).
  virtual Result<uint64_t> StreamVersion(const std::string& tenant, const std::string& stream) = 0;

  virtual Head GetHead() = 0;
  virtual LedgerStats Stats() = 0;
  // How many TokenRevoked events this ledger has written since it opened, its own commits
  // and replicated ones, each counted once durable and before anyone is answered: whoever
  // finds the count unchanged knows no token was revoked meanwhile.
  virtual uint64_t TokenRevocations() = 0;
  // `listener` runs on the writer thread after each durable group with the new head
  // position; it must return quickly (wake someone, never block). One listener at a time.
  virtual void SetCommitListener(std::function<void(uint64_t head)> listener) = 0;

  // Recomputes the hash chain from position 1 and reports the first broken position; and
  // recomputes the Merkle tree, holding it to the stored tree and the signed heads.
  virtual VerifyReport VerifyChain(const Progress& progress = {}) = 0;

  // The Merkle tree over the log (docs/PROOFS.md). Sizes run up to the head position; leaf
  // i is the event at position i + 1.
  virtual Result<Hash> TreeRoot(uint64_t size) = 0;
  virtual Result<std::vector<Hash>> InclusionProof(uint64_t position, uint64_t tree_size) = 0;
  virtual Result<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) = 0;
  // The heads the ledger signed and published, by size (the latest of each size).
  virtual Result<std::vector<proofs::TreeHead>> SignedHeads() = 0;
  // The witnesses' cosignatures of `head` the ledger collected.
  virtual Result<std::vector<proofs::Cosignature>> Cosignatures(const proofs::TreeHead& head) = 0;
};

}  // namespace cledger
