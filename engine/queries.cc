#include "engine/queries.h"

#include <algorithm>
#include <cctype>

#include "base/time.h"
#include "engine/domain/profile_contact.h"
#include "engine/domain/roles.h"
#include "engine/domain/rules.h"
#include "events/hash.h"
#include "projections/views.h"

namespace cledger {
namespace {

namespace pj = projections;

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Whether one of `values` holds `text`, ignoring ASCII case; "" is held by everything.
bool AnyHolds(std::string_view text, std::initializer_list<std::string_view> values) {
  for (std::string_view value : values) {
    auto found = std::search(value.begin(), value.end(), text.begin(), text.end(),
                             [](char a, char b) { return Lower(a) == Lower(b); });
    if (found != value.end() || text.empty()) return true;
  }
  return false;
}

}  // namespace

bool TokenMemory::Current(uint64_t revocations) {
  if (revocations > revocations_) {
    principals_.clear();
    revocations_ = revocations;
  }
  return revocations == revocations_;
}

std::optional<Principal> TokenMemory::Find(const std::string& digest, uint64_t revocations) {
  std::lock_guard lock(mu_);
  if (!Current(revocations)) return std::nullopt;
  auto it = principals_.find(digest);
  if (it == principals_.end()) return std::nullopt;
  return it->second;
}

void TokenMemory::Keep(const std::string& digest, const Principal& principal,
                       uint64_t revocations) {
  constexpr size_t kTokensMax = 4096;  // past it, start over
  std::lock_guard lock(mu_);
  if (!Current(revocations)) return;  // a revocation was counted since the lookup began
  if (principals_.size() >= kTokensMax) principals_.clear();
  principals_.insert_or_assign(digest, principal);
}

// A token is recorded under its keyed digest; one issued before digests were keyed, under its
// SHA-256 (FORMAT.md, "Secrets").
Result<Principal> Queries::Authenticate(const std::string& token) {
  const uint64_t revocations = store_.TokenRevocations();  // before the lookup: TokenMemory
  const std::string digest = domain::PrimaryTokenDigest(keys_, token);
  if (auto known = tokens_.Find(digest, revocations)) return Unexpired(*known);
  auto found = LookUpToken(domain::TokenDigests(keys_, token));
  if (!found.ok()) return found.status();
  if (!*found) return Status(Code::kUnauthenticated, "unauthenticated", "unknown or revoked token");
  tokens_.Keep(digest, **found, revocations);
  return Unexpired(std::move(**found));
}

Result<std::optional<Principal>> Queries::LookUpToken(const std::vector<std::string>& digests) {
  Snapshot snap(store_, host_, /*consistent=*/false);
  pj::Kv& tokens = snap.Kv(pj::kTenants);
  for (const std::string& digest : digests) {
    auto principal = pj::GetTokenPrincipal(tokens, digest);
    if (!principal.ok()) return principal.status();
    if (!*principal) continue;
    auto expiry = pj::GetTokenExpiry(tokens, digest);
    if (!expiry.ok()) return expiry.status();
    (*principal)->expires_at_us = *expiry;
    return principal;
  }
  return std::optional<Principal>();
}

Result<Principal> Queries::Unexpired(Principal principal) {
  if (principal.expires_at_us && clock_->NowMicros() >= *principal.expires_at_us) {
    return Status(Code::kUnauthenticated, "token_expired",
                  "the token expired at " + base::Rfc3339Micros(*principal.expires_at_us));
  }
  return principal;
}

Result<std::vector<TokenInfo>> Queries::ListTokens(const Principal& who,
                                                   const std::optional<std::string>& tenant) {
  if (Status s = domain::Authorize(who, domain::Action::kAdminister); !s.ok()) return s;
  std::vector<std::pair<std::string, Principal>> found;
  Snapshot snap(store_, host_);
  Status scanned =
      pj::ScanTokens(snap.Kv(pj::kTenants), [&](std::string_view digest, const Principal& p) {
        if (!tenant || p.tenant == *tenant) found.emplace_back(digest, p);
        return true;
      });
  if (!scanned.ok()) return scanned;
  std::vector<TokenInfo> tokens;
  for (const auto& [digest, principal] : found) {
    auto info = DescribeToken(snap.Kv(pj::kTenants), digest, principal);
    if (!info.ok()) return info.status();
    tokens.push_back(std::move(info).value());
  }
  return tokens;
}

// Until when a token holds (the projection's record), and when it was issued: its stream's
// first event.
Result<TokenInfo> Queries::DescribeToken(pj::Kv& tokens, const std::string& digest,
                                         const Principal& principal) {
  auto expiry = pj::GetTokenExpiry(tokens, digest);
  if (!expiry.ok()) return expiry.status();
  TokenInfo info{digest, principal, 0, *expiry};
  auto stream = pj::GetTokenStream(tokens, digest);
  if (!stream.ok()) return stream.status();
  auto issued = store_.ReadStream(principal.tenant, *stream, 1, 1);
  if (!issued.ok()) return issued.status();
  if (!issued->empty()) info.issued_at_us = issued->front().recorded_at_us;
  return info;
}

Result<ContactView> Queries::GetContact(const Principal& who, const std::string& id,
                                        const AsOf& as_of) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  if (auto customer_id = domain::ProfileCustomerId(id)) {
    auto customer = GetCustomer(who, std::string(*customer_id), as_of);
    if (!customer.ok()) return Status(Code::kNotFound, "contact_not_found", "no such contact");
    return domain::ProfileContact(*customer);
  }
  auto view = travel_.Read(pj::kContacts, who.tenant, domain::ContactStream(id), as_of,
                           [&](pj::Kv& kv) { return pj::GetContact(kv, who.tenant, id); });
  if (!view.ok()) return view.status();
  if (!*view) return domain::RecordNotFound("contact", id);
  return **view;
}

Result<CustomerView> Queries::GetCustomer(const Principal& who, const std::string& id,
                                          const AsOf& as_of) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  auto view = travel_.Read(pj::kCustomers, who.tenant, domain::CustomerStream(id), as_of,
                           [&](pj::Kv& kv) { return pj::GetCustomer(kv, who.tenant, id); });
  if (!view.ok()) return view.status();
  if (!*view) return domain::RecordNotFound("customer", id);
  return **view;
}

Result<std::vector<ContactView>> Queries::ListContacts(const Principal& who,
                                                       const std::string& customer_id,
                                                       ContactStatus status) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  Snapshot snap(store_, host_);
  auto customer = pj::GetCustomer(snap.Kv(pj::kCustomers), who.tenant, customer_id);
  if (!customer.ok()) return customer.status();
  if (!*customer) return Status::NotFound("customer_not_found", "no such customer");
  auto linked = Linked(snap, who.tenant, customer_id);
  if (!linked.ok()) return linked.status();
  std::vector<ContactView> contacts;
  for (domain::LinkedContact& l : *linked) contacts.push_back(std::move(l.contact));
  return domain::ContactList(**customer, std::move(contacts), status);
}

Result<std::vector<CustomerView>> Queries::FindCustomers(const Principal& who,
                                                         const std::string& text) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  Snapshot snap(store_, host_);
  return pj::FindCustomers(snap.Kv(pj::kCustomers), who.tenant, [&](const CustomerView& c) {
    return AnyHolds(text, {c.id, c.name, c.email});
  });
}

Result<std::vector<ContactView>> Queries::FindContacts(const Principal& who,
                                                       const std::string& text,
                                                       ContactStatus status) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  Snapshot snap(store_, host_);
  return pj::FindContacts(snap.Kv(pj::kContacts), who.tenant, [&](const ContactView& c) {
    const ContactFields& f = c.fields;
    const bool wanted_status =
        status == ContactStatus::kAll || c.deleted == (status == ContactStatus::kInactive);
    return wanted_status &&
           AnyHolds(text, {c.id, f.first_name + " " + f.last_name, f.company_name, f.email});
  });
}

Result<std::vector<TenantView>> Queries::Tenants(const Principal& who) {
  if (Status s = domain::Authorize(who, domain::Action::kAdminister); !s.ok()) return s;
  Snapshot snap(store_, host_);
  return pj::AllTenants(snap.Kv(pj::kTenants));
}

Result<std::vector<Recipient>> Queries::Recipients(const Principal& who,
                                                   const std::string& customer_id,
                                                   const std::string& kind) {
  if (Status s = domain::Authorize(who, domain::Action::kReadRecords); !s.ok()) return s;
  auto parsed = domain::ParseRecipientKind(kind);
  if (!parsed.ok()) return parsed.status();
  Snapshot snap(store_, host_);
  auto customer = pj::GetCustomer(snap.Kv(pj::kCustomers), who.tenant, customer_id);
  if (!customer.ok()) return customer.status();
  if (!*customer || (*customer)->deleted) {
    return domain::RecordNotFound("customer", customer_id);
  }
  auto linked = Linked(snap, who.tenant, customer_id);
  if (!linked.ok()) return linked.status();
  return domain::Recipients(**customer, *linked, *parsed);
}

Result<std::vector<domain::LinkedContact>> Queries::Linked(Snapshot& snap,
                                                           const std::string& tenant,
                                                           const std::string& customer_id) {
  auto links = pj::LinksOf(snap.Kv(pj::kLinks), tenant, customer_id);
  if (!links.ok()) return links.status();
  std::vector<domain::LinkedContact> linked;
  for (auto& link : *links) {
    auto contact = pj::GetContact(snap.Kv(pj::kContacts), tenant, link.contact_id);
    if (!contact.ok()) return contact.status();
    if (*contact) linked.push_back({std::move(**contact), std::move(link.roles)});
  }
  return linked;
}

}  // namespace cledger
