#include "engine/command_runner.h"

#include <algorithm>
#include <thread>

#include "cledger/limits.h"
#include "engine/domain/fingerprint.h"
#include "engine/domain/password.h"
#include "engine/domain/profile_contact.h"
#include "engine/snapshot.h"
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

// The one thing a fingerprint leaves out: a password the caller gave.
const std::string* GivenPassword(const Command& command) {
  if (const auto* c = std::get_if<CreateContact>(&command);
      c && c->password && !c->password->generate) {
    return &c->password->password;
  }
  if (const auto* c = std::get_if<ResetPassword>(&command); c && !c->password.generate) {
    return &c->password.password;
  }
  return nullptr;
}

Status PasswordsBusy() {
  return Status(Code::kUnavailable, "busy", "too many passwords are being hashed; retry shortly");
}

Status MasterKeyMissing() {
  return Status(Code::kUnavailable, "master_key_missing",
                "recording a credential needs the ledger's master key (--master-key-file); this "
                "process opened the ledger without it");
}

std::future<Result<CommandOutcome>> Refused(Status status) {
  std::promise<Result<CommandOutcome>> refused;
  refused.set_value(std::move(status));
  return refused.get_future();
}

std::string RandomHex(Random& random, size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  random.Fill(raw.data(), raw.size());
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : raw) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// The domain's views over one commit group's transaction: inline projections, which only
// the writer writes, so their reads may be remembered (store::CommittedMemory).
struct CommitViews {
  CommitViews(store::Txn& txn, ProjectionHost& host)
      : tenants(txn, host.Family(pj::kTenants), /*remember=*/true),
        customers(txn, host.Family(pj::kCustomers), /*remember=*/true),
        contacts(txn, host.Family(pj::kContacts), /*remember=*/true),
        links(txn, host.Family(pj::kLinks), /*remember=*/true),
        emails(txn, host.Family(pj::kEmails), /*remember=*/true),
        views{tenants, customers, contacts, links, emails} {}
  store::TxnKv tenants, customers, contacts, links, emails;
  domain::Views views;
};

}  // namespace

CommandRunner::CommandRunner(store::LogStore& store, ProjectionHost& host,
                             std::shared_ptr<Random> random, std::shared_ptr<Clock> clock,
                             const std::optional<domain::CredentialKeys>& keys)
    : store_(store),
      host_(host),
      random_(std::move(random)),
      clock_(std::move(clock)),
      keys_(keys),
      hashes_(kHashesMax) {}

std::future<Result<CommandOutcome>> CommandRunner::Submit(const CommandContext& context,
                                                          Command command, bool awaited) {
  auto queued = Queue(context, std::move(command), awaited);
  if (!queued.ok()) return Refused(queued.status());
  auto committed = store_.SubmitAsync(context.tenant, context.idempotency_key, queued->decide,
                                      std::move(queued->fingerprint), std::move(queued->staged));
  return std::async(std::launch::deferred,
                    [this, pending = queued->pending, committed = std::move(committed)]() mutable {
                      // Awaited first: the writer fills in the outcome until it answers.
                      Result<CommitResult> result = committed.get();
                      return Finish(std::move(result), pending->outcome, pending->decision);
                    });
}

void CommandRunner::SubmitThen(const CommandContext& context, Command command, Then then) {
  auto queued = Queue(context, std::move(command), /*awaited=*/true);
  if (!queued.ok()) {
    then([refused = queued.status()]() -> Result<CommandOutcome> { return refused; });
    return;
  }
  store_.SubmitThen(
      context.tenant, context.idempotency_key, queued->decide, std::move(queued->fingerprint),
      [this, pending = queued->pending, then = std::move(then)](Result<CommitResult> committed) {
        then([this, pending, committed = std::move(committed)]() {
          return Finish(committed, pending->outcome, pending->decision);
        });
      },
      std::move(queued->staged));
}

// Who may run it is decided before any work: a replay, a read or a hash.
Result<CommandRunner::Queued> CommandRunner::Queue(const CommandContext& context, Command command,
                                                   bool awaited) {
  if (Status s = domain::Authorize(context, command); !s.ok()) return s;
  std::string fingerprint =
      context.idempotency_key.empty() ? "" : domain::Fingerprint(context, command);
  if (keys_ && !fingerprint.empty()) fingerprint = keys_->KeyedFingerprint(fingerprint);
  Result<bool> retry = IsRetry(context, command, fingerprint);
  if (!retry.ok()) return retry.status();
  auto pending = std::make_shared<Pending>(Pending{context, std::move(command), {}, {}, {}});
  // A retry is answered from its key without being decided again: nothing to prepare.
  if (Status s =
          *retry ? Status::Ok()
                 : Prepare(context, pending->command, awaited, pending->prepared, pending->outcome);
      !s.ok()) {
    return s;
  }
  store::Decide decide = [this, pending, retried = *retry](store::Txn& txn) -> Result<Commit> {
    // Decided only when the key's record is not there: an erasure deleted it since, and
    // this command, never prepared, must not be decided as it is.
    if (retried) {
      return Status::Unavailable("idempotency_record_gone",
                                 "the request this key answered was just erased; retry");
    }
    CommitViews views(txn, host_);
    auto decided =
        domain::Decide(pending->context, pending->command, pending->prepared, views.views);
    if (!decided.ok()) return decided.status();
    pending->decision = std::move(decided).value();
    return pending->decision->commit;
  };
  store::Staged staged;
  if (context.wants_record) {
    staged = [this, pending](store::Txn& txn) { KeepRecord(txn, *pending); };
  }
  return Queued{std::move(pending), std::move(decide), std::move(fingerprint), std::move(staged)};
}

// The contact or customer the command targets, as its commit left it: read from the inline
// fold's writes before any later commit of the group changes it. A read after the commit
// could meet a later version and have to fold the record's history back to this one.
void CommandRunner::KeepRecord(store::Txn& txn, Pending& pending) {
  if (!pending.decision) return;
  const domain::Decision& decision = *pending.decision;
  const std::string& tenant = pending.context.tenant;
  if (decision.stream.starts_with(domain::kContactStreams)) {
    store::TxnKv contacts(txn, host_.Family(pj::kContacts));
    auto view = pj::GetContact(contacts, tenant, decision.id);
    if (view.ok() && *view) pending.outcome.contact = std::move(**view);
  } else if (decision.stream.starts_with(domain::kCustomerStreams)) {
    store::TxnKv customers(txn, host_.Family(pj::kCustomers));
    auto view = pj::GetCustomer(customers, tenant, decision.id);
    if (view.ok() && *view) pending.outcome.customer = std::move(**view);
  }
}

// Completes the outcome of a committed command: its target's id and version.
Result<CommandOutcome> CommandRunner::Finish(Result<CommitResult> committed, CommandOutcome outcome,
                                             const std::optional<domain::Decision>& decision) {
  if (!committed.ok()) return committed.status();
  outcome.first_position = committed->first_position;
  outcome.last_position = committed->last_position;
  outcome.replayed = committed->replayed;
  if (!outcome.replayed && decision) {  // the decision knows the rest: no events read back
    outcome.id = decision->id;
    outcome.version = committed->target_version;
    return outcome;
  }
  auto events =
      store_.Read(outcome.first_position, outcome.last_position - outcome.first_position + 1);
  if (!events.ok()) return events.status();
  if (events->empty()) {  // acknowledged, then not readable: the log lost it
    return Status::Corruption("corrupt_event", "a committed event is missing");
  }
  outcome.temporary_password.clear();  // secrets are returned once, never again
  outcome.token.clear();
  outcome.contact.reset();  // a retry's record is read as of its first answer's position
  outcome.customer.reset();
  if (const auto* issued = std::get_if<TokenIssued>(&events->front().body)) {
    outcome.token_hash = issued->token_hash;  // the token issued then, not one made now
  }
  const std::string& target = events->front().stream;  // a commit's first event is its target
  outcome.id = target.substr(target.find('-') + 1);
  for (const Event& e : *events) {
    if (e.stream == target) outcome.version = e.stream_version;
  }
  return outcome;
}

// What the rules say of a command on the committed views, before any work is done for it
// (the prepared values it would need are left empty). It is decided again at commit.
Status CommandRunner::DecidedOnCommitted(const CommandContext& context, const Command& command) {
  Snapshot snap(store_, host_, /*consistent=*/false);
  domain::Views views{snap.Kv(pj::kTenants), snap.Kv(pj::kCustomers), snap.Kv(pj::kContacts),
                      snap.Kv(pj::kLinks), snap.Kv(pj::kEmails)};
  auto decided = domain::Decide(context, command, domain::Prepared{}, views);
  if (!decided.ok()) return decided.status();
  // A stale If-Match, which the ledger would refuse at commit.
  for (const ExpectedVersion& expected : decided->commit.expected) {
    auto actual = store_.StreamVersion(context.tenant, expected.stream);
    if (!actual.ok()) return actual.status();
    if (*actual != expected.version) {
      return store::StaleVersion(expected.stream, *actual, expected.version);
    }
  }
  return Status::Ok();
}

// Whether the command retries one its idempotency key already answered, decided before any
// costly work (a hash) is done for it. Any other request under the key is refused.
Result<bool> CommandRunner::IsRetry(const CommandContext& context, const Command& command,
                                    const std::string& fingerprint) {
  if (context.idempotency_key.empty()) return false;
  auto recorded = store_.FindRecorded(context.tenant, context.idempotency_key);
  if (!recorded.ok()) return recorded.status();
  if (!*recorded) return false;
  if (!store::IsSameRequest(**recorded, fingerprint)) return store::IdempotencyKeyReused();
  const std::string* given = GivenPassword(command);
  if (given == nullptr || (*recorded)->fingerprint.empty()) return true;
  if (Status s = CheckSamePassword(**recorded, *given); !s.ok()) return s;
  return true;
}

// Checks a given password against the hash its key's first request recorded: one argon2id
// verification, bounded like every hash. A fast digest of the password is never stored.
Status CommandRunner::CheckSamePassword(const store::LogStore::Recorded& recorded,
                                        const std::string& given) {
  auto events =
      store_.Read(recorded.first_position, recorded.last_position - recorded.first_position + 1);
  if (!events.ok()) return events.status();
  for (const Event& e : *events) {
    const auto* reset = std::get_if<ContactPasswordReset>(&e.body);
    if (reset == nullptr) continue;
    if (!keys_) return MasterKeyMissing();
    auto hash = keys_->OpenPasswordHash(reset->password_hash);
    if (!hash.ok()) return hash.status();
    if (!hashes_.try_acquire_for(kHashWaitMax)) return PasswordsBusy();
    ++password_hashes_;
    const bool same = domain::VerifyPassword(*hash, given);
    hashes_.release();
    return same ? Status::Ok() : store::IdempotencyKeyReused();
  }
  return store::IdempotencyKeyReused();  // the key answered a request that set no password
}

Status CommandRunner::Prepare(const CommandContext& context, const Command& command, bool awaited,
                              domain::Prepared& prepared, CommandOutcome& outcome) {
  prepared.new_id = RandomHex(*random_, 8);
  if (const auto* c = std::get_if<CreateContact>(&command); c && c->password) {
    return PreparePassword(*c->password, prepared, outcome);
  }
  // The rules refuse every reset of a profile contact: no hash for it. When nothing the caller
  // queued can still change the contact (it waits for each command), a reset the rules refuse
  // (no such contact, deleted, erased, portal off) is refused without its hash, ranked as
  // Decide ranks it: an unknown record before bad input before a rule.
  if (const auto* c = std::get_if<ResetPassword>(&command);
      c && !domain::ProfileCustomerId(c->contact_id)) {
    const Status refused = awaited ? DecidedOnCommitted(context, command) : Status::Ok();
    // An unknown record (404) or a stale version (412) outranks bad input; a rule does not.
    if (!refused.ok() && refused.code() != Code::kConflict) return refused;
    return PreparePassword(c->password, prepared, outcome, refused);
  }
  if (const auto* c = std::get_if<IssueToken>(&command)) {
    if (!keys_) return MasterKeyMissing();
    outcome.token = "clt_" + RandomHex(*random_, 24);
    prepared.token_hash = outcome.token_hash = keys_->TokenDigest(outcome.token);
    if (c->expires_in_s > 0 && c->expires_in_s <= limits::kTokenLifetimeMaxSeconds) {
      prepared.token_expires_at_us = clock_->NowMicros() + c->expires_in_s * 1'000'000;
    }
  }
  if (const auto* c = std::get_if<RevokeToken>(&command)) {
    if (!c->token.empty()) return RecordedTokenDigest(c->token, prepared.token_hash);
    prepared.token_hash = c->token_hash;
  }
  return Status::Ok();
}

// The digest a token was recorded under: keyed, or its SHA-256 when it was issued before
// digests were keyed (FORMAT.md, "Secrets").
Status CommandRunner::RecordedTokenDigest(const std::string& token, std::string& digest) {
  Snapshot snap(store_, host_, /*consistent=*/false);
  const std::vector<std::string> candidates = domain::TokenDigests(keys_, token);
  digest = candidates.back();  // unknown under every digest: the rules answer token_not_found
  for (const std::string& candidate : candidates) {
    auto found = pj::GetTokenPrincipal(snap.Kv(pj::kTenants), candidate);
    if (!found.ok()) return found.status();
    if (*found) {
      digest = candidate;
      break;
    }
  }
  return Status::Ok();
}

// argon2id costs ~160 ms of a core: it runs here, on the caller's thread, never the writer's.
Status CommandRunner::PreparePassword(const PasswordChoice& choice, domain::Prepared& prepared,
                                      CommandOutcome& outcome, const Status& refused_by_rule) {
  if (!keys_) return MasterKeyMissing();
  std::string password = choice.password;
  if (choice.generate) {
    password = domain::GenerateTemporaryPassword(*random_);
  } else if (Status s = domain::CheckPasswordPolicy(password); !s.ok()) {
    return s;
  }
  if (!refused_by_rule.ok()) return refused_by_rule;
  if (choice.generate) outcome.temporary_password = password;
  if (!hashes_.try_acquire_for(kHashWaitMax)) {
    return PasswordsBusy();
  }
  ++password_hashes_;
  auto hash = domain::HashPassword(password);
  hashes_.release();
  if (!hash.ok()) return hash.status();
  prepared.password_hash = keys_->SealPasswordHash(*hash);
  prepared.password_generated = choice.generate;
  return Status::Ok();
}

}  // namespace cledger
