// Commands: what callers ask the engine to do. Each becomes one atomic commit of events,
// or a named rejection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cledger/events.h"
#include "cledger/views.h"

namespace cledger {

// Who asks, for which tenant, and how the request may be retried.
struct CommandContext {
  std::string tenant;                        // empty only for ops commands
  Actor actor;                               // its role decides what is allowed
  std::string idempotency_key;               // a retry with the same key appends nothing
  std::optional<uint64_t> expected_version;  // the target record's version (If-Match)
  std::string correlation_id;
  // The outcome carries the contact or customer as the command left it (CommandOutcome).
  bool wants_record = false;
};

// A portal password: generated (returned once) or given (checked against the policy).
struct PasswordChoice {
  bool generate = false;
  std::string password;  // plaintext; hashed before it reaches the writer, never stored
};

struct CreateTenant {
  std::string name;
  std::string plan = "standard";  // free | standard
  // Contact fields every contact of the tenant must have, e.g. {"last_name", "phones"}.
  std::vector<std::string> required_fields;
};
struct IssueToken {
  std::string tenant;  // empty with role "ops"
  std::string actor_id;
  std::string role;
  int64_t expires_in_s = 0;  // from the issue on; 0: the token never expires
};
struct RevokeToken {
  std::string token;       // the bearer token itself, or
  std::string token_hash;  // its SHA-256 in hex, as returned when it was issued
};
struct CreateCustomer {
  std::string id;  // generated when empty
  std::string name;
  std::string email;        // one or more addresses, comma-separated
  std::string bill_format;  // short | long | full; empty means long
};
struct UpdateCustomer {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> email;
  std::optional<std::string> bill_format;
};
struct DeleteCustomer {
  std::string id;
};
struct CreateContact {
  std::string id;           // generated when empty
  std::string customer_id;  // empty: a shared contact
  ContactFields fields;
  std::optional<bool> portal_enabled;  // default: on when the contact has an email
  std::optional<PasswordChoice> password;
};
// Changes some fields of a contact; the rest stay as they are.
using ContactPatch = std::function<void(ContactFields&)>;
struct EditContact {
  std::string id;
  ContactPatch patch;
};
struct ShareContact {
  std::string contact_id;
  std::string customer_id;
};
struct UnlinkContact {
  std::string contact_id;
  std::string customer_id;
};
struct ConvertToShared {
  std::string contact_id;
};
struct SetLinkRoles {
  std::string customer_id;
  std::string contact_id;
  std::vector<std::string> roles;  // primary | billing | order | shipment
};
struct DeleteContact {
  std::string id;
};
struct RestoreContact {
  std::string id;
};
struct ResetPassword {
  std::string contact_id;
  PasswordChoice password;
};

// Erases the personal data of a contact or a customer for good (FORMAT.md, "Personal data").
// Only Engine::Erase runs them: it names the data key and destroys it after the commit.
struct EraseContact {
  std::string id;
  std::string reason;  // required: why, kept in the ledger
  std::string key_id;  // set by the engine
};
struct EraseCustomer {
  std::string id;
  std::string reason;
  std::string key_id;
};

using Command = std::variant<CreateTenant, IssueToken, RevokeToken, CreateCustomer, UpdateCustomer,
                             DeleteCustomer, CreateContact, EditContact, ShareContact,
                             UnlinkContact, ConvertToShared, SetLinkRoles, DeleteContact,
                             RestoreContact, ResetPassword, EraseContact, EraseCustomer>;

struct CommandOutcome {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  bool replayed = false;           // an earlier command with the same idempotency key answered
  std::string id;                  // the record the command created or changed
  uint64_t version = 0;            // that record's version after the command
  std::string temporary_password;  // a generated password, returned this once
  std::string token;               // an issued API token, returned this once
  std::string token_hash;          // its SHA-256 in hex: how ops name it to revoke it
  // With CommandContext::wants_record, the record as this command left it (not a retry's):
  // read where the command was folded, so no read after it can see a later one instead.
  std::optional<ContactView> contact;
  std::optional<CustomerView> customer;
};

}  // namespace cledger
