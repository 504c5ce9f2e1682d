// The projections and the queries each answers. Queries read only their projection's keyspace;
// a query answers nullopt (or an empty list) when there is nothing, and a Status only when
// the keyspace could not be read.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cledger/views.h"
#include "projections/projection.h"
#include "projections/record.h"

namespace cledger::projections {

// tenants: tenant names and plans, and API tokens by the hash of the token.
extern const Projection& kTenants;
Result<std::optional<TenantView>> GetTenant(Kv& kv, std::string_view name);
// Every tenant, by name.
Result<std::vector<TenantView>> AllTenants(Kv& kv);
Result<std::optional<Principal>> GetTokenPrincipal(Kv& kv, std::string_view token_hash);
// The stream a token's issue and revocation are recorded in.
Result<std::string> GetTokenStream(Kv& kv, std::string_view token_hash);
// When the token expires (UTC microseconds); nullopt: never.
Result<std::optional<int64_t>> GetTokenExpiry(Kv& kv, std::string_view token_hash);
// Every token not revoked, by digest, until `fn` answers false.
Status ScanTokens(Kv& kv, const std::function<bool(std::string_view, const Principal&)>& fn);

// customers: the customer view, by (tenant, customer id).
extern const Projection& kCustomers;
Result<std::optional<CustomerView>> GetCustomer(Kv& kv, std::string_view tenant,
                                                std::string_view id);
// The tenant's customers, by id, that `wanted` keeps.
Result<std::vector<CustomerView>> FindCustomers(
    Kv& kv, std::string_view tenant, const std::function<bool(const CustomerView&)>& wanted);

// contacts: the contact view with its links and System Information, by (tenant, contact id).
extern const Projection& kContacts;
Result<std::optional<ContactView>> GetContact(Kv& kv, std::string_view tenant, std::string_view id);
// The tenant's contacts, by id, that `wanted` keeps.
Result<std::vector<ContactView>> FindContacts(
    Kv& kv, std::string_view tenant, const std::function<bool(const ContactView&)>& wanted);

// The two halves of the contacts and customers folds, for a fold that keeps its own copy of
// those records (audit) and must derive them as their projections do: what `event` makes of
// the record (`view`: as it stood, or empty), and keeping the result. REQUIRES: `event` is
// one of the record's own (its contact_id, or a customer's own customer_id).
void FoldRecord(ContactView& view, const Event& event);
void FoldRecord(CustomerView& view, const Event& event);
Status SaveRecord(Kv& kv, const Event& event, const ContactView& view);
Status SaveRecord(Kv& kv, const Event& event, const CustomerView& view);

// Folds `event` into the stored record `id` (empty when absent) and keeps the result, `after`;
// `before`, when asked for, receives the record as it stood.
template <typename View>
Status FoldStoredRecord(Kv& kv, const Event& event, const std::string& id, View& after,
                        View* before = nullptr) {
  auto stored = Load<View>(kv, TenantKey(event.tenant, id));
  if (!stored.ok()) return stored.status();
  after = std::move(*stored).value_or(View{});
  if (before != nullptr) *before = after;
  FoldRecord(after, event);
  return SaveRecord(kv, event, after);
}

// links: customer → its linked contacts and the roles of each link.
extern const Projection& kLinks;
struct LinkedContact {
  std::string contact_id;
  std::vector<std::string> roles;
};
Result<std::vector<LinkedContact>> LinksOf(Kv& kv, std::string_view tenant,
                                           std::string_view customer);
// How many links the customer has: LinksOf's size, read without them.
Result<uint64_t> LinkCount(Kv& kv, std::string_view tenant, std::string_view customer);

// emails: normalised email → the non-deleted contact holding it.
extern const Projection& kEmails;
Result<std::optional<std::string>> ContactWithEmail(Kv& kv, std::string_view tenant,
                                                    std::string_view email);

// audit: one entry per event with each field's before → after, secrets redacted; indexed by
// record stream, by customer and by actor.
extern const Projection& kAudit;
enum class AuditIndex { kStream, kCustomer, kActor };
// Every entry of the tenant, in position order.
Result<std::vector<AuditEntry>> TenantAuditLog(Kv& kv, std::string_view tenant);
Result<std::vector<AuditEntry>> AuditTrail(Kv& kv, std::string_view tenant, AuditIndex index,
                                           std::string_view id, uint64_t to_position = UINT64_MAX);
// A filter on `field` keeps a change of `change`: it names it or a part of it ("address"
// covers "address.lines", "phones" covers "phones[0]").
bool AuditFieldCovers(std::string_view field, std::string_view change);
// The names a filter on a field may give (their parts aside): what a misspelt one is matched
// against.
const std::vector<std::string>& AuditedFieldNames();
// Whether `field` covers any field a trail can record.
bool IsAuditedField(std::string_view field);

}  // namespace cledger::projections
