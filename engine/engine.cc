#include "cledger/engine.h"

#include <rocksdb/utilities/backup_engine.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <semaphore>
#include <set>
#include <thread>

#include "base/hex.h"
#include "base/text.h"
#include "engine/domain/fingerprint.h"
#include "engine/domain/password.h"
#include "engine/domain/rules.h"
#include "engine/domain/validate.h"
#include "engine/engine_env.h"
#include "engine/projection_host.h"
#include "engine/store/keys.h"
#include "engine/store/kv_adapters.h"
#include "events/hash.h"
#include "projections/views.h"

namespace cledger {
namespace {

namespace pj = projections;

// argon2id takes 64 MiB and ~90 ms of a core per hash: at most one per core at a time, so
// memory stays bounded whatever the load; a command that cannot start its hash within
// kHashWaitMax is refused with 503 (the server adds Retry-After).
const std::ptrdiff_t kHashesMax = std::max(1u, std::thread::hardware_concurrency());
constexpr auto kHashWaitMax = std::chrono::seconds(1);

std::future<Result<CommandOutcome>> Refused(Status status) {
  std::promise<Result<CommandOutcome>> refused;
  refused.set_value(std::move(status));
  return refused.get_future();
}

bool CanRead(const Principal& who) {
  const std::string& role = who.actor.role;
  return !who.tenant.empty() &&
         (role == "owner" || role == "admin" || role == "manager" || role == "auditor");
}

Status CannotRead(const Principal& who) {
  return Status(Code::kPermissionDenied, "forbidden",
                "role '" + who.actor.role + "' may not read customers and contacts");
}

std::string RandomHex(Random& random, size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  random.Fill(raw.data(), raw.size());
  return base::Hex(raw);
}

// The read-only contact the customer's first email stands for.
ContactView ProfileContact(const CustomerView& customer) {
  ContactView v;
  v.id = domain::kProfilePrefix + customer.id;
  v.profile = true;
  v.owner_customer_id = customer.id;
  v.deleted = customer.deleted;
  const auto emails = domain::SplitEmails(customer.email);
  v.fields.email = emails.empty() ? "" : emails.front();
  v.fields.company_name = customer.name;
  v.fields.communication.email_bill = customer.bill_format;
  v.customers = {{customer.id, {}}};
  v.system = customer.system;
  return v;
}

// Where faults the engine handles by itself are told: the caller's hook, or stderr.
std::function<void(const Status&)> StorageFaultReporter(const LedgerOptions& options) {
  if (options.on_storage_fault) return options.on_storage_fault;
  return [](const Status& s) { std::fprintf(stderr, "cledger: %s\n", s.ToString().c_str()); };
}

class EngineImpl final : public Engine {
 public:
  EngineImpl(LedgerOptions options, rocksdb::Env* env)
      : options_(std::move(options)), env_(env) {}
  // The follower reads the log, so it stops first; the store drains its queue (which still
  // folds inline projections) before the host goes.
  ~EngineImpl() override {
    if (host_) {
      // A clean close leaves every projection at the head; only a crash leaves followers
      // behind, and they catch up at the next open.
      host_->AwaitFollowers(store_->GetHead().position, std::chrono::seconds(30));
      host_->StopFollowing();
    }
    store_.reset();
    host_.reset();
  }

  Status Start() {
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
    host_ = std::make_unique<ProjectionHost>(*store_, StorageFaultReporter(options_));
    return host_->Attach();
  }

  Result<CommandOutcome> Execute(const CommandContext& context, Command command) override {
    return ExecuteAsync(context, std::move(command)).get();
  }

  std::future<Result<CommandOutcome>> ExecuteAsync(const CommandContext& context,
                                                   Command command) override {
    // Shared with the writer thread, which fills in `decision`.
    struct Pending {
      CommandContext context;
      Command command;
      domain::Prepared prepared;
      CommandOutcome outcome;
      std::optional<domain::Decision> decision;
    };
    // Who may run it is decided before any work: a replay, a read or a hash.
    if (Status s = domain::Authorize(context, command); !s.ok()) return Refused(s);
    if (Status s = CheckTarget(context, command); !s.ok()) return Refused(s);
    auto pending = std::make_shared<Pending>(Pending{context, std::move(command), {}, {}, {}});
    if (Status s = Prepare(pending->command, pending->prepared, pending->outcome); !s.ok()) {
      return Refused(s);
    }
    std::string fingerprint =
        context.idempotency_key.empty() ? "" : domain::Fingerprint(context, pending->command);
    auto committed = store_->SubmitAsync(
        context.tenant, context.idempotency_key,
        [this, pending](store::Txn& txn) -> Result<Commit> {
          Views views(txn, *host_);
          auto decided =
              domain::Decide(pending->context, pending->command, pending->prepared, views.views);
          if (!decided.ok()) return decided.status();
          pending->decision = std::move(decided).value();
          return pending->decision->commit;
        },
        std::move(fingerprint));
    return std::async(std::launch::deferred, [this, pending, committed = std::move(committed)]() mutable {
      return Finish(committed.get(), pending->outcome, pending->decision);
    });
  }

  // Completes the outcome of a committed command: its target's id and version.
  Result<CommandOutcome> Finish(Result<CommitResult> committed, CommandOutcome outcome,
                                const std::optional<domain::Decision>& decision) {
    if (!committed.ok()) return committed.status();
    outcome.first_position = committed->first_position;
    outcome.last_position = committed->last_position;
    outcome.replayed = committed->replayed;
    auto events = store_->Read(outcome.first_position,
                               outcome.last_position - outcome.first_position + 1);
    if (!events.ok()) return events.status();
    if (events->empty()) {  // acknowledged, then not readable: the log lost it
      return Status::Corruption("corrupt_event", "a committed event is missing");
    }
    if (outcome.replayed) {  // secrets are returned once, never again
      outcome.temporary_password.clear();
      outcome.token.clear();
      if (const auto* issued = std::get_if<TokenIssued>(&events->front().body)) {
        outcome.token_hash = issued->token_hash;  // the token issued then, not one made now
      }
    }
    const std::string& target = events->front().stream;  // a commit's first event is its target
    outcome.id = decision ? decision->id : target.substr(target.find('-') + 1);
    for (const Event& e : *events) {
      if (e.stream == target) outcome.version = e.stream_version;
    }
    return outcome;
  }

  Result<Principal> Authenticate(const std::string& token) override {
    Snapshot snap(*this, /*consistent=*/false);
    auto principal = pj::GetTokenPrincipal(snap.Kv(pj::kTenants), events::Sha256Hex(token));
    if (!principal.ok()) return principal.status();
    if (!*principal) {
      return Status(Code::kUnauthenticated, "unauthenticated", "unknown or revoked token");
    }
    return std::move(**principal);
  }

  Result<ContactView> GetContact(const Principal& who, const std::string& id,
                                 const AsOf& as_of) override {
    if (!CanRead(who)) return CannotRead(who);
    if (id.starts_with(domain::kProfilePrefix)) {
      auto customer = GetCustomer(who, id.substr(8), as_of);
      if (!customer.ok()) return Status(Code::kNotFound, "contact_not_found", "no such contact");
      return ProfileContact(*customer);
    }
    auto view = AtPosition<ContactView>(who, pj::kContacts, domain::ContactStream(id), as_of,
                                        [&](pj::Kv& kv) { return pj::GetContact(kv, who.tenant, id); });
    if (!view.ok()) return view.status();
    if (!*view) return Status(Code::kNotFound, "contact_not_found", "no contact '" + id + "'");
    return **view;
  }

  Result<CustomerView> GetCustomer(const Principal& who, const std::string& id,
                                   const AsOf& as_of) override {
    if (!CanRead(who)) return CannotRead(who);
    auto view = AtPosition<CustomerView>(who, pj::kCustomers, domain::CustomerStream(id), as_of,
                                         [&](pj::Kv& kv) { return pj::GetCustomer(kv, who.tenant, id); });
    if (!view.ok()) return view.status();
    if (!*view) return Status(Code::kNotFound, "customer_not_found", "no customer '" + id + "'");
    return **view;
  }

  Result<std::vector<ContactView>> ListContacts(const Principal& who, const std::string& customer_id,
                                                ContactStatus status) override {
    if (!CanRead(who)) return CannotRead(who);
    Snapshot snap(*this);
    auto found = pj::GetCustomer(snap.Kv(pj::kCustomers), who.tenant, customer_id);
    if (!found.ok()) return found.status();
    if (!*found) return Status::NotFound("customer_not_found", "no such customer");
    const CustomerView& customer = **found;
    auto wanted = [&](const ContactView& c) {
      return status == ContactStatus::kAll || c.deleted == (status == ContactStatus::kInactive);
    };
    std::vector<ContactView> out;
    if (ContactView profile = ProfileContact(customer); !profile.fields.email.empty() && wanted(profile)) {
      out.push_back(std::move(profile));
    }
    auto links = pj::LinksOf(snap.Kv(pj::kLinks), who.tenant, customer_id);
    if (!links.ok()) return links.status();
    for (const auto& link : *links) {
      auto contact = pj::GetContact(snap.Kv(pj::kContacts), who.tenant, link.contact_id);
      if (!contact.ok()) return contact.status();
      if (*contact && wanted(**contact)) out.push_back(std::move(**contact));
    }
    return out;
  }

  Result<std::vector<Recipient>> Recipients(const Principal& who, const std::string& customer_id,
                                            const std::string& kind) override;

  Result<std::vector<AuditEntry>> ContactHistory(const Principal& who, const std::string& id,
                                                 const AsOf& as_of) override {
    return History(who, pj::AuditIndex::kStream, domain::ContactStream(id), as_of);
  }
  Result<std::vector<AuditEntry>> CustomerHistory(const Principal& who, const std::string& id,
                                                  const AsOf& as_of) override {
    return History(who, pj::AuditIndex::kCustomer, id, as_of);
  }
  Result<std::vector<AuditEntry>> ActorHistory(const Principal& who, const std::string& actor_id,
                                               int64_t from_us, int64_t to_us) override {
    auto all = History(who, pj::AuditIndex::kActor, actor_id, {});
    if (!all.ok()) return all;
    std::erase_if(*all, [&](const AuditEntry& e) {
      return e.recorded_at_us < from_us || e.recorded_at_us > to_us;
    });
    return all;
  }

  Result<std::vector<AuditEntry>> TenantAudit(const Principal& who, int64_t from_us,
                                              int64_t to_us) override {
    if (!CanRead(who)) return CannotRead(who);
    AwaitAudit();
    Snapshot snap(*this);
    auto entries = pj::TenantAuditLog(snap.Kv(pj::kAudit), who.tenant);
    if (!entries.ok()) return entries;
    std::erase_if(*entries, [&](const AuditEntry& e) {
      return e.recorded_at_us < from_us || e.recorded_at_us > to_us;
    });
    return entries;
  }

  Result<EngineStats> Stats() override;
  Status Backup(const std::string& backup_dir) override;

  std::vector<ProjectionStatus> Projections() override { return host_->Statuses(); }
  Status Rebuild(const std::string& name, const Progress& progress) override {
    return host_->Rebuild(name, progress);
  }
  Result<std::vector<ProjectionMismatch>> VerifyProjections(const Progress& progress) override {
    return host_->Verify(progress);
  }
  Ledger& ledger() override { return *store_; }

 private:
  // The domain's views over one commit group's transaction.
  struct Views {
    Views(store::Txn& txn, ProjectionHost& host)
        : tenants(txn, host.Family(pj::kTenants)), customers(txn, host.Family(pj::kCustomers)),
          contacts(txn, host.Family(pj::kContacts)), links(txn, host.Family(pj::kLinks)),
          emails(txn, host.Family(pj::kEmails)),
          views{tenants, customers, contacts, links, emails} {}
    store::TxnKv tenants, customers, contacts, links, emails;
    domain::Views views;
  };

  // Every projection read at one consistent point.
  class Snapshot {
   public:
    // `consistent`: every read at one point in time. A query that reads one key needs no
    // snapshot (taking one costs a trip through the database's mutex).
    // The store's read lock is held throughout, so a reopen after a storage fault waits.
    explicit Snapshot(EngineImpl& engine, bool consistent = true)
        : engine_(engine), gate_(engine.store_->ReadLock()), db_(engine.store_->db()),
          snapshot_(consistent && db_ != nullptr ? db_->GetSnapshot() : nullptr) {}
    ~Snapshot() {
      if (snapshot_ != nullptr) db_->ReleaseSnapshot(snapshot_);
    }
    pj::Kv& Kv(const pj::Projection& p) {
      if (db_ == nullptr) return unavailable_;
      auto it = kvs_.find(&p);
      if (it == kvs_.end()) {
        it = kvs_.emplace(&p, std::make_unique<store::SnapshotKv>(
                                  engine_.store_->db(), engine_.host_->Family(p), snapshot_))
                 .first;
      }
      return *it->second;
    }

   private:
    // Reads while the database is being reopened: every one answers 503.
    class UnavailableKv final : public pj::Kv {
     public:
      Result<std::optional<std::string>> Get(std::string_view) override {
        return store::Reopening();
      }
      void Put(std::string_view, std::string_view) override { std::abort(); }
      void Delete(std::string_view) override { std::abort(); }
      Status Scan(std::string_view, const pj::ScanFn&) override { return store::Reopening(); }
    };

    EngineImpl& engine_;
    store::DbGate::Shared gate_;
    rocksdb::DB* db_;
    const rocksdb::Snapshot* snapshot_;
    UnavailableKv unavailable_;
    std::map<const pj::Projection*, std::unique_ptr<store::SnapshotKv>> kvs_;
  };

  // The audit trail is folded just after each commit: a history query first lets it reach
  // the head as of the query, so a reader sees the commands it has seen acknowledged.
  void AwaitAudit() {
    host_->AwaitFollowers(store_->GetHead().position, std::chrono::seconds(5));
  }

  Status CheckTarget(const CommandContext& context, const Command& command);
  Status Prepare(const Command& command, domain::Prepared& prepared, CommandOutcome& outcome);
  Status PreparePassword(const PasswordChoice& choice, domain::Prepared& prepared,
                         CommandOutcome& outcome);
  Result<uint64_t> PositionOf(const AsOf& as_of);
  Result<std::vector<AuditEntry>> History(const Principal& who, pj::AuditIndex index,
                                          const std::string& id, const AsOf& as_of);

  // The view now, or folded from its stream up to the as-of position: the same fold.
  template <typename View, typename Query>
  Result<std::optional<View>> AtPosition(const Principal& who, const pj::Projection& projection,
                                         const std::string& stream, const AsOf& as_of,
                                         Query query) {
    if (!as_of.position && !as_of.time_us) {
      Snapshot snap(*this, /*consistent=*/false);  // one record: one key
      return query(snap.Kv(projection));
    }
    auto position = PositionOf(as_of);
    if (!position.ok()) return position.status();
    pj::MemKv past;
    for (uint64_t version = 1;;) {
      auto events = store_->ReadStream(who.tenant, stream, version, 1000);
      if (!events.ok()) return events.status();
      for (const Event& e : *events) {
        if (e.position > *position) return query(past);
        if (Status s = projection.Apply(past, e); !s.ok()) return s;
      }
      if (events->size() < 1000) break;
      version = events->back().stream_version + 1;
    }
    return query(past);
  }

  LedgerOptions options_;
  rocksdb::Env* env_ = nullptr;  // RocksDB's default unless a test injects faults
  std::unique_ptr<store::LogStore> store_;
  std::unique_ptr<ProjectionHost> host_;
  std::counting_semaphore<> hashes_{kHashesMax};
};

// A password reset names a contact that must exist before a hash is worth computing: one
// key read. The rules check it again, with everything else, at commit.
Status EngineImpl::CheckTarget(const CommandContext& context, const Command& command) {
  const auto* reset = std::get_if<ResetPassword>(&command);
  if (reset == nullptr || reset->contact_id.starts_with(domain::kProfilePrefix)) {
    return Status::Ok();
  }
  Snapshot snap(*this, /*consistent=*/false);
  auto contact = pj::GetContact(snap.Kv(pj::kContacts), context.tenant, reset->contact_id);
  if (!contact.ok()) return contact.status();
  if (!*contact) {
    return Status::NotFound("contact_not_found", "no contact '" + reset->contact_id + "'");
  }
  return Status::Ok();
}

Status EngineImpl::Prepare(const Command& command, domain::Prepared& prepared,
                           CommandOutcome& outcome) {
  prepared.new_id = RandomHex(*options_.random, 8);
  if (const auto* c = std::get_if<CreateContact>(&command); c && c->password) {
    return PreparePassword(*c->password, prepared, outcome);
  }
  // The rules refuse every reset of a profile contact: no hash for it.
  if (const auto* c = std::get_if<ResetPassword>(&command);
      c && !c->contact_id.starts_with(domain::kProfilePrefix)) {
    return PreparePassword(c->password, prepared, outcome);
  }
  if (std::holds_alternative<IssueToken>(command)) {
    outcome.token = "clt_" + RandomHex(*options_.random, 24);
    prepared.token_hash = outcome.token_hash = events::Sha256Hex(outcome.token);
  }
  if (const auto* c = std::get_if<RevokeToken>(&command)) {
    prepared.token_hash = c->token.empty() ? c->token_hash : events::Sha256Hex(c->token);
  }
  return Status::Ok();
}

// argon2id costs ~160 ms of a core: it runs here, on the caller's thread, never the writer's.
Status EngineImpl::PreparePassword(const PasswordChoice& choice, domain::Prepared& prepared,
                                   CommandOutcome& outcome) {
  std::string password = choice.password;
  if (choice.generate) {
    password = domain::GenerateTemporaryPassword(*options_.random);
    outcome.temporary_password = password;
  } else if (Status s = domain::CheckPasswordPolicy(password); !s.ok()) {
    return s;
  }
  if (!hashes_.try_acquire_for(kHashWaitMax)) {
    return Status(Code::kUnavailable, "busy", "too many passwords are being hashed; retry shortly");
  }
  auto hash = domain::HashPassword(password);
  hashes_.release();
  if (!hash.ok()) return hash.status();
  prepared.password_hash = std::move(hash).value();
  prepared.password_generated = choice.generate;
  return Status::Ok();
}

// A time maps to the last position recorded at or before it; recorded_at never decreases
// along the log, so a binary search finds it.
Result<uint64_t> EngineImpl::PositionOf(const AsOf& as_of) {
  const uint64_t head = store_->GetHead().position;
  if (as_of.position) return std::min(*as_of.position, head);
  uint64_t low = 0, high = head;  // invariant: event `low` is at or before the time
  while (low < high) {
    const uint64_t mid = low + (high - low + 1) / 2;
    auto event = store_->Read(mid, 1);
    if (!event.ok() || event->empty()) return Status::IoError("storage_error", "read failed");
    if (event->front().recorded_at_us <= *as_of.time_us) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return low;
}

Result<std::vector<AuditEntry>> EngineImpl::History(const Principal& who, pj::AuditIndex index,
                                                    const std::string& id, const AsOf& as_of) {
  if (!CanRead(who)) return CannotRead(who);
  AwaitAudit();
  uint64_t to = UINT64_MAX;
  if (as_of.position || as_of.time_us) {
    auto position = PositionOf(as_of);
    if (!position.ok()) return position.status();
    to = *position;
  }
  Snapshot snap(*this);
  return pj::AuditTrail(snap.Kv(pj::kAudit), who.tenant, index, id, to);
}

Result<std::vector<Recipient>> EngineImpl::Recipients(const Principal& who,
                                                      const std::string& customer_id,
                                                      const std::string& kind) {
  if (!CanRead(who)) return CannotRead(who);
  const bool invoice = kind == "invoice";
  const bool role_kind = kind == "order" || kind == "shipment";
  const bool correspondence = kind.starts_with("correspondence:") && kind.size() > 15;
  const bool ticket = kind.starts_with("ticket:") && kind.size() > 7;
  if (!invoice && !role_kind && !correspondence && !ticket) {
    return Status(Code::kInvalidArgument, "invalid_enum",
                  "kind is invoice, order, shipment, correspondence:<type> or ticket:<type>",
                  "kind");
  }
  Snapshot snap(*this);
  auto found = pj::GetCustomer(snap.Kv(pj::kCustomers), who.tenant, customer_id);
  if (!found.ok()) return found.status();
  if (!*found || (*found)->deleted) {
    return Status::NotFound("customer_not_found", "no customer '" + customer_id + "'");
  }
  const CustomerView* customer = &**found;
  std::vector<Recipient> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& email, const std::string& contact, const std::string& format) {
    if (!email.empty() && seen.insert(base::NormalizeEmail(email)).second) {
      out.push_back({email, contact, invoice ? format : ""});
    }
  };
  if (invoice) {
    for (const auto& email : domain::SplitEmails(customer->email)) {
      add(email, "", customer->bill_format.empty() ? "long" : customer->bill_format);
    }
  }
  const std::string type = kind.substr(kind.find(':') + 1);
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  auto links = pj::LinksOf(snap.Kv(pj::kLinks), who.tenant, customer_id);
  if (!links.ok()) return links.status();
  for (const auto& link : *links) {
    auto found_contact = pj::GetContact(snap.Kv(pj::kContacts), who.tenant, link.contact_id);
    if (!found_contact.ok()) return found_contact.status();
    if (!*found_contact || (*found_contact)->deleted) continue;
    const ContactView* contact = &**found_contact;
    const Communication& c = contact->fields.communication;
    const bool bills = c.email_bill != "none" && !c.email_bill.empty();
    const bool receives = invoice ? (bills || has(link.roles, "billing"))
                          : role_kind ? has(link.roles, kind)
                          : correspondence ? has(c.copy_correspondence, type)
                                           : has(c.copy_ticket_updates, type);
    if (receives) add(contact->fields.email, contact->id, bills ? c.email_bill : customer->bill_format);
  }
  return out;
}

Result<EngineStats> EngineImpl::Stats() {
  EngineStats stats;
  stats.head = store_->GetHead();
  stats.ledger = store_->Stats();
  Snapshot snap(*this);
  Status scanned = snap.Kv(pj::kTenants).Scan("t", [&](std::string_view, std::string_view) {
    ++stats.tenants;
    return true;
  });
  if (!scanned.ok()) return scanned;
  auto count = [&](const pj::Projection& p, uint64_t& n) {
    // Record keys start with lp(tenant): a length byte, never the applied marker's 0xff.
    return snap.Kv(p).Scan("", [&](std::string_view key, std::string_view) {
      n += static_cast<uint8_t>(key[0]) < 0x80;
      return true;
    });
  };
  if (Status s = count(pj::kCustomers, stats.customers); !s.ok()) return s;
  if (Status s = count(pj::kContacts, stats.contacts); !s.ok()) return s;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options_.path, ec)) {
    if (entry.is_regular_file(ec)) stats.size_bytes += entry.file_size(ec);
  }
  return stats;
}

Status EngineImpl::Backup(const std::string& backup_dir) {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngine::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!s.ok()) return Status(Code::kIoError, "backup_failed", s.ToString());
  std::unique_ptr<rocksdb::BackupEngine> backups(raw);
  auto gate = store_->ReadLock();
  if (store_->db() == nullptr) return store::Reopening();
  // Live WAL files are copied with the tables, so the backup is one point in time across
  // every column family even while commits go on.
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = false;
  rocksdb::BackupID id = 0;
  s = backups->CreateNewBackup(create, store_->db(), &id);
  if (s.ok()) s = backups->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) return Status(Code::kIoError, "backup_failed", s.ToString());
  return Status::Ok();
}

}  // namespace

Status Engine::RestoreBackup(const std::string& backup_dir, const std::string& data_dir) {
  std::error_code ec;
  if (std::filesystem::exists(data_dir, ec) && !std::filesystem::is_empty(data_dir, ec)) {
    return Status(Code::kConflict, "data_dir_not_empty",
                  "restore into a new data directory; " + data_dir + " is not empty");
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!s.ok()) return Status(Code::kNotFound, "backup_not_found", s.ToString());
  std::unique_ptr<rocksdb::BackupEngineReadOnly> backups(raw);
  s = backups->RestoreDBFromLatestBackup(data_dir, data_dir);
  if (!s.ok()) return Status(Code::kIoError, "restore_failed", s.ToString());
  return Status::Ok();
}

Result<std::unique_ptr<Engine>> Engine::Open(const LedgerOptions& options) {
  return OpenEngineOnEnv(options, nullptr);
}

Result<std::unique_ptr<Engine>> OpenEngineOnEnv(const LedgerOptions& options, rocksdb::Env* env) {
  auto engine = std::make_unique<EngineImpl>(options, env);
  if (Status s = engine->Start(); !s.ok()) return s;
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace cledger
