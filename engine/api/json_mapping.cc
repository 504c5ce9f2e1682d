#include "engine/api/json_mapping.h"

#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <utility>
#include <variant>

namespace cledger::api {

namespace json = boost::json;

namespace {

// The longest piece of caller input a path or message may repeat.
constexpr size_t kQuoteMax = 40;
constexpr const char* kRedacted = "[redacted]";
constexpr bool kRequired = true;

Status Invalid(std::string reason, std::string message, std::string field = {}) {
  return Status(Code::kInvalidArgument, std::move(reason), std::move(message), std::move(field));
}

Status Malformed(std::string message) { return Invalid("malformed_json", std::move(message)); }

std::string_view View(json::string_view s) { return {s.data(), s.size()}; }

// ---- Paths -------------------------------------------------------------------------------

// A caller's key as it may appear in a path or message: cut to kQuoteMax bytes on a UTF-8
// boundary and with control characters replaced, so a hostile key can neither flood nor forge
// a log line.
std::string SafeKey(std::string_view key) {
  size_t n = key.size();
  if (n > kQuoteMax) {
    n = kQuoteMax;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  }
  std::string out;
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    out.push_back(c < 0x20 || c == 0x7F ? '?' : key[i]);
  }
  if (n < key.size()) out += "...";
  return out;
}

std::string Join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? SafeKey(key) : std::string(prefix) + "." + SafeKey(key);
}

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

Status UnknownField(std::string_view prefix, std::string_view key) {
  return Invalid("unknown_field", "unknown field \"" + SafeKey(key) + "\"", Join(prefix, key));
}

// Says nothing of what was sent: the rejected value may be a password.
Status BadPasswordRequest() {
  return Invalid("invalid_password_request",
                 R"(send {"generate": true} or {"password": "<new password>"})", "password");
}

Status WrongType(const std::string& path, std::string_view expected) {
  return Invalid("invalid_type", path + " must be " + std::string(expected), path);
}

// ---- UTF-8 -------------------------------------------------------------------------------

// Strict UTF-8: no overlongs, surrogates or code points above U+10FFFF.
bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// The path of the first string that is not UTF-8 (for a bad key: the object holding it).
std::optional<std::string> FindBadUtf8(const json::value& v, const std::string& path) {
  if (v.is_string()) {
    return IsUtf8(View(v.get_string())) ? std::nullopt : std::optional<std::string>(path);
  }
  if (v.is_array()) {
    const json::array& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto bad = FindBadUtf8(a[i], Index(path, i))) return bad;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (!IsUtf8(View(kv.key()))) return path;
      if (auto bad = FindBadUtf8(kv.value(), Join(path, View(kv.key())))) return bad;
    }
  }
  return std::nullopt;
}

// Boost.JSON reports bad UTF-8 as a plain syntax error. A second, lenient parse tells the two
// apart and finds the offending string's path; it only runs for bodies already rejected.
Status DiagnoseParseError(std::string_view body) {
  json::parse_options lenient;
  lenient.max_depth = kJsonMaxDepth;
  lenient.allow_invalid_utf8 = true;
  json::error_code ec;
  const json::value v = json::parse(json::string_view(body.data(), body.size()), ec, {}, lenient);
  if (!ec) {
    if (auto path = FindBadUtf8(v, "")) {
      return Invalid("invalid_utf8", "text must be valid UTF-8", *path);
    }
  }
  if (!IsUtf8(body)) return Invalid("invalid_utf8", "the body is not valid UTF-8");
  return Malformed("the body is not valid JSON");
}

// ---- Reading typed values ----------------------------------------------------------------

Result<std::string> AsString(const json::value& v, const std::string& path) {
  if (!v.is_string()) return WrongType(path, "a string");
  return std::string(View(v.get_string()));
}

Result<bool> AsBool(const json::value& v, const std::string& path) {
  if (!v.is_bool()) return WrongType(path, "true or false");
  return v.get_bool();
}

Result<std::vector<std::string>> AsStrings(const json::value& v, const std::string& path) {
  if (!v.is_array()) return WrongType(path, "an array of strings");
  const json::array& a = v.get_array();
  std::vector<std::string> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto s = AsString(a[i], Index(path, i));
    if (!s.ok()) return s.status();
    out.push_back(std::move(s).value());
  }
  return out;
}

Result<Phone> AsPhone(const json::value& v, const std::string& path) {
  if (!v.is_object()) return WrongType(path, "an object {type, number}");
  Phone phone;
  bool has_number = false;
  for (const auto& kv : v.get_object()) {
    const std::string_view key = View(kv.key());
    std::string* target = key == "type" ? &phone.type : key == "number" ? &phone.number : nullptr;
    if (target == nullptr) return UnknownField(path, key);
    auto s = AsString(kv.value(), Join(path, key));
    if (!s.ok()) return s.status();
    *target = std::move(s).value();
    has_number = has_number || key == "number";
  }
  if (!has_number) return Invalid("required", "a phone needs a number", path + ".number");
  return phone;
}

Result<std::vector<Phone>> AsPhones(const json::value& v, const std::string& path) {
  if (!v.is_array()) return WrongType(path, "an array of {type, number} objects");
  const json::array& a = v.get_array();
  std::vector<Phone> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto phone = AsPhone(a[i], Index(path, i));
    if (!phone.ok()) return phone.status();
    out.push_back(std::move(phone).value());
  }
  return out;
}

// Reads the keys of a flat request body by name; each key is its own path.
class Reader {
 public:
  explicit Reader(const json::object& o) : o_(o) {}

  // The first key not in `allowed` is an unknown field.
  Status Keys(std::initializer_list<std::string_view> allowed) const {
    for (const auto& kv : o_) {
      const std::string_view key = View(kv.key());
      bool known = false;
      for (std::string_view a : allowed) known = known || a == key;
      if (!known) return UnknownField("", key);
    }
    return Status::Ok();
  }
  // Leaves `out` as it is when the key is absent (an error when `required`).
  Status String(std::string_view key, std::string& out, bool required = false) const {
    return Read(key, out, required, AsString);
  }
  Status String(std::string_view key, std::optional<std::string>& out) const {
    if (Find(key) == nullptr) return Status::Ok();
    std::string value;
    Status s = Read(key, value, false, AsString);
    if (s.ok()) out = std::move(value);
    return s;
  }
  Status Strings(std::string_view key, std::vector<std::string>& out, bool required) const {
    return Read(key, out, required, AsStrings);
  }

 private:
  const json::value* Find(std::string_view key) const {
    return o_.if_contains(json::string_view(key.data(), key.size()));
  }
  template <typename T, typename Parse>
  Status Read(std::string_view key, T& out, bool required, Parse parse) const {
    const json::value* v = Find(key);
    if (v == nullptr) {
      const std::string path(key);
      return required ? Invalid("required", path + " is required", path) : Status::Ok();
    }
    auto value = parse(*v, std::string(key));
    if (!value.ok()) return value.status();
    out = std::move(value).value();
    return Status::Ok();
  }

  const json::object& o_;
};

// ---- Contact fields as changes -----------------------------------------------------------

// One change to a contact's fields. A create applies its changes to the defaults; a patch
// captures them and applies them to the current fields when the engine decides the edit.
using FieldOp = std::function<void(ContactFields&)>;

// A field's change: its new value, or (null, in a patch) its default. `get` picks the field.
template <typename T, typename Get, typename Parse>
Status Change(const json::value& v, const std::string& path, bool nullable, Get get, Parse parse,
              T reset, std::vector<FieldOp>& ops) {
  if (nullable && v.is_null()) {
    ops.push_back([get, reset = std::move(reset)](ContactFields& f) { get(f) = reset; });
    return Status::Ok();
  }
  auto value = parse(v, path);
  if (!value.ok()) return value.status();
  ops.push_back([get, value = std::move(value).value()](ContactFields& f) { get(f) = value; });
  return Status::Ok();
}

template <typename Get>
Status StringChange(const json::value& v, const std::string& path, bool nullable, Get get,
                    std::vector<FieldOp>& ops, std::string reset = {}) {
  return Change(v, path, nullable, get, AsString, std::move(reset), ops);
}

template <typename Get>
Status StringsChange(const json::value& v, const std::string& path, bool nullable, Get get,
                     std::vector<FieldOp>& ops) {
  return Change(v, path, nullable, get, AsStrings, std::vector<std::string>{}, ops);
}

// A nested object (`address`, `communication`) replaces only the sub-keys it has; null resets
// the whole object. `each` handles one sub-key.
template <typename Whole, typename Each>
Status NestedChanges(const json::value& v, const std::string& path, bool nullable, Whole whole,
                     Each each, std::vector<FieldOp>& ops) {
  if (nullable && v.is_null()) {
    ops.push_back([whole](ContactFields& f) { whole(f) = {}; });
    return Status::Ok();
  }
  if (!v.is_object()) return WrongType(path, "an object");
  for (const auto& kv : v.get_object()) {
    if (Status s = each(View(kv.key()), kv.value(), Join(path, View(kv.key()))); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status AddressChanges(const json::value& v, bool nullable, std::vector<FieldOp>& ops) {
  const auto whole = [](ContactFields& f) -> Address& { return f.address; };
  const auto each = [&](std::string_view key, const json::value& x, const std::string& path) {
    if (key == "lines") {
      return StringsChange(
          x, path, nullable, [](ContactFields & f) -> auto& { return f.address.lines; }, ops);
    }
    if (key == "postcode") {
      return StringChange(
          x, path, nullable, [](ContactFields & f) -> auto& { return f.address.postcode; }, ops);
    }
    if (key == "country") {
      return StringChange(
          x, path, nullable, [](ContactFields & f) -> auto& { return f.address.country; }, ops);
    }
    return UnknownField("address", key);
  };
  return NestedChanges(v, "address", nullable, whole, each, ops);
}

Status CommunicationChanges(const json::value& v, bool nullable, std::vector<FieldOp>& ops) {
  using Lists = std::vector<std::string> Communication::*;
  const auto whole = [](ContactFields& f) -> Communication& { return f.communication; };
  const auto list = [&](const json::value& x, const std::string& path, Lists member) {
    return StringsChange(
        x, path, nullable, [member](ContactFields & f) -> auto& { return f.communication.*member; },
        ops);
  };
  const auto each = [&](std::string_view key, const json::value& x, const std::string& path) {
    if (key == "regarding") return list(x, path, &Communication::regarding);
    if (key == "copy_correspondence") return list(x, path, &Communication::copy_correspondence);
    if (key == "copy_ticket_updates") return list(x, path, &Communication::copy_ticket_updates);
    if (key == "email_bill") {
      // Null means "send no bill", the field's default, not an empty format.
      return StringChange(
          x, path, nullable, [](ContactFields & f) -> auto& { return f.communication.email_bill; },
          ops, Communication{}.email_bill);
    }
    if (key == "usage_report_profile") {
      return StringChange(
          x, path, nullable,
          [](ContactFields & f) -> auto& { return f.communication.usage_report_profile; }, ops);
    }
    return UnknownField("communication", key);
  };
  return NestedChanges(v, "communication", nullable, whole, each, ops);
}

struct StringMember {
  std::string_view key;
  std::string ContactFields::*member;
};
constexpr StringMember kStringMembers[] = {
    {"contact_type", &ContactFields::contact_type}, {"title", &ContactFields::title},
    {"first_name", &ContactFields::first_name},     {"last_name", &ContactFields::last_name},
    {"company_name", &ContactFields::company_name}, {"position", &ContactFields::position},
    {"department", &ContactFields::department},     {"email", &ContactFields::email},
    {"website", &ContactFields::website},           {"dealer_code", &ContactFields::dealer_code},
};

// Appends the change one top-level contact key asks for; unknown_field when it names no
// contact field. `nullable`: JSON null resets the field (patches only).
Status ContactFieldChange(std::string_view key, const json::value& v, bool nullable,
                          std::vector<FieldOp>& ops) {
  const std::string path = SafeKey(key);
  for (const StringMember& m : kStringMembers) {
    if (key != m.key) continue;
    return StringChange(
        v, path, nullable, [p = m.member](ContactFields & f) -> auto& { return f.*p; }, ops);
  }
  if (key == "phones") {
    return Change(
        v, path, nullable, [](ContactFields & f) -> auto& { return f.phones; }, AsPhones,
        std::vector<Phone>{}, ops);
  }
  if (key == "portal_enabled") {
    return Change(
        v, path, nullable, [](ContactFields & f) -> auto& { return f.portal_enabled; }, AsBool,
        false, ops);
  }
  if (key == "address") return AddressChanges(v, nullable, ops);
  if (key == "communication") return CommunicationChanges(v, nullable, ops);
  return UnknownField("", key);
}

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
  o["created"] = Rfc3339Micros(s.created_us);
  o["last_modified"] = Rfc3339Micros(s.last_modified_us);
  if (s.deleted_us) {
    o["deleted"] = Rfc3339Micros(*s.deleted_us);
  } else {
    o["deleted"] = nullptr;
  }
  o["version"] = s.version;
}

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};

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
            O o{{"token_hash", kRedacted}};
            o["actor"] = ActorJson(b.actor);
            return o;
          },
          [](const TokenRevoked&) {
            return O{{"token_hash", kRedacted}};
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
                     {"password_hash", kRedacted},
                     {"must_change", b.must_change},
                     {"generated", b.generated}};
          },
      },
      body);
}

// ---- Time --------------------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
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

// ---- Parsing -----------------------------------------------------------------------------

Result<json::object> ParseObject(std::string_view body) {
  if (body.empty()) return Malformed("the body is empty; send a JSON object");
  try {
    json::parse_options options;
    options.max_depth = kJsonMaxDepth;
    json::error_code ec;
    json::value v = json::parse(json::string_view(body.data(), body.size()), ec, {}, options);
    if (ec == json::error::too_deep) {
      return Malformed("the JSON is nested deeper than " + std::to_string(kJsonMaxDepth));
    }
    if (ec) return DiagnoseParseError(body);
    if (!v.is_object()) return Malformed("the body must be a JSON object");
    return std::move(v.get_object());
  } catch (const std::exception&) {  // allocation failures and Boost.JSON's size limits
    return Malformed("the body could not be parsed");
  }
}

Result<CreateCustomer> CreateCustomerFromJson(const json::object& o) {
  const Reader r(o);
  CreateCustomer c;
  Status s = r.Keys({"id", "name", "email", "bill_format"});
  if (s.ok()) s = r.String("id", c.id);
  if (s.ok()) s = r.String("name", c.name, kRequired);
  if (s.ok()) s = r.String("email", c.email, kRequired);
  if (s.ok()) s = r.String("bill_format", c.bill_format);
  if (!s.ok()) return s;
  return c;
}

Result<UpdateCustomer> UpdateCustomerFromJson(const json::object& o) {
  const Reader r(o);
  UpdateCustomer c;
  Status s = r.Keys({"name", "email", "bill_format"});
  if (s.ok()) s = r.String("name", c.name);
  if (s.ok()) s = r.String("email", c.email);
  if (s.ok()) s = r.String("bill_format", c.bill_format);
  if (!s.ok()) return s;
  return c;
}

Result<CreateContact> CreateContactFromJson(const json::object& o, std::string customer_id) {
  CreateContact c;
  c.customer_id = std::move(customer_id);
  std::vector<FieldOp> ops;
  for (const auto& kv : o) {
    const std::string_view key = View(kv.key());
    const json::value& v = kv.value();
    if (key == "id") {
      auto id = AsString(v, "id");
      if (!id.ok()) return id.status();
      c.id = std::move(id).value();
    } else if (key == "portal_enabled") {
      auto on = AsBool(v, "portal_enabled");
      if (!on.ok()) return on.status();
      c.portal_enabled = *on;
    } else if (key == "password") {
      if (!v.is_object()) return BadPasswordRequest();
      auto choice = PasswordChoiceFromJson(v.get_object());
      if (!choice.ok()) return choice.status();
      c.password = std::move(choice).value();
    } else if (Status s = ContactFieldChange(key, v, false, ops); !s.ok()) {
      return s;
    }
  }
  for (const FieldOp& op : ops) op(c.fields);
  c.fields.portal_enabled = c.portal_enabled.value_or(false);
  return c;
}

Result<ContactPatch> ContactPatchFromJson(const json::object& o) {
  std::vector<FieldOp> ops;
  for (const auto& kv : o) {
    if (Status s = ContactFieldChange(View(kv.key()), kv.value(), true, ops); !s.ok()) return s;
  }
  return ContactPatch([ops = std::move(ops)](ContactFields& f) {
    for (const FieldOp& op : ops) op(f);
  });
}

Result<std::vector<std::string>> RolesFromJson(const json::object& o) {
  const Reader r(o);
  std::vector<std::string> roles;
  Status s = r.Keys({"roles"});
  if (s.ok()) s = r.Strings("roles", roles, kRequired);
  if (!s.ok()) return s;
  return roles;
}

Result<PasswordChoice> PasswordChoiceFromJson(const json::object& o) {
  const Status bad = BadPasswordRequest();
  if (o.size() != 1) return bad;
  if (const json::value* g = o.if_contains("generate")) {
    if (g->is_bool() && g->get_bool()) return PasswordChoice{true, {}};
    return bad;
  }
  if (const json::value* p = o.if_contains("password"); p != nullptr && p->is_string()) {
    return PasswordChoice{false, std::string(View(p->get_string()))};
  }
  return bad;
}

Result<std::string> ContactIdFromJson(const json::object& o) {
  const Reader r(o);
  std::string id;
  Status s = r.Keys({"contact_id"});
  if (s.ok()) s = r.String("contact_id", id, kRequired);
  if (!s.ok()) return s;
  return id;
}

Result<CreateTenant> CreateTenantFromJson(const json::object& o) {
  const Reader r(o);
  CreateTenant c;
  Status s = r.Keys({"name", "plan", "required_fields"});
  if (s.ok()) s = r.String("name", c.name, kRequired);
  if (s.ok()) s = r.String("plan", c.plan);
  if (s.ok()) s = r.Strings("required_fields", c.required_fields, false);
  if (!s.ok()) return s;
  return c;
}

Result<IssueToken> IssueTokenFromJson(const json::object& o) {
  const Reader r(o);
  IssueToken c;
  Status s = r.Keys({"tenant", "actor", "role"});
  if (s.ok()) s = r.String("tenant", c.tenant);
  if (s.ok()) s = r.String("actor", c.actor_id, kRequired);
  if (s.ok()) s = r.String("role", c.role, kRequired);
  if (!s.ok()) return s;
  return c;
}

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
  AppendSystem(o, v.system);
  return o;
}

json::object ToJson(const CustomerView& v) {
  json::object o{{"id", v.id},
                 {"name", v.name},
                 {"email", v.email},
                 {"bill_format", v.bill_format},
                 {"status", v.deleted ? "deleted" : "active"}};
  AppendSystem(o, v.system);
  return o;
}

json::object ToJson(const AuditEntry& e) {
  json::object o{{"position", e.position}, {"recorded_at", Rfc3339Micros(e.recorded_at_us)}};
  o["actor"] = ActorJson(e.actor);
  o["stream"] = e.stream;
  o["operation"] = e.operation;
  json::array changes;
  for (const FieldChange& c : e.changes) {
    changes.push_back(json::object{{"field", c.field}, {"before", c.before}, {"after", c.after}});
  }
  o["changes"] = std::move(changes);
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
                 {"recorded_at", Rfc3339Micros(e.recorded_at_us)}};
  o["actor"] = ActorJson(e.actor);
  o["schema_version"] = e.schema_version;
  o["prev_hash"] = HexOf(e.prev_hash);
  o["hash"] = HexOf(e.hash);
  o["type"] = EventTypeName(e.body);
  o["data"] = BodyJson(e.body);
  return o;
}

// ---- Time --------------------------------------------------------------------------------

std::string Rfc3339Micros(int64_t unix_us) {
  // Floor, not truncation, so times before 1970 still count forward within their second.
  int64_t seconds = unix_us / 1'000'000;
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  int64_t days = seconds / 86'400;
  int64_t second_of_day = seconds % 86'400;
  if (second_of_day < 0) {
    second_of_day += 86'400;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  CivilFromDays(days, year, month, day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                static_cast<long long>(year), month, day,
                static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60), static_cast<long long>(micros));
  return buffer;
}

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
    return Invalid("invalid_time",
                   "must be an RFC 3339 time such as 2026-11-21T04:31:39Z or "
                   "2026-11-21T05:31:39.5+01:00");
  }
  const int64_t seconds =
      DaysFromCivil(year, month, day) * 86'400 + hour * 3600 + minute * 60 + second - offset;
  return seconds * 1'000'000 + micros;
}

}  // namespace cledger::api
