// The engine: commands, queries, time travel and projection maintenance over one ledger.
//
// Thread-safety: every method may be called concurrently. Commands are decided and committed
// by the ledger's single writer; queries read committed state and never block it.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cledger/commands.h"
#include "cledger/ledger.h"
#include "cledger/proofs.h"
#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger {

// A point in the past: a position, or a time (the last event recorded at or before it).
struct AsOf {
  std::optional<uint64_t> position;
  std::optional<int64_t> time_us;
};

struct ProjectionStatus {
  std::string name;
  uint64_t applied_position = 0;
  uint64_t lag = 0;
  uint64_t generation = 0;
  bool inline_with_commits = true;     // false: folded just after commits, may lag
  std::optional<uint64_t> size_bytes;  // approximate bytes on disk: see MeasureProjections
};

// One backup kept in a backup directory.
struct BackupInfo {
  uint32_t id = 0;
  int64_t created_at_us = 0;
  uint64_t size_bytes = 0;
  uint64_t position = 0;  // the head when it began: it holds at least this
};

struct EngineStats {
  Head head;
  LedgerStats ledger;
  uint64_t tenants = 0;
  uint64_t customers = 0;   // of every tenant, deleted included
  uint64_t contacts = 0;    // of every tenant, deleted included
  uint64_t size_bytes = 0;  // the data directory on disk
};

struct FoldTime {
  std::string projection;
  double seconds = 0;
};

struct ProjectionMismatch {
  std::string projection;
  std::string key;  // printable
};

// A signed tree head with the witnesses' cosignatures the ledger collected for it.
struct SignedTreeHead {
  proofs::TreeHead head;
  std::vector<proofs::Cosignature> cosignatures;
};

// Everything someone who sees nothing else of the ledger needs to check one subject's
// events (docs/PROOFS.md, "Evidence bundles").
struct Evidence {
  std::string tenant;
  std::string subject;  // "contact" or "customer"
  std::string id;
  proofs::PublicKey public_key{};
  proofs::TreeHead head;
  struct Item {
    uint64_t position = 0;
    std::string bytes;  // as stored
    std::vector<Hash> audit_path;
  };
  std::vector<Item> events;
};

class Engine {
 public:
  virtual ~Engine() = default;
  static Result<std::unique_ptr<Engine>> Open(const LedgerOptions& options);

  // Decides the command and waits for its outcome. A password reset the rules refuse on the
  // committed state (no such contact, deleted, erased, portal off) is refused before its
  // password is hashed; ExecuteAsync hashes first, since a command queued before it may change
  // what the rules say.
  virtual Result<CommandOutcome> Execute(const CommandContext& context, Command command) = 0;
  // Queues the command and returns at once. Commands are decided in the order they were
  // queued, each against the state the earlier ones left, so a caller may keep many in flight
  // (an import) and share the durable syncs while keeping their order. The future's get()
  // finishes the outcome on the calling thread.
  virtual std::future<Result<CommandOutcome>> ExecuteAsync(const CommandContext& context,
                                                           Command command) = 0;
  // As Execute, with no thread waiting: `then` is called once with how to finish the outcome
  // (cheap; call it where the answer is wanted). It is called at once, on this thread, for a
  // command refused before any work; else on the thread that answers commits, which it must
  // not hold up. This thread still does the work before the writer, a password hash
  // included: a thread that must not block runs a command that sets a password (a reset, a
  // contact created with one) through Execute instead.
  using FinishOutcome = std::function<Result<CommandOutcome>()>;
  virtual void ExecuteThen(const CommandContext& context, Command command,
                           std::function<void(FinishOutcome)> then) = 0;

  // Erases the personal data of a contact (`subject` "contact") or a customer ("customer")
  // for good (FORMAT.md, "Personal data"): appends ContactErased or CustomerErased, destroys
  // the subject's data key, rewrites the projections and compacts, so no file of the data
  // directory holds a plaintext copy afterwards. Owner or admin; `reason` is required. Erasing
  // again changes nothing and answers the first erasure's certificate, `already_erased` set.
  // The certificate is signed with LedgerOptions::signing_key_file's key (unsigned without).
  // EraseContact and EraseCustomer given to Execute are refused: only this destroys the key.
  struct ErasureOutcome {
    proofs::ErasureCertificate certificate;
    bool already_erased = false;
  };
  // Re-wraps every data key of the key store under the master key in `new_master_key_file`
  // (created, mode 0600, when missing; never inside the data directory) and records it as the
  // ledger's master key. Offline: close the engine afterwards and open it with the new file.
  // Tokens recorded under the old key stop authenticating and password hashes sealed under it
  // can no longer be opened. Returns how many data keys were re-wrapped.
  virtual Result<size_t> RotateMasterKey(const std::string& new_master_key_file) = 0;

  // Cluster followers: appends events the partition's owner decided (ledger.h, ReplicaGroup),
  // each continuing the local chain, after keeping the data keys they came with; the
  // projections fold them as they would a local commit. An erasure among them destroys the
  // subject's key here too and purges what the projections overwrote.
  virtual Status ApplyReplicated(const ReplicaGroup& group) = 0;
  virtual Result<ErasureOutcome> Erase(const CommandContext& context, const std::string& subject,
                                       const std::string& id, const std::string& reason) = 0;

  // Queries, on behalf of `who`. An id of another tenant is simply not found.
  // Fails with kUnauthenticated: "unauthenticated" for an unknown or revoked token,
  // "token_expired" for one past its expiry.
  virtual Result<Principal> Authenticate(const std::string& token) = 0;
  // Every token not revoked, expired ones included: every tenant's and the ops tokens, or of
  // one tenant when `tenant` is given ("" names the ops tokens). Needs an ops principal.
  virtual Result<std::vector<TokenInfo>> ListTokens(const Principal& who,
                                                    const std::optional<std::string>& tenant) = 0;
  virtual Result<ContactView> GetContact(const Principal& who, const std::string& id,
                                         const AsOf& as_of = {}) = 0;
  virtual Result<CustomerView> GetCustomer(const Principal& who, const std::string& id,
                                           const AsOf& as_of = {}) = 0;
  // The customer's contacts, the read-only profile contact first.
  virtual Result<std::vector<ContactView>> ListContacts(const Principal& who,
                                                        const std::string& customer_id,
                                                        ContactStatus status) = 0;
  // The tenant's customers (by id) whose id, name or email holds `text` (any case; "" finds
  // every one), and its contacts (by id, profile contacts not included) whose id, names,
  // company or email hold it.
  virtual Result<std::vector<CustomerView>> FindCustomers(const Principal& who,
                                                          const std::string& text) = 0;
  virtual Result<std::vector<ContactView>> FindContacts(const Principal& who,
                                                        const std::string& text,
                                                        ContactStatus status) = 0;
  // Every tenant, by name. Needs an ops principal.
  virtual Result<std::vector<TenantView>> Tenants(const Principal& who) = 0;
  // Who receives `kind`: invoice | order | shipment | correspondence:<type> | ticket:<type>.
  virtual Result<std::vector<Recipient>> Recipients(const Principal& who,
                                                    const std::string& customer_id,
                                                    const std::string& kind) = 0;
  virtual Result<std::vector<AuditEntry>> ContactHistory(const Principal& who,
                                                         const std::string& id,
                                                         const AsOf& as_of = {}) = 0;
  virtual Result<std::vector<AuditEntry>> CustomerHistory(const Principal& who,
                                                          const std::string& id,
                                                          const AsOf& as_of = {}) = 0;
  virtual Result<std::vector<AuditEntry>> ActorHistory(const Principal& who,
                                                       const std::string& actor_id, int64_t from_us,
                                                       int64_t to_us) = 0;

  // Every audit entry of the tenant recorded within [from_us, to_us], in log order.
  virtual Result<std::vector<AuditEntry>> TenantAudit(const Principal& who, int64_t from_us,
                                                      int64_t to_us) = 0;

  virtual Result<EngineStats> Stats() = 0;
  // argon2id hashes and verifications of passwords since the engine was opened, ~0.2 s of a
  // core each: the work a password reset costs (one refused by a rule or a retry costs none).
  virtual uint64_t PasswordHashes() = 0;

  // A consistent backup of the whole data directory into `backup_dir` (RocksDB's backup
  // engine: incremental, checksummed), taken while commits go on.
  virtual Status Backup(const std::string& backup_dir) = 0;
  // Restores a backup of `backup_dir` (the latest unless `id` names one) into `data_dir`,
  // which must not exist yet.
  static Status RestoreBackup(const std::string& backup_dir, const std::string& data_dir,
                              std::optional<uint32_t> id = std::nullopt);
  // The backups kept in `backup_dir`, oldest first.
  static Result<std::vector<BackupInfo>> ListBackups(const std::string& backup_dir);
  // Checks every file of backup `id` against the checksum taken when it was made, without
  // restoring it: Ok, kNotFound (backup_not_found) or kCorruption (backup_damaged) naming the
  // file that differs.
  static Status VerifyBackup(const std::string& backup_dir, uint32_t id);

  // Projection maintenance (ops).
  virtual std::vector<ProjectionStatus> Projections() = 0;
  // Sets each status's size_bytes to the approximate bytes (files and memtables) its
  // projection takes in `data_dir`, read as the directory lies on disk, without the lock an
  // open engine holds: sizes are known offline only. False, and nothing set, when the
  // directory cannot be read that way.
  static bool MeasureProjections(const std::string& data_dir,
                                 std::vector<ProjectionStatus>& statuses);
  // Rebuilds the named projections from position 1 into fresh storage while the old ones
  // serve, in one scan of the log that feeds every fold, then swaps them all at once.
  // Answers the seconds each fold took (the log's reading, shared, not included).
  virtual Result<std::vector<FoldTime>> Rebuild(const std::vector<std::string>& names,
                                                const Progress& progress = {}) = 0;
  Status Rebuild(const std::string& name, const Progress& progress = {}) {
    return Rebuild(std::vector<std::string>{name}, progress).status();
  }
  // Compares every projection with a fresh fold of the whole log; empty when all agree.
  virtual Result<std::vector<ProjectionMismatch>> VerifyProjections(
      const Progress& progress = {}) = 0;

  // Proofs (docs/PROOFS.md). Without LedgerOptions::signing_key_file, heads, keys and
  // evidence answer Unavailable (no_signing_key).
  // Signs the current head (or answers the last one signed, while the head has not moved)
  // and keeps it, so a later verify can hold the log to it.
  virtual Result<SignedTreeHead> SignedHead() = 0;
  virtual Result<proofs::PublicKey> PublicKey() = 0;
  // The audit path of the event at `position` in the tree of `tree_size` leaves; an event of
  // another tenant is not found.
  virtual Result<std::vector<Hash>> InclusionProof(const Principal& who, uint64_t position,
                                                   uint64_t tree_size) = 0;
  // `subject`: "contact" or "customer".
  virtual Result<Evidence> EvidenceOf(const Principal& who, const std::string& subject,
                                      const std::string& id) = 0;
  // Keeps a witness's cosignature of a head this ledger signed; refused unless the witness's
  // key is one of LedgerOptions::witness_keys and its signature verifies.
  virtual Status AddCosignature(const proofs::TreeHead& head,
                                const proofs::Cosignature& cosignature) = 0;

  // The log, read-only: events in order or by stream, their bytes, the head, the chain's
  // verification, counters. Events are appended only through Execute.
  virtual Ledger& ledger() = 0;
};

}  // namespace cledger
