// The engine wires the parts together: the store and its single writer, the projections it
// hosts, and the command runner, queries, history and maintenance built on them. It decides
// nothing itself.
#include "cledger/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/key_file.h"
#include "engine/command_runner.h"
#include "engine/domain/credentials.h"
#include "engine/engine_internal.h"
#include "engine/erasure.h"
#include "engine/history.h"
#include "engine/maintenance.h"
#include "engine/projection_host.h"
#include "engine/queries.h"
#include "engine/store/keys.h"
#include "engine/transparency.h"
#include "events/personal.h"

namespace cledger {
namespace {

// Where faults the engine handles by itself are told: the caller's hook, or stderr.
std::function<void(const Status&)> StorageFaultReporter(const LedgerOptions& options) {
  if (options.on_storage_fault) return options.on_storage_fault;
  return [](const Status& s) { std::fprintf(stderr, "cledger: %s\n", s.ToString().c_str()); };
}

// LedgerOptions::master_key_file, or `<data>.master-key` beside the data directory.
std::string MasterKeyFile(const LedgerOptions& options) {
  if (!options.master_key_file.empty()) return options.master_key_file;
  return base::BesideDirectory(options.path, ".master-key");
}

// LedgerOptions::key_store_dir, or `<data>.keys` beside the data directory.
std::string KeyStoreDir(const LedgerOptions& options) {
  if (!options.key_store_dir.empty()) return options.key_store_dir;
  return base::BesideDirectory(options.path, ".keys");
}

// Whether `path` lies inside the directory `dir` (both as they would resolve).
// Absolute first: a relative path that does not exist yet stays relative through
// weakly_canonical, and would never match.
bool Inside(const std::string& path, const std::string& dir) {
  std::error_code ec;
  auto resolved = [&ec](const std::string& p) {
    return std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
  };
  const std::filesystem::path file = resolved(path);
  const std::filesystem::path root = resolved(dir);
  if (ec) return false;
  return std::mismatch(root.begin(), root.end(), file.begin(), file.end()).first == root.end();
}

// Keys live beside the data directory, never in it: a backup or a copy of it would carry them.
Status KeptOutside(const std::string& path, const std::string& dir, const std::string& reason,
                   const std::string& what) {
  if (!Inside(path, dir)) return Status::Ok();
  return Status::InvalidArgument(
      reason,
      what + " " + path + " must not be inside the data directory (backups would carry it)");
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(LedgerOptions options, rocksdb::Env* env) : options_(std::move(options)), env_(env) {}
  // The follower reads the log, so it stops first; the store drains its queue (which still
  // decides queued commands and folds inline projections) before the parts and the host go.
  ~EngineImpl() override {
    if (host_) {
      // A clean close leaves every projection at the head, unless a follower cannot fold
      // (no keys for sealed events, a fault that outlasts the wait): then, as after a
      // crash, it catches up at the next open.
      (void)host_->AwaitFollowers(store_->GetHead().position, std::chrono::seconds(30));
      host_->StopFollowing();
    }
    erasure_.reset();
    transparency_.reset();
    store_.reset();
    parts_.reset();
    host_.reset();
    personal_.reset();  // the store's writer seals with it until the store is gone
  }

  Status Start() {
    if (Status s = MakeDataDirectory(); !s.ok()) return s;
    store::StoreOptions store_options{options_, {}, {}};
    store_options.env = env_;
    store_options.ledger.on_storage_fault = StorageFaultReporter(options_);
    store_options.inline_fold = [this](store::Txn& txn, const std::vector<Event>& events) {
      return host_->FoldCommit(txn, events);
    };
    store_options.inline_applied = [this](store::Txn& txn, uint64_t head) {
      host_->MarkApplied(txn, head);
    };
    store_options.on_durable = [this](uint64_t head) { host_->Notify(head); };
    auto opened = store::LogStore::Open(std::move(store_options));
    if (!opened.ok()) return opened.status();
    store_ = std::move(opened).value();
    auto keys = LoadMasterKey();
    if (!keys.ok()) return keys.status();
    if (options_.seal_personal_data) {
      if (Status s = OpenKeyStore(*keys); !s.ok()) return s;
      store_->SetPersonalKeys(personal_.get());  // before anything is folded or appended
    } else {
      personal_ = store::PersonalKeys::None();
    }
    host_ = std::make_unique<ProjectionHost>(*store_, StorageFaultReporter(options_));
    if (Status s = host_->Attach(); !s.ok()) return s;
    parts_ = std::make_unique<Parts>(*store_, *host_, options_, *keys);
    if (Status s = StartTransparency(); !s.ok()) return s;
    erasure_ = std::make_unique<Erasure>(*store_, *host_, parts_->commands, *personal_,
                                         *transparency_, options_.clock);
    if (!options_.create_master_key) return Status::Ok();  // read-only: nothing is appended
    return erasure_->ReapplyTombstones();
  }

  // A new ledger's directory with its parents (RocksDB makes only the last one), so its
  // neighbours, the key store and the master key, have a directory too.
  Status MakeDataDirectory() {
    if (!options_.create_if_missing || env_ != nullptr || options_.path.empty())
      return Status::Ok();
    std::error_code ec;
    std::filesystem::create_directories(options_.path, ec);
    if (!ec) return Status::Ok();
    std::error_code ignored;
    if (std::filesystem::is_symlink(options_.path, ignored) &&
        !std::filesystem::exists(options_.path, ignored)) {
      return Status::IoError(
          "data_dir_not_created",
          "it is a symbolic link to " +
              std::filesystem::read_symlink(options_.path, ignored).string() +
              ", which does not exist: create that directory, or give the directory itself");
    }
    return Status::IoError("data_dir_not_created",
                           "cannot create it or a directory above it: " + ec.message());
  }

  Result<SignedTreeHead> SignedHead() override { return transparency_->SignedHead(); }
  Result<proofs::PublicKey> PublicKey() override { return transparency_->PublicKey(); }
  Result<std::vector<Hash>> InclusionProof(const Principal& who, uint64_t position,
                                           uint64_t tree_size) override {
    return transparency_->InclusionProof(who, position, tree_size);
  }
  Result<Evidence> EvidenceOf(const Principal& who, const std::string& subject,
                              const std::string& id) override {
    return transparency_->EvidenceOf(who, subject, id);
  }
  Status AddCosignature(const proofs::TreeHead& head,
                        const proofs::Cosignature& cosignature) override {
    return transparency_->AddCosignature(head, cosignature);
  }

  Result<CommandOutcome> Execute(const CommandContext& context, Command command) override {
    return Queue(context, std::move(command), /*awaited=*/true).get();
  }
  std::future<Result<CommandOutcome>> ExecuteAsync(const CommandContext& context,
                                                   Command command) override {
    return Queue(context, std::move(command), /*awaited=*/false);
  }
  void ExecuteThen(const CommandContext& context, Command command,
                   std::function<void(FinishOutcome)> then) override {
    if (IsErasure(command)) {
      then([] { return Result<CommandOutcome>(ErasureElsewhere()); });
      return;
    }
    parts_->commands.SubmitThen(context, std::move(command), std::move(then));
  }
  std::future<Result<CommandOutcome>> Queue(const CommandContext& context, Command command,
                                            bool awaited) {
    if (IsErasure(command)) {
      std::promise<Result<CommandOutcome>> refused;
      refused.set_value(ErasureElsewhere());
      return refused.get_future();
    }
    return parts_->commands.Submit(context, std::move(command), awaited);
  }
  static bool IsErasure(const Command& command) {
    return std::holds_alternative<EraseContact>(command) ||
           std::holds_alternative<EraseCustomer>(command);
  }
  static Status ErasureElsewhere() {
    return Status::InvalidArgument("erase_through_erase",
                                   "an erasure runs through Engine::Erase, which destroys the key");
  }
  Result<size_t> RotateMasterKey(const std::string& path) override {
    if (Status s = KeptOutside(path, options_.path, "master_key", "the master key"); !s.ok()) {
      return s;
    }
    auto next = domain::CredentialKeys::LoadOrCreate(path);
    if (!next.ok()) return next.status();
    rocksdb::DB* db = store_->db();
    rocksdb::ColumnFamilyHandle* meta = store_->Family(store::kCfMeta);
    std::string current;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, store::kMetaMasterKeyId, &current);
    if (!s.ok()) return Status::IoError("storage_error", s.ToString());
    if (current == next->KeyId()) {
      return Status::InvalidArgument("master_key", path + " is the ledger's master key already");
    }
    auto rewrapped = personal_->Rewrap(next->WrapKey(), next->KeyId());
    if (!rewrapped.ok()) return rewrapped;
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = db->Put(sync, meta, store::kMetaMasterKeyId, next->KeyId());
    if (!s.ok()) return Status::IoError("storage_error", s.ToString());
    // Recorded: from here a failure only delays the old wrappings' removal from the files.
    if (Status purged = personal_->PurgeOldWrappings(); !purged.ok()) {
      return Status(purged.code(), "old_wrappings_kept",
                    "the master key is rotated and recorded (open the ledger with " + path +
                        "), but the key store's files may still hold the data keys wrapped "
                        "under the old one until the next open of the ledger purges them: " +
                        purged.message());
    }
    return rewrapped;
  }
  Result<ErasureOutcome> Erase(const CommandContext& context, const std::string& subject,
                               const std::string& id, const std::string& reason) override {
    if (!options_.seal_personal_data) {
      return Status::Unavailable("erasure_unavailable",
                                 "personal data is not sealed here (cluster mode), so it cannot be "
                                 "erased by destroying its key");
    }
    return erasure_->Erase(context, subject, id, reason);
  }
  Status ApplyReplicated(const ReplicaGroup& group) override {
    bool erasures = false;
    for (const ReplicaEvent& replica : group.events) {
      auto event = DecodeEvent(replica.bytes);
      if (!event.ok()) return event.status();
      if (events::ErasedKeyId(event->body)) {
        erasures = true;
        if (Status s = erasure_->DestroyFollowed(event->tenant, event->stream); !s.ok()) {
          return s;
        }
      }
    }
    // The group's own requests to an erased subject are not recorded (ApplyReplicated).
    if (Status s = store_->ApplyReplicated(group); !s.ok()) return s;
    return erasures ? erasure_->PurgeFollowed() : Status::Ok();
  }

  Result<Principal> Authenticate(const std::string& token) override {
    return parts_->queries.Authenticate(token);
  }
  Result<std::vector<TokenInfo>> ListTokens(const Principal& who,
                                            const std::optional<std::string>& tenant) override {
    return parts_->queries.ListTokens(who, tenant);
  }
  Result<ContactView> GetContact(const Principal& who, const std::string& id,
                                 const AsOf& as_of) override {
    return parts_->queries.GetContact(who, id, as_of);
  }
  Result<CustomerView> GetCustomer(const Principal& who, const std::string& id,
                                   const AsOf& as_of) override {
    return parts_->queries.GetCustomer(who, id, as_of);
  }
  Result<std::vector<ContactView>> ListContacts(const Principal& who,
                                                const std::string& customer_id,
                                                ContactStatus status) override {
    return parts_->queries.ListContacts(who, customer_id, status);
  }
  Result<std::vector<CustomerView>> FindCustomers(const Principal& who,
                                                  const std::string& text) override {
    return parts_->queries.FindCustomers(who, text);
  }
  Result<std::vector<ContactView>> FindContacts(const Principal& who, const std::string& text,
                                                ContactStatus status) override {
    return parts_->queries.FindContacts(who, text, status);
  }
  Result<std::vector<TenantView>> Tenants(const Principal& who) override {
    return parts_->queries.Tenants(who);
  }
  Result<std::vector<Recipient>> Recipients(const Principal& who, const std::string& customer_id,
                                            const std::string& kind) override {
    return parts_->queries.Recipients(who, customer_id, kind);
  }

  Result<std::vector<AuditEntry>> ContactHistory(const Principal& who, const std::string& id,
                                                 const AsOf& as_of) override {
    return parts_->history.ContactHistory(who, id, as_of);
  }
  Result<std::vector<AuditEntry>> CustomerHistory(const Principal& who, const std::string& id,
                                                  const AsOf& as_of) override {
    return parts_->history.CustomerHistory(who, id, as_of);
  }
  Result<std::vector<AuditEntry>> ActorHistory(const Principal& who, const std::string& actor_id,
                                               int64_t from_us, int64_t to_us) override {
    return parts_->history.ActorHistory(who, actor_id, from_us, to_us);
  }
  Result<std::vector<AuditEntry>> TenantAudit(const Principal& who, int64_t from_us,
                                              int64_t to_us) override {
    return parts_->history.TenantAudit(who, from_us, to_us);
  }

  Result<EngineStats> Stats() override { return CollectStats(*store_, *host_, options_.path); }
  uint64_t PasswordHashes() override { return parts_->commands.PasswordHashes(); }
  Status Backup(const std::string& backup_dir) override {
    return CreateBackup(*store_, backup_dir);
  }

  std::vector<ProjectionStatus> Projections() override { return host_->Statuses(); }
  Result<std::vector<FoldTime>> Rebuild(const std::vector<std::string>& names,
                                        const Progress& progress) override {
    return host_->Rebuild(names, progress);
  }
  Result<std::vector<ProjectionMismatch>> VerifyProjections(const Progress& progress) override {
    return host_->Verify(progress);  // personal_data_unreadable without the ledger's keys
  }
  Ledger& ledger() override { return *store_; }
  RawLedger& raw_ledger() { return *store_; }

 private:
  // The master key, held to the one the ledger recorded: credentials recorded under one key
  // must never meet another silently (tokens would stop authenticating, sealed hashes would
  // not open).
  Result<std::optional<domain::CredentialKeys>> LoadMasterKey() {
    const std::string path = MasterKeyFile(options_);
    if (Status s = KeptOutside(path, options_.path, "master_key", "the master key"); !s.ok()) {
      return s;
    }
    rocksdb::DB* db = store_->db();
    rocksdb::ColumnFamilyHandle* meta = store_->Family(store::kCfMeta);
    std::string recorded;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, store::kMetaMasterKeyId, &recorded);
    // A ledger that has a key never gets a new one by accident: no stray key file is made.
    const bool create =
        options_.create_master_key && (s.IsNotFound() || options_.replace_master_key);
    auto keys = domain::CredentialKeys::Load(path, create);
    if (!keys.ok()) return keys;
    if (!*keys) {
      if (!options_.create_master_key) return keys;  // read-only: no credential is recorded
      return Status(Code::kConflict, "master_key_missing",
                    "this ledger's credentials are recorded under master key " + recorded +
                        ", and " + path +
                        " does not exist; give the ledger's own with --master-key-file, or, if "
                        "it is lost, --replace-master-key");
    }
    if (s.ok() && recorded != (*keys)->KeyId() && !options_.create_master_key) {
      return std::optional<domain::CredentialKeys>();  // read-only: another key is not used
    }
    // Recorded as the ledger's key: the first, one given to replace a lost one, or one a
    // rotation re-wrapped the key store under (its commit point) and stopped before the ledger
    // recorded it (RotateMasterKey).
    const bool mismatch = s.ok() && recorded != (*keys)->KeyId();
    if (s.IsNotFound() || (s.ok() && options_.replace_master_key) ||
        (mismatch && KeyStoreWrappedUnder(**keys))) {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      s = db->Put(sync, meta, store::kMetaMasterKeyId, (*keys)->KeyId());
    } else if (mismatch) {
      return Status(Code::kConflict, "master_key_mismatch",
                    "the master key " + path + " (id " + (*keys)->KeyId() +
                        ") is not the one this ledger's credentials are recorded under (id " +
                        recorded +
                        "); give the ledger's own with --master-key-file, or, if it is lost, "
                        "--replace-master-key");
    }
    if (!s.ok()) return Status::IoError("storage_error", s.ToString());
    return keys;
  }

  // Whether the key store there records its data keys as wrapped under `keys`.
  bool KeyStoreWrappedUnder(const domain::CredentialKeys& keys) const {
    const std::string path = KeyStoreDir(options_);
    std::error_code ec;
    if (!options_.seal_personal_data || !std::filesystem::exists(path, ec)) return false;
    return store::PersonalKeys::Open(path, keys.WrapKey(), keys.KeyId(), /*read_only=*/true).ok();
  }

  // The key store of personal data, held to the one the ledger recorded: personal fields sealed
  // under one store's keys never meet another's silently. Read-only opens use it when it is
  // there and matches, and read personal fields as unreadable otherwise.
  Status OpenKeyStore(const std::optional<domain::CredentialKeys>& keys) {
    const std::string path = KeyStoreDir(options_);
    if (Status s = KeptOutside(path, options_.path, "key_store", "the key store"); !s.ok()) {
      return s;
    }
    const bool writable = options_.create_master_key;
    rocksdb::DB* db = store_->db();
    rocksdb::ColumnFamilyHandle* meta = store_->Family(store::kCfMeta);
    std::string recorded;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, store::kMetaKeyStoreId, &recorded);
    if (!s.ok() && !s.IsNotFound()) return Status::IoError("storage_error", s.ToString());
    std::error_code ec;
    if (writable && s.ok() && !std::filesystem::exists(path, ec) && !options_.replace_master_key) {
      return Status(Code::kConflict, "key_store_missing",
                    "this ledger's personal data is sealed under key store " + recorded + ", and " +
                        path + " does not exist; give the ledger's own with --key-store");
    }
    personal_ = store::PersonalKeys::None();
    if (!keys) return Status::Ok();
    auto opened = store::PersonalKeys::Open(path, keys->WrapKey(), keys->KeyId(), !writable);
    if (!opened.ok()) return writable ? opened.status() : Status::Ok();
    if (s.ok() && recorded != (*opened)->id() && !options_.replace_master_key) {
      if (!writable) return Status::Ok();
      return Status(Code::kConflict, "key_store_mismatch",
                    "the key store " + path + " (id " + (*opened)->id() +
                        ") is not the one this ledger's personal data is sealed under (id " +
                        recorded + "); give the ledger's own with --key-store");
    }
    if (writable && (s.IsNotFound() || recorded != (*opened)->id())) {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      s = db->Put(sync, meta, store::kMetaKeyStoreId, (*opened)->id());
      if (!s.ok()) return Status::IoError("storage_error", s.ToString());
    }
    personal_ = std::move(opened).value();
    return Status::Ok();
  }

  Status StartTransparency() {
    std::optional<proofs::SigningKey> key;
    if (!options_.signing_key_file.empty()) {
      if (Status s = KeptOutside(options_.signing_key_file, options_.path, "signing_key",
                                 "the signing key");
          !s.ok()) {
        return s;
      }
      auto loaded = proofs::SigningKey::LoadOrCreate(options_.signing_key_file);
      if (!loaded.ok()) return loaded.status();
      key = std::move(loaded).value();
    }
    std::vector<proofs::PublicKey> witnesses;
    for (const std::string& hex : options_.witness_keys) {
      auto witness = proofs::PublicKeyFromHex(hex);
      if (!witness) {
        return Status::InvalidArgument("witness_key", "a witness key is 64 hex digits, not " + hex);
      }
      witnesses.push_back(*witness);
    }
    transparency_ = std::make_unique<Transparency>(*store_, std::move(key), std::move(witnesses));
    return Status::Ok();
  }

  // What the engine is made of above the store and the projections.
  struct Parts {
    Parts(store::LogStore& store, ProjectionHost& host, const LedgerOptions& options,
          const std::optional<domain::CredentialKeys>& keys)
        : commands(store, host, options.random, options.clock, keys),
          queries(store, host, options.clock, keys),
          history(store, host) {}
    CommandRunner commands;
    Queries queries;
    History history;
  };

  LedgerOptions options_;
  rocksdb::Env* env_ = nullptr;  // RocksDB's default unless a test injects faults
  std::unique_ptr<store::LogStore> store_;
  std::unique_ptr<ProjectionHost> host_;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<Transparency> transparency_;
  std::unique_ptr<store::PersonalKeys> personal_;
  std::unique_ptr<Erasure> erasure_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const LedgerOptions& options) {
  return OpenEngineOnEnv(options, nullptr);
}

Result<std::unique_ptr<Engine>> OpenEngineOnEnv(const LedgerOptions& options, rocksdb::Env* env) {
  auto engine = std::make_unique<EngineImpl>(options, env);
  if (Status s = engine->Start(); !s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

RawLedger& RawLedgerOf(Engine& engine) {
  auto* impl = dynamic_cast<EngineImpl*>(&engine);
  if (impl == nullptr) std::abort();  // not an engine Engine::Open made
  return impl->raw_ledger();
}

}  // namespace cledger
