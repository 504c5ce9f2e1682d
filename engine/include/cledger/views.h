// What readers see: projections of the ledger, folded from its events.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cledger/events.h"

namespace cledger {

// One (customer, contact) link and the roles it carries: primary, billing, order, shipment.
struct Link {
  std::string customer_id;
  std::vector<std::string> roles;
  bool operator==(const Link&) const = default;
};

// System Information shared by contacts and customers. Times are UTC microseconds.
struct SystemInfo {
  int64_t created_us = 0;
  int64_t last_modified_us = 0;
  std::optional<int64_t> deleted_us;  // the most recent deletion, kept after a restore
  uint64_t version = 0;               // the record's stream version
  bool operator==(const SystemInfo&) const = default;
};

struct ContactView {
  std::string id;
  std::string owner_customer_id;  // a direct contact's customer; empty once shared
  bool shared = false;
  bool deleted = false;
  bool profile = false;  // the read-only contact derived from a customer's first email
  ContactFields fields;
  std::vector<Link> customers;
  bool has_password = false;  // whether a portal password is set; never the hash itself
  bool password_must_change = false;
  SystemInfo system;
  // Its personal data was erased (FORMAT.md, "Personal data"): those fields read empty.
  bool erased = false;
  bool operator==(const ContactView&) const = default;
};

struct CustomerView {
  std::string id;
  std::string name;
  std::string email;
  std::string bill_format;
  bool deleted = false;
  SystemInfo system;
  bool erased = false;  // its name and email were erased
  bool operator==(const CustomerView&) const = default;
};

struct TenantView {
  std::string name;
  std::string plan;
  std::vector<std::string> required_fields;  // contact fields required beyond the defaults
};

// Who a bearer token stands for. `tenant` is empty for an ops token.
struct Principal {
  std::string tenant;
  Actor actor;
  // When the token expires (nullopt: never). Not part of a token's record: Authenticate
  // fills it in.
  std::optional<int64_t> expires_at_us;
};

// A token that was issued and not revoked, as ops list it: never the token itself.
struct TokenInfo {
  std::string token_hash;  // its recorded digest: what revocation takes
  Principal principal;
  int64_t issued_at_us = 0;
  std::optional<int64_t> expires_at_us;  // nullopt: never
};

enum class ContactStatus { kActive, kInactive, kAll };

struct Recipient {
  std::string email;
  std::string contact_id;   // empty for the customer's own address
  std::string bill_format;  // invoices only
  bool operator==(const Recipient&) const = default;
};

// One field's change in an audit entry; secrets read "[redacted]".
struct FieldChange {
  std::string field;
  std::string before;
  std::string after;
  bool operator==(const FieldChange&) const = default;
};

struct AuditEntry {
  uint64_t position = 0;
  int64_t recorded_at_us = 0;
  Actor actor;
  std::string stream;
  std::string operation;  // the event type
  std::vector<FieldChange> changes;
  // Read from the log with the entry (the audit projection does not keep them): the event's
  // hash, lowercase hex, and the correlation id of the request that made it.
  std::string event_hash;
  std::string correlation_id;
  bool operator==(const AuditEntry&) const = default;
};

}  // namespace cledger
