// audit: "e" · lp(tenant) · u64 position → AuditEntry
//        "i" · lp(tenant) · index kind · lp(id) · u64 position → "" (by stream, customer, actor)
//        "s" · …  the audit fold's own copy of the customer and contact views, kept by the
//                 halves of those projections' folds, so before → after is derived by the same
//                 fold.
#include <algorithm>
#include <cstdint>

#include "base/keys.h"
#include "base/text.h"
#include "base/time.h"
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

// One field of a record as its trail shows it. A fixed field's name is a literal; a link's
// is made from its customer's id (`link`), which the record it was read from holds, so
// nothing is copied for a name until it names a change.
struct Shown {
  std::string_view name;  // the field's name, or the link's customer id
  bool link = false;
  std::string value;

  bool SameField(const Shown& other) const { return link == other.link && name == other.name; }
  std::string Name() const {
    return link ? "customers[" + std::string(name) + "].roles" : std::string(name);
  }
};
// Valid while the record it was read from is.
using Flat = std::vector<Shown>;

std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

// As everywhere else a time is shown; absent: empty.
std::string Time(const std::optional<int64_t>& us) { return us ? base::Rfc3339Micros(*us) : ""; }

std::string Phone(const ContactFields& f, size_t i) {
  return i < f.phones.size() ? f.phones[i].type + ": " + f.phones[i].number : "";
}

Flat Flatten(const ContactView& v) {
  const ContactFields& f = v.fields;
  const Communication& c = f.communication;
  const bool none = v.id.empty();
  Flat out;
  out.reserve(27 + v.customers.size());  // the fields below, then the links
  auto add = [&](std::string_view name, std::string value) {
    out.push_back({name, false, std::move(value)});
  };
  add("status", none ? "" : v.deleted ? "deleted" : "active");
  add("kind", none ? "" : v.shared ? "shared" : "direct");
  add("contact_type", f.contact_type);
  add("title", f.title);
  add("first_name", f.first_name);
  add("last_name", f.last_name);
  add("company_name", f.company_name);
  add("position", f.position);
  add("department", f.department);
  add("email", f.email);
  static constexpr std::string_view kPhones[] = {"phones[0]", "phones[1]", "phones[2]",
                                                 "phones[3]"};
  for (size_t i = 0; i < std::size(kPhones); ++i) add(kPhones[i], Phone(f, i));
  add("address.lines", Join(f.address.lines));
  add("address.postcode", f.address.postcode);
  add("address.country", f.address.country);
  add("website", f.website);
  add("dealer_code", f.dealer_code);
  add("portal_enabled", none ? "" : f.portal_enabled ? "true" : "false");
  add("communication.regarding", Join(c.regarding));
  add("communication.email_bill", none ? "" : c.email_bill);
  add("communication.usage_report_profile", c.usage_report_profile);
  add("communication.copy_correspondence", Join(c.copy_correspondence));
  add("communication.copy_ticket_updates", Join(c.copy_ticket_updates));
  add("password_must_change", v.has_password ? (v.password_must_change ? "true" : "false") : "");
  add("deleted", Time(v.system.deleted_us));
  for (const Link& link : v.customers) {
    out.push_back({link.customer_id, true, link.roles.empty() ? "(none)" : Join(link.roles)});
  }
  return out;
}

Flat Flatten(const CustomerView& v) {
  Flat out;
  out.reserve(5);
  out.push_back({"status", false, v.id.empty() ? "" : v.deleted ? "deleted" : "active"});
  out.push_back({"name", false, v.name});
  out.push_back({"email", false, v.email});
  out.push_back({"bill_format", false, v.bill_format});
  out.push_back({"deleted", false, Time(v.system.deleted_us)});
  return out;
}

// Whether a field of the trail holds personal data (the fields events.h lists, flattened).
bool IsPersonalField(std::string_view field) {
  static constexpr std::string_view kPersonal[] = {"title",
                                                   "first_name",
                                                   "last_name",
                                                   "company_name",
                                                   "position",
                                                   "department",
                                                   "email",
                                                   "website",
                                                   "name",
                                                   "address.lines",
                                                   "address.postcode",
                                                   "address.country",
                                                   "communication.copy_correspondence",
                                                   "communication.copy_ticket_updates"};
  if (field.starts_with("phones[")) return true;
  return std::find(std::begin(kPersonal), std::end(kPersonal), field) != std::end(kPersonal);
}

template <typename Body>
constexpr bool kIsErasure =
    std::is_same_v<Body, ContactErased> || std::is_same_v<Body, CustomerErased>;

const Shown* Lookup(const Flat& flat, const Shown& field) {
  for (const Shown& f : flat) {
    if (f.SameField(field)) return &f;
  }
  return nullptr;
}

// `flat`'s `field`, looked for first at `index`: two flattenings of one kind of record list
// the same fields in the same order up to their links.
const Shown* Lookup(const Flat& flat, size_t index, const Shown& field) {
  return index < flat.size() && flat[index].SameField(field) ? &flat[index] : Lookup(flat, field);
}

// Each field whose value differs, in `after`'s order, then the fields that disappeared.
std::vector<FieldChange> Diff(const Flat& before, const Flat& after) {
  std::vector<FieldChange> out;
  for (size_t i = 0; i < after.size(); ++i) {
    const Shown* old = Lookup(before, i, after[i]);
    const std::string_view was = old ? std::string_view(old->value) : "";
    if (was != after[i].value) out.push_back({after[i].Name(), std::string(was), after[i].value});
  }
  for (size_t i = 0; i < before.size(); ++i) {
    if (!before[i].value.empty() && !Lookup(after, i, before[i])) {
      out.push_back({before[i].Name(), before[i].value, ""});
    }
  }
  return out;
}

std::string IndexPrefix(std::string_view tenant, char kind, std::string_view id) {
  std::string key = "i" + TenantKey(tenant, std::string(1, kind));
  base::AppendComponent(key, id);
  return key;
}

std::string IndexKey(std::string_view tenant, char kind, std::string_view id, uint64_t position) {
  return IndexPrefix(tenant, kind, id) + base::U64Key(position);
}

char IndexChar(AuditIndex index) {
  switch (index) {
    case AuditIndex::kStream:
      return 's';
    case AuditIndex::kCustomer:
      return 'c';
    case AuditIndex::kActor:
      return 'a';
  }
  return '?';
}

// The customer an event concerns, beyond its own stream.
std::string CustomerOf(const EventBody& body) {
  return std::visit(
      [](const auto& b) -> std::string {
        if constexpr (requires { b.customer_id; }) {
          return b.customer_id;
        } else {
          return "";
        }
      },
      body);
}

class Audit final : public Projection {
 public:
  std::string_view name() const override { return "audit"; }
  bool Inline() const override { return false; }  // no rule reads it
  // 2: its copies keep checkpoints; 3: every 128 events
  uint32_t FoldVersion() const override { return 3; }
  Status Apply(Kv& kv, const Event& event) const override {
    PrefixedKv copy(kv, "s");
    AuditEntry entry{event.position,
                     event.recorded_at_us,
                     event.actor,
                     event.stream,
                     std::string(EventTypeName(event.body)),
                     {}};
    Status changed = std::visit(
        [&](const auto& body) { return Changes(copy, event, body, entry.changes); }, event.body);
    if (!changed.ok()) return changed;
    if (std::visit([](const auto& body) { return kIsErasure<std::decay_t<decltype(body)>>; },
                   event.body)) {
      if (Status s = EraseTrail(kv, event.tenant, event.stream); !s.ok()) return s;
    }
    kv.Put("e" + TenantKey(event.tenant, base::U64Key(event.position)), Encode(entry));
    kv.Put(IndexKey(event.tenant, 's', event.stream, event.position), "");
    kv.Put(IndexKey(event.tenant, 'a', event.actor.id, event.position), "");
    if (const std::string customer = CustomerOf(event.body); !customer.empty()) {
      kv.Put(IndexKey(event.tenant, 'c', customer, event.position), "");
    }
    return Status::Ok();
  }

 private:
  // Each field that changed; for an erasure, what happened, not the fields it blanked.
  template <typename Body, typename View>
  static std::vector<FieldChange> RecordChanges(const Body& body, const View& before,
                                                const View& after) {
    if constexpr (kIsErasure<Body>) {
      return {{"personal_data", "", base::kErased}, {"reason", "", body.reason}};
    } else {
      return Diff(Flatten(before), Flatten(after));
    }
  }

  // The stream's earlier entries lose every change of a personal field: what a fold of its
  // events, their fields now unreadable, derives (`verify` holds the two equal). The entries
  // stay: who did what, when.
  static Status EraseTrail(Kv& kv, std::string_view tenant, std::string_view stream) {
    const std::string prefix = IndexPrefix(tenant, 's', stream);
    std::vector<std::string> keys;
    Status scanned = kv.Scan(prefix, [&](std::string_view key, std::string_view) {
      keys.push_back("e" + TenantKey(tenant, key.substr(prefix.size())));
      return true;
    });
    if (!scanned.ok()) return scanned;
    for (const std::string& key : keys) {
      auto entry = Load<AuditEntry>(kv, key);
      if (!entry.ok()) return entry.status();
      if (!*entry) continue;
      const size_t erased = std::erase_if(
          (*entry)->changes, [](const FieldChange& c) { return IsPersonalField(c.field); });
      if (erased != 0) kv.Put(key, Encode(**entry));
    }
    return Status::Ok();
  }

  // A record's event is folded into the audit's copy as the record's own projection folds it;
  // the change is what differs between the record before and after.
  template <typename Body>
  static Status Changes(Kv& copy, const Event& event, const Body& body,
                        std::vector<FieldChange>& changes) {
    if constexpr (requires { body.contact_id; }) {
      ContactView before, after;
      if (Status s = FoldStoredRecord(copy, event, body.contact_id, after, &before); !s.ok()) {
        return s;
      }
      changes = RecordChanges(body, before, after);
      if constexpr (std::is_same_v<Body, ContactPasswordReset>) {
        changes.push_back(
            {"password", before.has_password ? base::kRedacted : "", base::kRedacted});
      }
    } else if constexpr (requires { body.customer_id; }) {
      CustomerView before, after;
      if (Status s = FoldStoredRecord(copy, event, body.customer_id, after, &before); !s.ok()) {
        return s;
      }
      changes = RecordChanges(body, before, after);
    } else if constexpr (std::is_same_v<Body, TenantCreated>) {
      changes = {{"name", "", body.name}, {"plan", "", body.plan}};
    } else if constexpr (std::is_same_v<Body, TokenIssued>) {
      changes = {{"token", "", base::kRedacted},
                 {"actor", "", body.actor.id},
                 {"role", "", body.actor.role}};
      if (body.expires_at_us != 0) {
        changes.push_back({"expires_at", "", base::Rfc3339Micros(body.expires_at_us)});
      }
    } else {
      changes = {{"token", base::kRedacted, ""}};
    }
    return Status::Ok();
  }
};

const Audit kAuditImpl;

// A link's field names its customer: customers[<id>].roles.
bool IsLinkField(std::string_view field) {
  if (field == "customers") return true;
  constexpr std::string_view kOpen = "customers[";
  if (!field.starts_with(kOpen)) return false;
  const size_t close = field.find(']');
  if (close == std::string_view::npos || close == kOpen.size()) return false;
  const std::string_view rest = field.substr(close + 1);
  return rest.empty() || rest == ".roles";
}

// Every other field a trail records: the records' flattened fields, and those Changes names
// itself (tenants, tokens, password resets, erasures).
const std::vector<std::string>& FixedFieldNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"password", "personal_data", "reason", "plan",
                                    "token",    "actor",         "role",   "expires_at"};
    // Records without links: every name is a literal.
    for (const Flat& flat : {Flatten(ContactView{}), Flatten(CustomerView{})}) {
      for (const Shown& field : flat) out.push_back(field.Name());
    }
    return out;
  }();
  return names;
}

}  // namespace

const Projection& kAudit = kAuditImpl;

bool AuditFieldCovers(std::string_view field, std::string_view change) {
  return change.starts_with(field) && (change.size() == field.size() ||
                                       change[field.size()] == '.' || change[field.size()] == '[');
}

bool IsAuditedField(std::string_view field) {
  if (IsLinkField(field)) return true;
  const auto& names = FixedFieldNames();
  return !field.empty() && std::any_of(names.begin(), names.end(), [&](const std::string& name) {
    return AuditFieldCovers(field, name);
  });
}

Result<std::vector<AuditEntry>> TenantAuditLog(Kv& kv, std::string_view tenant) {
  std::vector<AuditEntry> out;
  bool decoded = true;
  Status scanned = kv.Scan("e" + TenantKey(tenant), [&](std::string_view, std::string_view value) {
    auto entry = Decode<AuditEntry>(value);
    decoded = entry.has_value();
    if (decoded) out.push_back(std::move(*entry));
    return decoded;
  });
  if (!scanned.ok()) return scanned;
  if (!decoded) return Status::Corruption("corrupt_state", "an audit entry does not decode");
  return out;
}

Result<std::vector<AuditEntry>> AuditTrail(Kv& kv, std::string_view tenant, AuditIndex index,
                                           std::string_view id, uint64_t to_position) {
  std::vector<AuditEntry> out;
  const std::string prefix = IndexPrefix(tenant, IndexChar(index), id);
  Status failed;
  Status scanned = kv.Scan(prefix, [&](std::string_view key, std::string_view) {
    const uint64_t position = base::DecodeU64(key.substr(prefix.size()));
    if (position > to_position) return false;
    auto entry = Load<AuditEntry>(kv, "e" + TenantKey(tenant, base::U64Key(position)));
    if (!entry.ok()) {
      failed = entry.status();
      return false;
    }
    if (*entry) out.push_back(std::move(**entry));
    return true;
  });
  if (!scanned.ok()) return scanned;
  if (!failed.ok()) return failed;
  return out;
}

}  // namespace cledger::projections
