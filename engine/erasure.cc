#include "engine/erasure.h"

#include "base/time.h"
#include "engine/domain/rules.h"

namespace cledger {
namespace {

std::string StreamOf(const std::string& subject, const std::string& id) {
  return subject == "contact" ? domain::ContactStream(id) : domain::CustomerStream(id);
}

// The erasure body of an event, if it is one: its reason and key id.
const std::string* ErasedKeyOf(const EventBody& body, std::string* reason) {
  if (const auto* e = std::get_if<ContactErased>(&body)) {
    *reason = e->reason;
    return &e->key_id;
  }
  if (const auto* e = std::get_if<CustomerErased>(&body)) {
    *reason = e->reason;
    return &e->key_id;
  }
  return nullptr;
}

constexpr std::chrono::seconds kFollowersWait{60};

}  // namespace

Result<Engine::ErasureOutcome> Erasure::Erase(const CommandContext& context,
                                              const std::string& subject, const std::string& id,
                                              const std::string& reason) {
  if (subject != "contact" && subject != "customer") {
    return Status::InvalidArgument("invalid_subject", "a subject is a contact or a customer");
  }
  auto erased = Run(context, subject, id, reason, {});
  if (!erased.ok()) return erased.status();
  auto certificate = Certify(context.tenant, subject, id);
  if (!certificate.ok()) return certificate.status();
  return Engine::ErasureOutcome{std::move(certificate).value(), *erased};
}

Result<bool> Erasure::Run(const CommandContext& context, const std::string& subject,
                          const std::string& id, const std::string& reason,
                          std::string erased_key) {
  std::lock_guard lock(mu_);
  const std::string stream = StreamOf(subject, id);
  const bool key_gone = !erased_key.empty();
  if (!key_gone && id.size() <= limits::kIdBytesMax) {
    auto key_id = keys_.KeyIdOf(context.tenant, stream);
    if (!key_id.ok()) return key_id.status();
    erased_key = *key_id;
  }
  Command command = subject == "contact" ? Command(EraseContact{id, reason, erased_key})
                                         : Command(EraseCustomer{id, reason, erased_key});
  auto outcome = commands_.Submit(context, std::move(command)).get();
  const bool already = !outcome.ok() && outcome.status().reason() == "already_erased";
  if (!outcome.ok() && !already) return outcome.status();
  if (already && key_gone) return true;  // nothing left to do
  // Also after `already`: a crash may have come between the commit and the key's end, or
  // before the purge finished.
  if (Status s = Shred(context.tenant, stream); !s.ok()) return s;
  if (Status s = Purge(/*pending_only=*/already); !s.ok()) return s;
  return already;
}

Status Erasure::Purge(bool pending_only) {
  if (pending_only) {
    auto pending = keys_.PurgePending();
    if (!pending.ok() || !*pending) return pending.status();
  }
  // The inline projections were rewritten in the erasures' own commits; the audit trail is
  // rewritten by its follower. Then no file may keep what they overwrote.
  (void)host_.AwaitFollowers(store_.GetHead().position, kFollowersWait);
  if (Status s = store_.PurgeOverwritten(); !s.ok()) return s;
  return keys_.PurgeDone();
}

Result<proofs::ErasureCertificate> Erasure::Certify(const std::string& tenant,
                                                    const std::string& subject,
                                                    const std::string& id) {
  proofs::ErasureCertificate c{tenant, subject, id};
  const std::string stream = StreamOf(subject, id);
  for (uint64_t version = 1;;) {
    auto events = store_.ReadStream(tenant, stream, version, limits::kReadBatchMax);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const Event& e : *events) {
      if (const std::string* key = ErasedKeyOf(e.body, &c.reason)) {
        c.key_id = *key;
        c.actor = e.actor;
        c.erased_at_us = e.recorded_at_us;
        c.position = e.position;
      } else if (!e.personal_box.empty() && c.position == 0) {
        c.unreadable_positions.push_back(e.position);
      }
    }
    version = events->back().stream_version + 1;
  }
  if (c.position == 0) {
    return Status(Code::kNotFound, subject + "_not_found",
                  "no erasure of " + subject + " '" + id + "'");
  }
  c.tree_size = c.position;
  auto root = store_.TreeRoot(c.tree_size);
  if (!root.ok()) return root.status();
  c.root = *root;
  if (Status s = transparency_.SignErasure(c); !s.ok()) return s;
  return c;
}

Status Erasure::DestroyFollowed(const std::string& tenant, const std::string& stream) {
  std::lock_guard lock(mu_);
  return Shred(tenant, stream);
}

// The requests' fingerprints go first: a destroyed key is what tells a re-run erasure that
// nothing is left to do.
Status Erasure::Shred(const std::string& tenant, const std::string& stream) {
  if (Status s = store_.ForgetRequestsOf(tenant, stream); !s.ok()) return s;
  auto destroyed = keys_.Destroy(tenant, stream, clock_->NowMicros());
  return destroyed.ok() ? Status::Ok() : destroyed.status();
}

Status Erasure::PurgeFollowed() {
  std::lock_guard lock(mu_);
  return Purge(/*pending_only=*/false);
}

Status Erasure::ReapplyTombstones() {
  auto tombstones = keys_.Tombstones();
  if (!tombstones.ok()) return tombstones.status();
  for (const auto& t : *tombstones) {
    const bool contact = t.stream.starts_with("contact-");
    const std::string subject = contact ? "contact" : "customer";
    const std::string id = t.stream.substr(contact ? 8 : 9);
    CommandContext context{t.tenant, Actor{"key-store", "owner"}, "erasure-" + t.key_id, {}, {}};
    auto erased = Run(
        context, subject, id,
        "re-applied at open: the data key was destroyed at " + base::Rfc3339Micros(t.erased_at_us),
        t.key_id);
    if (!erased.ok() && erased.status().code() != Code::kNotFound) return erased.status();
  }
  std::lock_guard lock(mu_);
  return Purge(/*pending_only=*/true);  // one a crash interrupted
}

}  // namespace cledger
