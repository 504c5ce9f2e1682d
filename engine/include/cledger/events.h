// Events as plain C++ values. The ledger stores them as FlatBuffers (schemas/events.fbs);
// these types mirror that schema field for field and keep FlatBuffers out of the API. Every
// layer folds or encodes them, so this header declares types and inline functions only.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "cledger/status.h"

namespace cledger {

using Hash = std::array<uint8_t, 32>;

struct Actor {
  std::string id;
  std::string role;
  bool operator==(const Actor&) const = default;
};

struct Phone {
  std::string type;
  std::string number;
  bool operator==(const Phone&) const = default;
};

struct Address {
  std::vector<std::string> lines;
  std::string postcode;
  std::string country;
  bool operator==(const Address&) const = default;
};

struct Communication {
  std::vector<std::string> regarding;
  std::string email_bill = "none";
  std::string usage_report_profile;
  std::vector<std::string> copy_correspondence;
  std::vector<std::string> copy_ticket_updates;
  bool operator==(const Communication&) const = default;
};

struct ContactFields {
  std::string contact_type;
  std::string title;
  std::string first_name;
  std::string last_name;
  std::string company_name;
  std::string position;
  std::string department;
  std::string email;
  std::vector<Phone> phones;
  Address address;
  std::string website;
  std::string dealer_code;
  bool portal_enabled = false;
  Communication communication;
  bool operator==(const ContactFields&) const = default;
};

struct TenantCreated {
  std::string name;
  std::string plan;
  std::vector<std::string> required_fields;
  bool operator==(const TenantCreated&) const = default;
};
struct TokenIssued {
  std::string token_hash;
  Actor actor;
  int64_t expires_at_us = 0;  // 0: never
  bool operator==(const TokenIssued&) const = default;
};
struct TokenRevoked {
  std::string token_hash;
  bool operator==(const TokenRevoked&) const = default;
};
struct CustomerCreated {
  std::string customer_id;
  std::string name;
  std::string email;
  std::string bill_format;
  bool operator==(const CustomerCreated&) const = default;
};
struct CustomerUpdated {
  std::string customer_id;
  std::string name;
  std::string email;
  std::string bill_format;
  bool operator==(const CustomerUpdated&) const = default;
};
struct CustomerDeleted {
  std::string customer_id;
  bool operator==(const CustomerDeleted&) const = default;
};
struct ContactCreated {
  std::string contact_id;
  std::string customer_id;  // empty: a shared contact
  ContactFields fields;
  bool operator==(const ContactCreated&) const = default;
};
struct ContactEdited {
  std::string contact_id;
  ContactFields fields;
  bool operator==(const ContactEdited&) const = default;
};
struct ContactShared {
  std::string contact_id;
  std::string customer_id;
  bool operator==(const ContactShared&) const = default;
};
struct ContactUnlinked {
  std::string contact_id;
  std::string customer_id;
  bool operator==(const ContactUnlinked&) const = default;
};
struct ContactConvertedToShared {
  std::string contact_id;
  std::string customer_id;
  bool operator==(const ContactConvertedToShared&) const = default;
};
struct ContactRolesChanged {
  std::string contact_id;
  std::string customer_id;
  std::vector<std::string> roles;
  bool operator==(const ContactRolesChanged&) const = default;
};
struct ContactDeleted {
  std::string contact_id;
  bool operator==(const ContactDeleted&) const = default;
};
struct ContactRestored {
  std::string contact_id;
  bool operator==(const ContactRestored&) const = default;
};
struct ContactPasswordReset {
  std::string contact_id;
  std::string password_hash;
  bool must_change = false;
  bool generated = false;
  bool operator==(const ContactPasswordReset&) const = default;
};

struct ContactErased {
  std::string contact_id;
  std::string reason;
  std::string key_id;  // the destroyed data key; empty when the contact had none
  bool operator==(const ContactErased&) const = default;
};
struct CustomerErased {
  std::string customer_id;
  std::string reason;
  std::string key_id;
  bool operator==(const CustomerErased&) const = default;
};

// In the order of the schema's `Body` union; append only.
using EventBody =
    std::variant<TenantCreated, TokenIssued, TokenRevoked, CustomerCreated, CustomerUpdated,
                 CustomerDeleted, ContactCreated, ContactEdited, ContactShared, ContactUnlinked,
                 ContactConvertedToShared, ContactRolesChanged, ContactDeleted, ContactRestored,
                 ContactPasswordReset, ContactErased, CustomerErased>;

// Each event type's contract name, in EventBody's order: the names of the schema's `Body`
// union (events/codec.cc and its test hold the two equal). Append only.
inline constexpr std::array<std::string_view, std::variant_size_v<EventBody>> kEventTypeNames = {
    "TenantCreated",
    "TokenIssued",
    "TokenRevoked",
    "CustomerCreated",
    "CustomerUpdated",
    "CustomerDeleted",
    "ContactCreated",
    "ContactEdited",
    "ContactShared",
    "ContactUnlinked",
    "ContactConvertedToShared",
    "ContactRolesChanged",
    "ContactDeleted",
    "ContactRestored",
    "ContactPasswordReset",
    "ContactErased",
    "CustomerErased"};

// The event type's contract name, e.g. "ContactShared".
inline std::string_view EventTypeName(const EventBody& body) {
  return kEventTypeNames[body.index()];
}
inline bool IsEventTypeName(std::string_view name) {
  return std::find(kEventTypeNames.begin(), kEventTypeNames.end(), name) != kEventTypeNames.end();
}

// The personal fields of a contact (FORMAT.md, "Personal data"): `f(a.x, b.x)` for each of
// them, so one list serves sealing, opening and erasing. Every other field is not personal.
template <typename F>
void ForEachPersonalField(ContactFields& a, ContactFields& b, F f) {
  f(a.title, b.title);
  f(a.first_name, b.first_name);
  f(a.last_name, b.last_name);
  f(a.company_name, b.company_name);
  f(a.position, b.position);
  f(a.department, b.department);
  f(a.email, b.email);
  f(a.phones, b.phones);
  f(a.address, b.address);
  f(a.website, b.website);
  f(a.communication.copy_correspondence, b.communication.copy_correspondence);
  f(a.communication.copy_ticket_updates, b.communication.copy_ticket_updates);
}
// A customer's: its name and email (CustomerCreated, CustomerUpdated, the customer view).
template <typename A, typename B, typename F>
requires(!std::is_same_v<A, ContactFields>) void ForEachPersonalField(A& a, B& b, F f) {
  f(a.name, b.name);
  f(a.email, b.email);
}
// Blanks every personal field of `record` (contact fields, or a customer's).
template <typename T>
void BlankPersonal(T& record) {
  T blank;
  ForEachPersonalField(record, blank, [](auto& field, auto& empty) { field = std::move(empty); });
}

// Where an event's personal fields (names, emails, phones, address, …: FORMAT.md, "Personal
// data") are, as a reader got it.
enum class Personal : uint8_t {
  kInBody,      // in the body, in the clear (or the event carries none)
  kErased,      // sealed under a data key destroyed by an erasure: blank in the body, for good
  kUnreadable,  // sealed under a key this process does not hold: blank in the body
};

// An event as recorded in the ledger.
struct Event {
  uint64_t position = 0;
  std::string tenant;
  std::string stream;
  uint64_t stream_version = 0;
  std::string event_id;
  std::string correlation_id;
  int64_t recorded_at_us = 0;
  Actor actor;
  uint32_t schema_version = 0;
  Hash prev_hash{};
  Hash hash{};
  EventBody body;
  // As stored, the body's personal fields are sealed here under their subject's data key and
  // absent from the body; readers in the engine get them back in the body.
  std::string personal_key_id;
  std::string personal_box;
  Personal personal = Personal::kInBody;  // never stored
  bool operator==(const Event&) const = default;
};

// Verifies one event's bytes (a FlatBuffer with the "CLEV" identifier, as Ledger::ReadRaw and
// ReadRedacted return them and the HTTP API's raw frames carry them) and decodes them; fails
// with kCorruption, reason "corrupt_event", on anything else.
Result<Event> DecodeEvent(std::string_view bytes);

// SHA-256 of `data` in lowercase hex: how a token's hash (RevokeToken::token_hash) is made.
std::string Sha256Hex(std::string_view data);

}  // namespace cledger
