// JSON request bodies to commands: strict about shape, types, unknown keys and UTF-8.
#include <boost/json/basic_parser_impl.hpp>
#include <cstdio>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <utility>
#include <variant>

#include "base/text.h"
#include "base/time.h"
#include "cledger/json.h"
#include "engine/api/json_fields.h"
#include "engine/domain/validate.h"

namespace cledger::api {

namespace json = boost::json;

namespace {

// The longest piece of caller input a path or message may repeat.
constexpr size_t kQuoteMax = 40;
constexpr bool kRequired = true;

Status Malformed(std::string message) {
  return Status::InvalidArgument("malformed_json", std::move(message));
}

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

// Names the field, and the one of `known` (what the object takes) it most likely misspells.
template <typename Names>
Status UnknownField(std::string_view prefix, std::string_view key, const Names& known) {
  std::string message = "unknown field \"" + SafeKey(key) + "\"";
  if (auto meant = base::Nearest(key, known))
    message += "; did you mean \"" + std::string(*meant) + "\"?";
  return Status::InvalidArgument("unknown_field", message, Join(prefix, key));
}
Status UnknownField(std::string_view prefix, std::string_view key,
                    std::initializer_list<std::string_view> known) {
  return UnknownField<std::initializer_list<std::string_view>>(prefix, key, known);
}

// Says nothing of what was sent: the rejected value may be a password.
Status BadPasswordRequest() {
  return Status::InvalidArgument("invalid_password_request",
                                 R"(send {"generate": true} or {"password": "<new password>"})",
                                 "password");
}

Status WrongType(const std::string& path, std::string_view expected) {
  return Status::InvalidArgument("invalid_type", path + " must be " + std::string(expected), path);
}

// ---- UTF-8 -------------------------------------------------------------------------------

// Strict UTF-8: no overlongs, surrogates or code points above U+10FFFF.
bool IsUtf8(std::string_view s) {
  for (size_t n; !s.empty(); s.remove_prefix(n)) {
    if ((n = domain::Utf8CharLength(s)) == 0) return false;
  }
  return true;
}

// The path of the first text in `v` that is `bad` (for a bad key: the object holding it),
// not looking into the values of keys named `unread`.
template <typename Bad>
std::optional<std::string> FindText(const json::value& v, const std::string& path, Bad bad,
                                    std::string_view unread = {}) {
  if (v.is_string()) return bad(View(v.get_string())) ? std::optional(path) : std::nullopt;
  if (v.is_array()) {
    const json::array& a = v.get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      if (auto found = FindText(a[i], Index(path, i), bad, unread)) return found;
    }
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      if (bad(View(kv.key()))) return path;
      if (!unread.empty() && View(kv.key()) == unread) continue;
      if (auto found = FindText(kv.value(), Join(path, View(kv.key())), bad, unread)) return found;
    }
  }
  return std::nullopt;
}

std::optional<std::string> FindBadUtf8(const json::value& v) {
  return FindText(v, "", [](std::string_view text) { return !IsUtf8(text); });
}

// The path of the first text holding a character that would make it read otherwise where it
// is shown (domain::HasDirectionMarkOrSeparator). A password is nobody's to read: not looked
// at. Checked on what a request sends rather than in the rules, so a record stored before the
// check existed still takes edits of its other fields.
std::optional<std::string> FindDirectionMark(const json::value& v) {
  return FindText(v, "", domain::HasDirectionMarkOrSeparator, "password");
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
    if (auto path = FindBadUtf8(v)) {
      return Status::InvalidArgument("invalid_utf8", "text must be valid UTF-8", *path);
    }
  }
  if (!IsUtf8(body)) return Status::InvalidArgument("invalid_utf8", "the body is not valid UTF-8");
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
    if (target == nullptr) return UnknownField(path, key, {"type", "number"});
    auto s = AsString(kv.value(), Join(path, key));
    if (!s.ok()) return s.status();
    *target = std::move(s).value();
    has_number = has_number || key == "number";
  }
  if (!has_number) {
    return Status::InvalidArgument("required", "a phone needs a number", path + ".number");
  }
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
      if (!known) return UnknownField("", key, allowed);
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
      return required ? Status::InvalidArgument("required", path + " is required", path)
                      : Status::Ok();
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
    return UnknownField("address", key, {"lines", "postcode", "country"});
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
    return UnknownField("communication", key,
                        {"regarding", "copy_correspondence", "copy_ticket_updates", "email_bill",
                         "usage_report_profile"});
  };
  return NestedChanges(v, "communication", nullable, whole, each, ops);
}

// The top-level keys of a contact's fields.
const std::vector<std::string_view>& ContactKeys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out = {"phones", "portal_enabled", "address", "communication"};
    for (const StringMember& m : kStringMembers) out.push_back(m.key);
    return out;
  }();
  return keys;
}

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
  return UnknownField("", key, ContactKeys());
}

// Finds a key repeated within one object. Boost.JSON keeps the last of duplicates, so a
// body could say one thing to a reader that keeps the first and another to us: refuse it.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  std::optional<std::string> duplicate;

  bool on_object_begin(json::error_code&) {
    // Under a password object every key may be a password sent by mistake.
    const bool secret = last_key_ == "password" || (!objects_.empty() && objects_.back().secret);
    return objects_.push_back({{}, secret}), true;
  }
  bool on_object_end(std::size_t, json::error_code&) { return objects_.pop_back(), true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    return key_.append(s.data(), s.size()), true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!objects_.back().keys.insert(key_).second) {
      duplicate = objects_.back().secret ? "password" : std::move(key_);
      ec = json::error::syntax;  // stops the parse
      return false;
    }
    last_key_ = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Object {
    std::set<std::string> keys;
    bool secret = false;
  };
  std::vector<Object> objects_;
  std::string key_;
  std::string last_key_;
};

// REQUIRES: `body` is valid JSON.
std::optional<std::string> DuplicateKey(std::string_view body) {
  json::basic_parser<DuplicateKeyFinder> parser(json::parse_options{});
  json::error_code ec;
  parser.write_some(false, body.data(), body.size(), ec);
  return std::move(parser.handler().duplicate);
}

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
    if (auto key = DuplicateKey(body)) {
      return Status::InvalidArgument("duplicate_key", "a key appears twice in one object",
                                     SafeKey(*key));
    }
    if (auto path = FindDirectionMark(v)) {
      return Status::InvalidArgument(
          "invalid_text",
          "text is one line without C1 control, line-separator or text-direction characters "
          "(U+202A-U+202E, U+2066-U+2069)",
          *path);
    }
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

// A patch that names no field would record an edit that changes nothing, for good.
Status NothingToChange(std::string_view fields) {
  return Status::InvalidArgument(
      "empty_patch",
      "the patch names no field to change; send one or more of " + std::string(fields));
}

Result<UpdateCustomer> UpdateCustomerFromJson(const json::object& o) {
  if (o.empty()) return NothingToChange("name, email, bill_format");
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
  if (o.empty()) return NothingToChange("the contact's fields (see GET /v1/contacts/{id})");
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
  // An unknown key is not named: a password mistaken for a key would be said back.
  for (const auto& [key, value] : o) {
    if (key == "generate" || key == "password") continue;
    return Status::InvalidArgument(
        "unknown_field",
        R"(a password request has one key: send {"generate": true} or {"password": "<new password>"})",
        "password");
  }
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

Result<std::string> ErasureReasonFromJson(const json::object& o) {
  const Reader r(o);
  std::string reason;
  Status s = r.Keys({"reason"});
  if (s.ok()) s = r.String("reason", reason, kRequired);
  if (!s.ok()) return s;
  return reason;
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
  std::optional<std::string> expires_in;
  Status s = r.Keys({"tenant", "actor", "role", "expires_in"});
  if (s.ok()) s = r.String("tenant", c.tenant);
  if (s.ok()) s = r.String("actor", c.actor_id, kRequired);
  if (s.ok()) s = r.String("role", c.role, kRequired);
  if (s.ok()) s = r.String("expires_in", expires_in);
  if (!s.ok()) return s;
  if (expires_in) {
    auto seconds = base::ParseDurationSeconds(*expires_in);
    if (!seconds) {
      return Status::InvalidArgument(
          "invalid_expiry", "expires_in is a count and a unit: 90s, 15m, 12h or 30d", "expires_in");
    }
    c.expires_in_s = *seconds;
  }
  return c;
}

}  // namespace cledger::api
