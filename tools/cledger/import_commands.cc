// cledger import's parsing: one JSON line into a Command and its idempotency key.
#include "tools/cledger/import_commands.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "cledger/json.h"
#include "tools/cledger/audit_common.h"

namespace cledger::cli::audit_tools {
namespace {

// A caller's key as a message may quote it: short, and without control characters.
std::string SafeKey(std::string_view key) {
  std::string out = Printable(key.substr(0, 40));
  return key.size() > 40 ? out + "..." : out;
}

// Moves the string `key` out of `o` into `out`; an absent key is an error when `required`.
Status Take(json::object& o, std::string_view key, std::string& out, bool required = true) {
  const std::string name(key);
  auto it = o.find(json::string_view(key.data(), key.size()));
  if (it == o.end()) {
    return required ? Status::InvalidArgument("required", name + " is required", name)
                    : Status::Ok();
  }
  if (!it->value().is_string()) {
    return Status::InvalidArgument("invalid_type", name + " must be a string", name);
  }
  out = std::string(it->value().get_string());
  o.erase(it);
  return Status::Ok();
}

// The first key of `o` not in `allowed` is an unknown field.
Status OnlyKeys(const json::object& o, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (std::ranges::find(allowed, key) == allowed.end()) {
      return Status::InvalidArgument("unknown_field", "unknown field \"" + SafeKey(key) + "\"",
                                     SafeKey(key));
    }
  }
  return Status::Ok();
}

template <typename T>
Result<Command> AsCommand(Result<T> parsed) {
  if (!parsed.ok()) return parsed.status();
  return Command(std::move(parsed).value());
}

Result<Command> BuildUpdateCustomer(json::object& o) {
  std::string id;
  if (Status s = Take(o, "id", id); !s.ok()) return s;
  auto update = api::UpdateCustomerFromJson(o);
  if (update.ok()) update->id = id;
  return AsCommand(std::move(update));
}

Result<Command> BuildCreateContact(json::object& o) {
  if (o.contains("password")) {
    return Status(Code::kInvalidArgument, "not_importable",
                  "passwords are not importable; set them through the API after the import",
                  "password");
  }
  std::string customer_id;
  if (Status s = Take(o, "customer_id", customer_id, false); !s.ok()) return s;
  return AsCommand(api::CreateContactFromJson(o, customer_id));
}

Result<Command> BuildEditContact(json::object& o) {
  std::string id;
  if (Status s = Take(o, "id", id); !s.ok()) return s;
  auto patch = api::ContactPatchFromJson(o);
  if (!patch.ok()) return patch.status();
  return Command(EditContact{id, std::move(patch).value()});
}

// {id}: DeleteCustomer, ConvertToShared, DeleteContact, RestoreContact.
template <typename T>
Result<Command> BuildById(json::object& o) {
  std::string id;
  Status s = OnlyKeys(o, {"id"});
  if (s.ok()) s = Take(o, "id", id);
  if (!s.ok()) return s;
  return Command(T{id});
}

// {id, customer_id}: ShareContact, UnlinkContact.
template <typename T>
Result<Command> BuildLink(json::object& o) {
  std::string id;
  std::string customer_id;
  Status s = OnlyKeys(o, {"id", "customer_id"});
  if (s.ok()) s = Take(o, "id", id);
  if (s.ok()) s = Take(o, "customer_id", customer_id);
  if (!s.ok()) return s;
  return Command(T{id, customer_id});
}

Result<Command> BuildSetRoles(json::object& o) {
  std::string customer_id;
  std::string contact_id;
  Status s = OnlyKeys(o, {"customer_id", "contact_id", "roles"});
  if (s.ok()) s = Take(o, "customer_id", customer_id);
  if (s.ok()) s = Take(o, "contact_id", contact_id);
  if (!s.ok()) return s;
  auto roles = api::RolesFromJson(o);
  if (!roles.ok()) return roles.status();
  return Command(SetLinkRoles{customer_id, contact_id, std::move(roles).value()});
}

struct Importable {
  std::string_view name;
  Result<Command> (*build)(json::object&);
};

constexpr std::array<Importable, 11> kImportable = {{
    {"create_customer", [](json::object& o) { return AsCommand(api::CreateCustomerFromJson(o)); }},
    {"update_customer", BuildUpdateCustomer},
    {"delete_customer", BuildById<DeleteCustomer>},
    {"create_contact", BuildCreateContact},
    {"edit_contact", BuildEditContact},
    {"share_contact", BuildLink<ShareContact>},
    {"unlink_contact", BuildLink<UnlinkContact>},
    {"convert_to_shared", BuildById<ConvertToShared>},
    {"set_roles", BuildSetRoles},
    {"delete_contact", BuildById<DeleteContact>},
    {"restore_contact", BuildById<RestoreContact>},
}};

// Commands that exist but have no place in a migration file: a password would sit in it in
// plain text, and tenants and tokens are ops work with commands of their own.
Status NotImportable(std::string_view name) {
  const std::string why = name.find("password") != std::string_view::npos
                              ? "password resets are not importable; reset them through the API"
                              : "ops commands are not importable; use cledger tenant or token";
  return Status(Code::kInvalidArgument, "not_importable", why, "command");
}

Result<Command> CommandFromJson(const std::string& name, json::object& o) {
  for (const Importable& known : kImportable) {
    if (known.name == name) return known.build(o);
  }
  for (std::string_view never : {"reset_password", "password_reset", "set_password",
                                 "create_tenant", "issue_token", "revoke_token"}) {
    if (never == name) return NotImportable(name);
  }
  std::string names;
  for (const Importable& known : kImportable) {
    names += (names.empty() ? "" : ", ") + std::string(known.name);
  }
  return Status::InvalidArgument(
      "unknown_command", "unknown command \"" + SafeKey(name) + "\"; one of " + names, "command");
}

}  // namespace

// The command on one line. Without an idempotency_key the line's own bytes name it, so the
// same line run again, in this file or a re-run of it, is recognised and appends nothing.
Result<ImportCommand> ParseLine(std::string_view line) {
  auto o = api::ParseObject(line);
  if (!o.ok()) {  // the parser speaks of request bodies
    std::string message = o.status().message();
    if (message.starts_with("the body")) message.replace(0, 8, "the line");
    return Status(o.status().code(), o.status().reason(), message, o.status().field());
  }
  std::string name;
  std::string key;
  const bool keyed = o->contains("idempotency_key");
  Status s = Take(*o, "command", name);
  if (s.ok()) s = Take(*o, "idempotency_key", key, false);
  if (s.ok() && keyed && key.empty()) {
    s = Status::InvalidArgument("invalid_value",
                                "idempotency_key must not be empty; leave it out to derive one",
                                "idempotency_key");
  }
  if (!s.ok()) return s;
  auto command = CommandFromJson(name, *o);
  if (!command.ok()) return command.status();
  if (key.empty()) key = "import-" + Sha256Hex(line).substr(0, 32);
  return ImportCommand{std::move(command).value(), std::move(key)};
}

}  // namespace cledger::cli::audit_tools
