// audit: "e" · lp(tenant) · u64 position → AuditEntry
//        "i" · lp(tenant) · index kind · lp(id) · u64 position → "" (by stream, customer, actor)
//        "s" · …  the audit fold's own copy of the customer and contact views, kept by the
//                 halves of those projections' folds, so before → after is derived by the same
//                 fold.
#include <algorithm>
#include <cstdint>
#include <deque>

#include "base/keys.h"
#include "base/text.h"
#include "base/time.h"
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

// One field of a record as its trail shows it. A fixed field's name is a literal; a link's
// is made from its customer's id (`link`), which the record it was read from holds, so
// nothing is copied for a name until it names a change. Its value is the record's own text,
// a literal, or a text its Flat composed (a phone, a list, a time): nothing is copied either.
struct Shown {
  std::string_view name;  // the field's name, or the link's customer id
  bool link = false;
  std::string_view value;

  bool SameField(const Shown& other) const { return link == other.link && name == other.name; }
  std::string Name() const {
    return link ? "customers[" + std::string(name) + "].roles" : std::string(name);
  }
};

// A record's fields as its trail shows them, in a fixed order, then its links. Valid while the
// record it was read from is; not copied (its fields point into its own composed texts).
class Flat {
 public:
  Flat() = default;
  Flat(const Flat&) = delete;
  Flat(Flat&&) = default;  // a deque's elements stay where they are

  void Add(std::string_view name, std::string_view value, bool link = false) {
    fields_.push_back({name, link, value});
  }
  void Add(std::string_view name, const char* literal, bool link = false) {
    Add(name, std::string_view(literal), link);
  }
  void Add(std::string_view name, const std::string& value, bool link = false) {
    Add(name, std::string_view(value), link);
  }
  // A value made on the spot would be gone before it is read: AddComposed keeps it.
  void Add(std::string_view name, const std::string&& value, bool link = false) = delete;
  // A value made for the trail; an empty one is kept as the literal "".
  void AddComposed(std::string_view name, std::string value, bool link = false) {
    if (value.empty()) return Add(name, "", link);
    composed_.push_back(std::move(value));
    Add(name, composed_.back(), link);
  }
  const std::vector<Shown>& fields() const { return fields_; }

 private:
  std::vector<Shown> fields_;
  std::deque<std::string> composed_;  // never moved once added: fields_ point into them
};

// A list's items joined by ", ". An item that holds a comma or a quote, or is empty, is
// quoted (its quotes doubled, as in CSV), so two different lists never show the same text:
// ["a, b", "c"] is `"a, b", c` and ["a", "b, c"] is `a, "b, c"`.
std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    const std::string& v = values[i];
    if (!v.empty() && v.find_first_of(",\"") == std::string::npos) {
      out += v;
      continue;
    }
    out += '"';
    for (char ch : v) out.append(ch == '"' ? 2 : 1, ch);
    out += '"';
  }
  return out;
}

// As everywhere else a time is shown; absent: empty.
std::string Time(const std::optional<int64_t>& us) { return us ? base::Rfc3339Micros(*us) : ""; }

std::string Phone(const ContactFields& f, size_t i) {
  return i < f.phones.size() ? f.phones[i].type + ": " + f.phones[i].number : "";
}

// A record made on the spot would be gone before its Flat is read.
Flat Flatten(ContactView&&) = delete;
Flat Flatten(CustomerView&&) = delete;

Flat Flatten(const ContactView& v) {
  const ContactFields& f = v.fields;
  const Communication& c = f.communication;
  const bool none = v.id.empty();
  Flat out;
  out.Add("status", none ? "" : v.deleted ? "deleted" : "active");
  out.Add("kind", none ? "" : v.shared ? "shared" : "direct");
  out.Add("contact_type", f.contact_type);
  out.Add("title", f.title);
  out.Add("first_name", f.first_name);
  out.Add("last_name", f.last_name);
  out.Add("company_name", f.company_name);
  out.Add("position", f.position);
  out.Add("department", f.department);
  out.Add("email", f.email);
  static constexpr std::string_view kPhones[] = {"phones[0]", "phones[1]", "phones[2]",
                                                 "phones[3]"};
  for (size_t i = 0; i < std::size(kPhones); ++i) out.AddComposed(kPhones[i], Phone(f, i));
  out.AddComposed("address.lines", Join(f.address.lines));
  out.Add("address.postcode", f.address.postcode);
  out.Add("address.country", f.address.country);
  out.Add("website", f.website);
  out.Add("dealer_code", f.dealer_code);
  out.Add("portal_enabled", none ? "" : f.portal_enabled ? "true" : "false");
  out.AddComposed("communication.regarding", Join(c.regarding));
  out.Add("communication.email_bill", none ? "" : std::string_view(c.email_bill));
  out.Add("communication.usage_report_profile", c.usage_report_profile);
  out.AddComposed("communication.copy_correspondence", Join(c.copy_correspondence));
  out.AddComposed("communication.copy_ticket_updates", Join(c.copy_ticket_updates));
  out.Add("password_must_change",
          v.has_password ? (v.password_must_change ? "true" : "false") : "");
  out.AddComposed("deleted", Time(v.system.deleted_us));
  for (const Link& link : v.customers) {
    if (link.roles.empty()) {
      out.Add(link.customer_id, "(none)", /*link=*/true);
    } else {
      out.AddComposed(link.customer_id, Join(link.roles), /*link=*/true);
    }
  }
  return out;
}

Flat Flatten(const CustomerView& v) {
  Flat out;
  out.Add("status", v.id.empty() ? "" : v.deleted ? "deleted" : "active");
  out.Add("name", v.name);
  out.Add("email", v.email);
  out.Add("bill_format", v.bill_format);
  out.AddComposed("deleted", Time(v.system.deleted_us));
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

const Shown* Lookup(const std::vector<Shown>& flat, const Shown& field) {
  for (const Shown& f : flat) {
    if (f.SameField(field)) return &f;
  }
  return nullptr;
}

// `flat`'s `field`, looked for first at `index`: two flattenings of one kind of record list
// the same fields in the same order up to their links.
const Shown* Lookup(const std::vector<Shown>& flat, size_t index, const Shown& field) {
  return index < flat.size() && flat[index].SameField(field) ? &flat[index] : Lookup(flat, field);
}

// Each field whose value differs, in `after`'s order, then the fields that disappeared.
std::vector<FieldChange> Diff(const Flat& before_flat, const Flat& after_flat) {
  const std::vector<Shown>& before = before_flat.fields();
  const std::vector<Shown>& after = after_flat.fields();
  std::vector<FieldChange> out;
  for (size_t i = 0; i < after.size(); ++i) {
    const Shown* old = Lookup(before, i, after[i]);
    const std::string_view was = old ? old->value : "";
    if (was != after[i].value) {
      out.push_back({after[i].Name(), std::string(was), std::string(after[i].value)});
    }
  }
  for (size_t i = 0; i < before.size(); ++i) {
    if (!before[i].value.empty() && !Lookup(after, i, before[i])) {
      out.push_back({before[i].Name(), std::string(before[i].value), ""});
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
  // 2: its copies keep checkpoints; 3: every 128 events; 4: list items with a comma quoted
  uint32_t FoldVersion() const override { return 4; }
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
    // Every key below is made from the event's position: new.
    kv.PutNew("e" + TenantKey(event.tenant, base::U64Key(event.position)), Encode(entry));
    kv.PutNew(IndexKey(event.tenant, 's', event.stream, event.position), "");
    kv.PutNew(IndexKey(event.tenant, 'a', event.actor.id, event.position), "");
    if (const std::string customer = CustomerOf(event.body); !customer.empty()) {
      kv.PutNew(IndexKey(event.tenant, 'c', customer, event.position), "");
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
    const ContactView contact;
    const CustomerView customer;
    const Flat flats[] = {Flatten(contact), Flatten(customer)};
    for (const Flat& flat : flats) {
      for (const Shown& field : flat.fields()) out.push_back(field.Name());
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

const std::vector<std::string>& AuditedFieldNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = FixedFieldNames();
    for (const std::string& name : FixedFieldNames()) {  // "address" covers "address.lines"
      if (const size_t part = name.find_first_of(".["); part != std::string::npos) {
        out.push_back(name.substr(0, part));
      }
    }
    out.push_back("customers");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }();
  return names;
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
