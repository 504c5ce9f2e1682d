#include "engine/history.h"

#include "base/hex.h"
#include "engine/domain/profile_contact.h"
#include "engine/domain/roles.h"
#include "engine/domain/rules.h"
#include "engine/snapshot.h"
#include "engine/time_travel.h"
#include "projections/views.h"

namespace cledger {
namespace {

namespace pj = projections;

// Keeps the entries recorded within [from_us, to_us].
Result<std::vector<AuditEntry>> Within(Result<std::vector<AuditEntry>> entries, int64_t from_us,
                                       int64_t to_us) {
  if (!entries.ok()) return entries;
  std::erase_if(*entries, [&](const AuditEntry& e) {
    return e.recorded_at_us < from_us || e.recorded_at_us > to_us;
  });
  return entries;
}

}  // namespace

// Adds each entry's event hash and correlation id, read from the log.
Result<std::vector<AuditEntry>> History::WithEventIds(Result<std::vector<AuditEntry>> entries) {
  if (!entries.ok()) return entries;
  for (AuditEntry& entry : *entries) {
    auto raw = store_.ReadRaw(entry.position);
    if (!raw.ok()) return raw.status();
    auto event = DecodeEvent(*raw);
    if (!event.ok()) return event.status();
    entry.event_hash = base::Hex(event->hash);
    entry.correlation_id = event->correlation_id;
  }
  return entries;
}

// An id the tenant never had answers 404, as every other route does; a record that exists
// but had no change in the window answers an empty trail.
Result<std::vector<AuditEntry>> History::ContactHistory(const Principal& who, const std::string& id,
                                                        const AsOf& as_of) {
  auto trail = WithEventIds(Trail(who, pj::AuditIndex::kStream, domain::ContactStream(id), as_of));
  if (!trail.ok() || !trail->empty() || domain::ProfileCustomerId(id)) return trail;
  Snapshot snap(store_, host_);
  auto contact = pj::GetContact(snap.Kv(pj::kContacts), who.tenant, id);
  if (!contact.ok()) return contact.status();
  if (!*contact) return domain::RecordNotFound("contact", id);
  return trail;
}

Result<std::vector<AuditEntry>> History::CustomerHistory(const Principal& who,
                                                         const std::string& id, const AsOf& as_of) {
  auto trail = WithEventIds(Trail(who, pj::AuditIndex::kCustomer, id, as_of));
  if (!trail.ok() || !trail->empty()) return trail;
  Snapshot snap(store_, host_);
  auto customer = pj::GetCustomer(snap.Kv(pj::kCustomers), who.tenant, id);
  if (!customer.ok()) return customer.status();
  if (!*customer) return domain::RecordNotFound("customer", id);
  return trail;
}

Result<std::vector<AuditEntry>> History::ActorHistory(const Principal& who,
                                                      const std::string& actor_id, int64_t from_us,
                                                      int64_t to_us) {
  return WithEventIds(Within(Trail(who, pj::AuditIndex::kActor, actor_id, {}), from_us, to_us));
}

Result<std::vector<AuditEntry>> History::TenantAudit(const Principal& who, int64_t from_us,
                                                     int64_t to_us) {
  if (Status s = domain::Authorize(who, domain::Action::kReadHistory); !s.ok()) return s;
  if (Status s = AwaitAudit(); !s.ok()) return s;
  Snapshot snap(store_, host_);
  return WithEventIds(Within(pj::TenantAuditLog(snap.Kv(pj::kAudit), who.tenant), from_us, to_us));
}

Result<std::vector<AuditEntry>> History::Trail(const Principal& who, pj::AuditIndex index,
                                               const std::string& id, const AsOf& as_of) {
  if (Status s = domain::Authorize(who, domain::Action::kReadHistory); !s.ok()) return s;
  if (Status s = AwaitAudit(); !s.ok()) return s;
  uint64_t to = UINT64_MAX;
  if (TimeTravel::InThePast(as_of)) {
    auto position = PositionAt(store_, as_of);
    if (!position.ok()) return position.status();
    to = *position;
  }
  Snapshot snap(store_, host_);
  return pj::AuditTrail(snap.Kv(pj::kAudit), who.tenant, index, id, to);
}

Status History::AwaitAudit() {
  return host_.AwaitFollowers(store_.GetHead().position, std::chrono::seconds(5));
}

}  // namespace cledger
