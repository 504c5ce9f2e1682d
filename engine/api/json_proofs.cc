// docs/PROOFS.md's JSON: signed heads, cosignatures, paths and evidence bundles.
#include <sodium.h>

#include <algorithm>
#include <cstdint>

#include "base/hex.h"
#include "base/time.h"
#include "cledger/json.h"

namespace cledger::api {
namespace {

namespace json = boost::json;

Status Invalid(const std::string& field, const std::string& what) {
  return Status::InvalidArgument("invalid_proof", field + ": " + what, field);
}

std::string Base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

std::optional<std::string> FromBase64(std::string_view text) {
  std::string out(text.size(), '\0');
  size_t written = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &written, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(written);
  return out;
}

Result<std::string_view> Text(const json::object& o, const std::string& key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return Invalid(key, "a string is required");
  return std::string_view(v->as_string());
}

Result<uint64_t> Number(const json::object& o, const std::string& key) {
  const json::value* v = o.if_contains(key);
  if (v != nullptr && v->is_uint64()) return v->as_uint64();
  if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
    return static_cast<uint64_t>(v->as_int64());
  }
  return Invalid(key, "a non-negative integer is required");
}

template <typename Parse>
auto HexField(const json::object& o, const std::string& key, Parse parse)
    -> Result<typename decltype(parse(std::string_view()))::value_type> {
  auto text = Text(o, key);
  if (!text.ok()) return text.status();
  auto value = parse(*text);
  if (!value) return Invalid(key, "hex of the wrong length or with a non-hex digit");
  return *value;
}

std::string Hex(std::span<const uint8_t> bytes) { return base::Hex(bytes); }

}  // namespace

json::array ToJson(const std::vector<Hash>& hashes) {
  json::array out;
  for (const Hash& h : hashes) out.push_back(json::string(Hex(h)));
  return out;
}

json::object ToJson(const proofs::TreeHead& head) {
  return {{"tree_size", head.tree_size},
          {"root_hash", Hex(head.root)},
          {"timestamp_us", head.timestamp_us},
          {"time", base::Rfc3339Micros(head.timestamp_us)},
          {"key_id", head.key_id},
          {"signature", Hex(head.signature)}};
}

json::object ToJson(const SignedTreeHead& signed_head) {
  json::object out = ToJson(signed_head.head);
  json::array cosignatures;
  for (const proofs::Cosignature& c : signed_head.cosignatures) {
    cosignatures.push_back(json::object{{"key_id", c.key_id}, {"signature", Hex(c.signature)}});
  }
  out["cosignatures"] = std::move(cosignatures);
  return out;
}

json::object ToJson(const Evidence& evidence) {
  json::array events;
  for (const Evidence::Item& item : evidence.events) {
    events.push_back(json::object{{"position", item.position},
                                  {"leaf_index", item.position - 1},
                                  {"bytes", Base64(item.bytes)},
                                  {"audit_path", ToJson(item.audit_path)}});
  }
  return {{"format", "contact-ledger-evidence/v1"},
          {"tenant", evidence.tenant},
          {"subject", evidence.subject},
          {"id", evidence.id},
          {"public_key", Hex(evidence.public_key)},
          {"head", ToJson(evidence.head)},
          {"events", std::move(events)}};
}

Result<std::vector<Hash>> HashesFromJson(const json::value& v, const std::string& field) {
  if (!v.is_array()) return Invalid(field, "an array of hex hashes is required");
  std::vector<Hash> out;
  for (const json::value& item : v.as_array()) {
    auto h = item.is_string() ? proofs::HashFromHex(item.as_string()) : std::nullopt;
    if (!h) return Invalid(field, "each element is 64 hex digits");
    out.push_back(*h);
  }
  return out;
}

Result<proofs::TreeHead> TreeHeadFromJson(const json::object& o) {
  proofs::TreeHead head;
  auto size = Number(o, "tree_size");
  auto timestamp = Number(o, "timestamp_us");
  auto root = HexField(o, "root_hash", proofs::HashFromHex);
  auto signature = HexField(o, "signature", proofs::SignatureFromHex);
  auto key_id = Text(o, "key_id");
  if (!size.ok()) return size.status();
  if (!timestamp.ok()) return timestamp.status();
  if (!root.ok()) return root.status();
  if (!signature.ok()) return signature.status();
  if (!key_id.ok()) return key_id.status();
  if (*timestamp > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid("timestamp_us", "past the largest signed 64-bit number");
  }
  return proofs::TreeHead{*size, *root, static_cast<int64_t>(*timestamp), std::string(*key_id),
                          *signature};
}

Result<proofs::Cosignature> CosignatureFromJson(const json::object& o) {
  auto key_id = Text(o, "key_id");
  auto signature = HexField(o, "signature", proofs::SignatureFromHex);
  if (!key_id.ok()) return key_id.status();
  if (!signature.ok()) return signature.status();
  return proofs::Cosignature{std::string(*key_id), *signature};
}

Result<Evidence::Item> EvidenceItemFromJson(const json::value& v) {
  if (!v.is_object()) return Invalid("events", "each event is an object");
  const json::object& o = v.as_object();
  auto position = Number(o, "position");
  auto bytes = Text(o, "bytes");
  const json::value* path = o.if_contains("audit_path");
  if (!position.ok()) return position.status();
  if (!bytes.ok()) return bytes.status();
  if (path == nullptr) return Invalid("audit_path", "required");
  auto decoded = FromBase64(*bytes);
  if (!decoded) return Invalid("bytes", "standard base64 is required");
  if (const json::value* leaf = o.if_contains("leaf_index"); leaf != nullptr) {
    auto index = Number(o, "leaf_index");
    if (!index.ok() || *index + 1 != *position) return Invalid("leaf_index", "is position - 1");
  }
  auto hashes = HashesFromJson(*path, "audit_path");
  if (!hashes.ok()) return hashes.status();
  return Evidence::Item{*position, std::move(*decoded), std::move(hashes).value()};
}

Result<Evidence> EvidenceFromJson(const json::object& o) {
  auto format = Text(o, "format");
  if (!format.ok() || *format != "contact-ledger-evidence/v1") {
    return Invalid("format", "not a contact-ledger-evidence/v1 bundle");
  }
  Evidence evidence;
  for (auto [field, out] :
       {std::pair{"tenant", &evidence.tenant}, std::pair{"subject", &evidence.subject},
        std::pair{"id", &evidence.id}}) {
    auto text = Text(o, field);
    if (!text.ok()) return text.status();
    *out = std::string(*text);
  }
  auto key = HexField(o, "public_key", proofs::PublicKeyFromHex);
  if (!key.ok()) return key.status();
  evidence.public_key = *key;
  const json::value* head = o.if_contains("head");
  if (head == nullptr || !head->is_object()) return Invalid("head", "an object is required");
  auto parsed_head = TreeHeadFromJson(head->as_object());
  if (!parsed_head.ok()) return parsed_head.status();
  evidence.head = *parsed_head;
  const json::value* events = o.if_contains("events");
  if (events == nullptr || !events->is_array()) return Invalid("events", "an array is required");
  for (const json::value& v : events->as_array()) {
    auto item = EvidenceItemFromJson(v);
    if (!item.ok()) return item.status();
    evidence.events.push_back(std::move(item).value());
  }
  return evidence;
}

json::object ToJson(const proofs::ErasureCertificate& c) {
  json::array positions;
  for (uint64_t p : c.unreadable_positions) positions.push_back(p);
  return json::object{{"tenant", c.tenant},
                      {"subject", c.subject},
                      {"id", c.id},
                      {"reason", c.reason},
                      {"actor", json::object{{"id", c.actor.id}, {"role", c.actor.role}}},
                      {"erased_at", base::Rfc3339Micros(c.erased_at_us)},
                      {"erased_at_us", c.erased_at_us},
                      {"position", c.position},
                      {"unreadable_positions", std::move(positions)},
                      {"key_id", c.key_id},
                      {"tree_size", c.tree_size},
                      {"root_hash", base::Hex(c.root)},
                      {"signing_key_id", c.signing_key_id},
                      {"signature", base::Hex(c.signature)}};
}

Result<proofs::ErasureCertificate> ErasureCertificateFromJson(const json::object& o) {
  // Only fields the signature covers (and the readable time, held to them below): a reader of
  // the file must not be shown anything the signature does not vouch for.
  static constexpr std::string_view kFields[] = {"tenant",       "subject",
                                                 "id",           "reason",
                                                 "actor",        "erased_at",
                                                 "erased_at_us", "position",
                                                 "key_id",       "tree_size",
                                                 "root_hash",    "signing_key_id",
                                                 "signature",    "unreadable_positions"};
  for (const auto& field : o) {
    if (std::find(std::begin(kFields), std::end(kFields), std::string_view(field.key())) ==
        std::end(kFields)) {
      return Invalid(std::string(field.key()), "not a field of an erasure certificate");
    }
  }
  proofs::ErasureCertificate c;
  for (auto [key, field] :
       {std::pair{"tenant", &c.tenant}, std::pair{"subject", &c.subject}, std::pair{"id", &c.id},
        std::pair{"reason", &c.reason}, std::pair{"key_id", &c.key_id},
        std::pair{"signing_key_id", &c.signing_key_id}}) {
    auto text = Text(o, key);
    if (!text.ok()) return text.status();
    *field = std::string(*text);
  }
  const json::value* actor = o.if_contains("actor");
  if (actor == nullptr || !actor->is_object()) return Invalid("actor", "an object is required");
  auto actor_id = Text(actor->as_object(), "id");
  auto actor_role = Text(actor->as_object(), "role");
  if (!actor_id.ok()) return actor_id.status();
  if (!actor_role.ok()) return actor_role.status();
  c.actor = {std::string(*actor_id), std::string(*actor_role)};
  auto erased_at = Number(o, "erased_at_us");
  auto position = Number(o, "position");
  auto tree_size = Number(o, "tree_size");
  auto root = HexField(o, "root_hash", proofs::HashFromHex);
  auto signature = HexField(o, "signature", proofs::SignatureFromHex);
  if (!erased_at.ok()) return erased_at.status();
  if (*erased_at > static_cast<uint64_t>(INT64_MAX)) {
    return Invalid("erased_at_us", "past the largest signed 64-bit number");
  }
  if (!position.ok()) return position.status();
  if (!tree_size.ok()) return tree_size.status();
  if (!root.ok()) return root.status();
  if (!signature.ok()) return signature.status();
  c.erased_at_us = static_cast<int64_t>(*erased_at);
  if (const json::value* shown = o.if_contains("erased_at");
      shown != nullptr &&
      (!shown->is_string() || shown->as_string() != base::Rfc3339Micros(c.erased_at_us))) {
    return Invalid("erased_at", "does not read erased_at_us, which the signature covers");
  }
  c.position = *position;
  c.tree_size = *tree_size;
  c.root = *root;
  c.signature = *signature;
  const json::value* positions = o.if_contains("unreadable_positions");
  if (positions == nullptr || !positions->is_array()) {
    return Invalid("unreadable_positions", "an array is required");
  }
  for (const json::value& p : positions->as_array()) {
    if (!p.is_uint64() && !(p.is_int64() && p.as_int64() >= 0)) {
      return Invalid("unreadable_positions", "positions are non-negative integers");
    }
    c.unreadable_positions.push_back(p.is_uint64() ? p.as_uint64()
                                                   : static_cast<uint64_t>(p.as_int64()));
  }
  return c;
}

}  // namespace cledger::api
