// JSON for what the API returns: views, audit entries, recipients, events; RFC 3339 times.
#include <variant>

#include "base/hex.h"
#include "base/text.h"
#include "base/time.h"
#include "cledger/json.h"
#include "engine/api/json_fields.h"

namespace cledger::api {

namespace json = boost::json;

namespace {

// ---- Views to JSON -----------------------------------------------------------------------

json::array StringsJson(const std::vector<std::string>& strings) {
  json::array a;
  a.reserve(strings.size());
  for (const std::string& s : strings) a.emplace_back(s);
  return a;
}

json::object ActorJson(const Actor& actor) {
  return json::object{{"id", actor.id}, {"role", actor.role}};
}

// Every contact field, in the order of SPEC §2.
void AppendFields(json::object& o, const ContactFields& f) {
  for (const StringMember& m : kStringMembers) {
    if (m.key == "website") break;  // website and dealer_code follow address
    o[m.key] = f.*m.member;
  }
  json::array phones;
  for (const Phone& p : f.phones) {
    phones.push_back(json::object{{"type", p.type}, {"number", p.number}});
  }
  o["phones"] = std::move(phones);
  json::object address{{"postcode", f.address.postcode}, {"country", f.address.country}};
  address.emplace("lines", StringsJson(f.address.lines));
  o["address"] = std::move(address);
  o["website"] = f.website;
  o["dealer_code"] = f.dealer_code;
  o["portal_enabled"] = f.portal_enabled;
  const Communication& c = f.communication;
  json::object communication;
  communication["regarding"] = StringsJson(c.regarding);
  communication["email_bill"] = c.email_bill;
  communication["usage_report_profile"] = c.usage_report_profile;
  communication["copy_correspondence"] = StringsJson(c.copy_correspondence);
  communication["copy_ticket_updates"] = StringsJson(c.copy_ticket_updates);
  o["communication"] = std::move(communication);
}

json::object FieldsJson(const ContactFields& f) {
  json::object o;
  AppendFields(o, f);
  return o;
}

void AppendSystem(json::object& o, const SystemInfo& s) {
  o["created"] = base::Rfc3339Micros(s.created_us);
  o["last_modified"] = base::Rfc3339Micros(s.last_modified_us);
  if (s.deleted_us) {
    o["deleted"] = base::Rfc3339Micros(*s.deleted_us);
  } else {
    o["deleted"] = nullptr;
  }
  o["version"] = s.version;
}

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
// clang 14 (the fuzzing and sanitizer build) does not deduce aggregate template arguments.
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

json::object LinkJson(const std::string& contact_id, const std::string& customer_id) {
  return json::object{{"contact_id", contact_id}, {"customer_id", customer_id}};
}

json::object ContactJson(const std::string& contact_id, const ContactFields& fields) {
  json::object o{{"contact_id", contact_id}};
  o["fields"] = FieldsJson(fields);
  return o;
}

// CustomerCreated and CustomerUpdated share their fields.
template <typename Body>
json::object CustomerJson(const Body& b) {
  return json::object{{"customer_id", b.customer_id},
                      {"name", b.name},
                      {"email", b.email},
                      {"bill_format", b.bill_format}};
}

// The body's fields by their schema names; secrets are redacted.
json::object BodyJson(const EventBody& body) {
  using O = json::object;
  return std::visit(
      Overloaded{
          [](const TenantCreated& b) {
            O o{{"name", b.name}, {"plan", b.plan}};
            o["required_fields"] = StringsJson(b.required_fields);
            return o;
          },
          [](const TokenIssued& b) {
            O o{{"token_hash", base::kRedacted}};
            o["actor"] = ActorJson(b.actor);
            if (b.expires_at_us != 0) o["expires_at"] = base::Rfc3339Micros(b.expires_at_us);
            return o;
          },
          [](const TokenRevoked&) {
            return O{{"token_hash", base::kRedacted}};
          },
          [](const CustomerCreated& b) { return CustomerJson(b); },
          [](const CustomerUpdated& b) { return CustomerJson(b); },
          [](const CustomerDeleted& b) {
            return O{{"customer_id", b.customer_id}};
          },
          [](const ContactCreated& b) {
            O o = ContactJson(b.contact_id, b.fields);
            // The schema leaves customer_id absent for a shared contact.
            if (b.customer_id.empty()) {
              o["customer_id"] = nullptr;
            } else {
              o["customer_id"] = b.customer_id;
            }
            return o;
          },
          [](const ContactEdited& b) { return ContactJson(b.contact_id, b.fields); },
          [](const ContactShared& b) { return LinkJson(b.contact_id, b.customer_id); },
          [](const ContactUnlinked& b) { return LinkJson(b.contact_id, b.customer_id); },
          [](const ContactConvertedToShared& b) { return LinkJson(b.contact_id, b.customer_id); },
          [](const ContactRolesChanged& b) {
            O o = LinkJson(b.contact_id, b.customer_id);
            o["roles"] = StringsJson(b.roles);
            return o;
          },
          [](const ContactDeleted& b) {
            return O{{"contact_id", b.contact_id}};
          },
          [](const ContactRestored& b) {
            return O{{"contact_id", b.contact_id}};
          },
          [](const ContactPasswordReset& b) {
            return O{{"contact_id", b.contact_id},
                     {"password_hash", base::kRedacted},
                     {"must_change", b.must_change},
                     {"generated", b.generated}};
          },
          [](const ContactErased& b) {
            return O{{"contact_id", b.contact_id}, {"reason", b.reason}, {"key_id", b.key_id}};
          },
          [](const CustomerErased& b) {
            return O{{"customer_id", b.customer_id}, {"reason", b.reason}, {"key_id", b.key_id}};
          },
      },
      body);
}

// ---- Time --------------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// A cursor over an RFC 3339 text.
class TimeScanner {
 public:
  explicit TimeScanner(std::string_view text) : text_(text) {}
  bool Digits(size_t n, unsigned& out) {
    if (text_.size() - pos_ < n) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i, ++pos_) {
      const char c = text_[pos_];
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<unsigned>(c - '0');
    }
    return true;
  }
  bool Literal(char a, char b = '\0') {
    if (pos_ == text_.size() || (text_[pos_] != a && (b == '\0' || text_[pos_] != b))) {
      return false;
    }
    ++pos_;
    return true;
  }
  // ".d{1,9}" when present, as microseconds (digits past the sixth are dropped).
  bool Fraction(int64_t& us) {
    us = 0;
    if (!Literal('.')) return true;
    size_t count = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (count < 6) us = us * 10 + (text_[pos_] - '0');
      ++count, ++pos_;
    }
    for (size_t i = count; i < 6; ++i) us *= 10;
    return count >= 1 && count <= 9;
  }
  // "Z" or "±hh:mm", as seconds east of UTC.
  bool Offset(int64_t& seconds) {
    seconds = 0;
    if (Literal('Z', 'z')) return true;
    const bool west = pos_ < text_.size() && text_[pos_] == '-';
    if (!Literal('+', '-')) return false;
    unsigned h = 0;
    unsigned m = 0;
    if (!Digits(2, h) || !Literal(':') || !Digits(2, m) || h > 23 || m > 59) return false;
    seconds = (west ? -1 : 1) * static_cast<int64_t>(h * 3600 + m * 60);
    return true;
  }
  bool AtEnd() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

// ---- Views -------------------------------------------------------------------------------

json::object ToJson(const ContactView& v) {
  json::object o{{"id", v.id},
                 {"kind", v.shared ? "shared" : "direct"},
                 {"profile", v.profile},
                 {"status", v.deleted ? "deleted" : "active"}};
  AppendFields(o, v.fields);
  json::array customers;
  for (const Link& link : v.customers) {
    json::object l{{"id", link.customer_id}};
    l["roles"] = StringsJson(link.roles);
    customers.push_back(std::move(l));
  }
  o["customers"] = std::move(customers);
  o["password"] = json::object{{"set", v.has_password}, {"must_change", v.password_must_change}};
  o["erased"] = v.erased;
  AppendSystem(o, v.system);
  return o;
}

json::object ToJson(const CustomerView& v) {
  json::object o{{"id", v.id},
                 {"name", v.name},
                 {"email", v.email},
                 {"bill_format", v.bill_format},
                 {"status", v.deleted ? "deleted" : "active"},
                 {"erased", v.erased}};
  AppendSystem(o, v.system);
  return o;
}

json::object ToJson(const AuditEntry& e) {
  json::object o{{"position", e.position}, {"recorded_at", base::Rfc3339Micros(e.recorded_at_us)}};
  o["actor"] = ActorJson(e.actor);
  o["stream"] = e.stream;
  o["operation"] = e.operation;
  json::array changes;
  for (const FieldChange& c : e.changes) {
    changes.push_back(json::object{{"field", c.field}, {"before", c.before}, {"after", c.after}});
  }
  o["changes"] = std::move(changes);
  o["event_hash"] = e.event_hash;
  o["correlation_id"] = e.correlation_id;
  return o;
}

json::object ToJson(const Recipient& r) {
  json::object o{{"email", r.email}};
  if (r.contact_id.empty()) {
    o["contact_id"] = nullptr;
  } else {
    o["contact_id"] = r.contact_id;
  }
  if (!r.bill_format.empty()) o["bill_format"] = r.bill_format;
  return o;
}

json::object ToJson(const Event& e) {
  json::object o{{"position", e.position},
                 {"tenant", e.tenant},
                 {"stream", e.stream},
                 {"stream_version", e.stream_version},
                 {"event_id", e.event_id},
                 {"correlation_id", e.correlation_id},
                 {"recorded_at", base::Rfc3339Micros(e.recorded_at_us)}};
  o["actor"] = ActorJson(e.actor);
  o["schema_version"] = e.schema_version;
  o["prev_hash"] = base::Hex(e.prev_hash);
  o["hash"] = base::Hex(e.hash);
  o["type"] = EventTypeName(e.body);
  o["data"] = BodyJson(e.body);
  // Personal fields that could not be put back read empty in `data`; say why.
  if (e.personal == Personal::kErased) o["personal_data"] = "erased";
  if (e.personal == Personal::kUnreadable) o["personal_data"] = "unreadable";
  return o;
}

// ---- Time --------------------------------------------------------------------------------

Result<int64_t> ParseRfc3339(std::string_view text) {
  TimeScanner in(text);
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
  int64_t offset = 0;
  const bool shaped = in.Digits(4, year) && in.Literal('-') && in.Digits(2, month) &&
                      in.Literal('-') && in.Digits(2, day) && in.Literal('T', 't') &&
                      in.Digits(2, hour) && in.Literal(':') && in.Digits(2, minute) &&
                      in.Literal(':') && in.Digits(2, second) && in.Fraction(micros) &&
                      in.Offset(offset) && in.AtEnd();
  // A leap second (:60) is accepted as RFC 3339 allows; Unix time folds it into the next one.
  if (!shaped || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 60) {
    return Status::InvalidArgument("invalid_time",
                                   "must be an RFC 3339 time such as 2026-11-21T04:31:39Z or "
                                   "2026-11-21T05:31:39.5+01:00");
  }
  const int64_t seconds =
      DaysFromCivil(year, month, day) * 86'400 + hour * 3600 + minute * 60 + second - offset;
  return seconds * 1'000'000 + micros;
}

}  // namespace cledger::api
