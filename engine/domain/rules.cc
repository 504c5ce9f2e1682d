#include "engine/domain/rules.h"

#include <algorithm>
#include <set>

#include "cledger/limits.h"
#include "engine/domain/roles.h"
#include "engine/domain/validate.h"
#include "engine/store/errors.h"
#include "projections/views.h"

namespace cledger::domain {
namespace {

namespace pj = projections;

constexpr std::array<std::string_view, 4> kLinkRoles = {"primary", "billing", "order", "shipment"};

Status Conflict(std::string reason, std::string message) {
  return Status(Code::kConflict, std::move(reason), std::move(message));
}

// An erasure's reason: required, one line of at most 500 characters (it stays in the ledger; it
// should name the request, not the person).
Status ErasureReason(const std::string& reason) {
  if (reason.find_first_not_of(" \t") == std::string::npos) {
    return Status::InvalidArgument("required", "an erasure needs a reason", "reason");
  }
  // Characters, as the schema's maxLength counts them: in valid UTF-8, every byte but the
  // continuations.
  const auto characters = [&] {
    return std::count_if(reason.begin(), reason.end(),
                         [](unsigned char c) { return (c & 0xC0) != 0x80; });
  };
  if (!IsValidUtf8(reason) || HasControlOrDirectionMark(reason) || characters() > 500) {
    return Status::InvalidArgument(
        "invalid_field",
        "a reason is one line of at most 500 characters, without control or text-direction "
        "characters",
        "reason");
  }
  return Status::Ok();
}
Status AlreadyErased() {
  return Conflict("already_erased", "this personal data is already erased");
}
Status ErasedRecord(const std::string& what) {
  return Conflict(what + "_erased",
                  "the " + what + "'s personal data was erased; it cannot be edited again");
}

// The contact fields a tenant may require (seed 003), and whether `f` has a value for one.
std::optional<std::string_view> FieldValue(const ContactFields& f, std::string_view field) {
  const std::pair<std::string_view, const std::string*> text[] = {
      {"contact_type", &f.contact_type},
      {"title", &f.title},
      {"first_name", &f.first_name},
      {"last_name", &f.last_name},
      {"company_name", &f.company_name},
      {"position", &f.position},
      {"department", &f.department},
      {"email", &f.email},
      {"website", &f.website},
      {"dealer_code", &f.dealer_code},
      {"address.postcode", &f.address.postcode},
      {"address.country", &f.address.country}};
  for (const auto& [name, value] : text) {
    if (name == field) return std::string_view(*value);
  }
  if (field == "phones") return f.phones.empty() ? "" : "set";
  if (field == "address.lines") return f.address.lines.empty() ? "" : "set";
  return std::nullopt;
}
bool RequirableField(std::string_view field) {
  return FieldValue(ContactFields{}, field).has_value();
}
bool HasValue(const ContactFields& f, std::string_view field) {
  auto value = FieldValue(f, field);
  return value && value->find_first_not_of(" \t") != std::string_view::npos;
}

// Ids are short, URL-safe and never pose as a profile contact.
Status CheckId(std::string_view id, const char* field) {
  const bool ok = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (!ok) {
    return Status::InvalidArgument("invalid_id", "ids are 1-64 letters, digits, '-' or '_'", field);
  }
  if (id.starts_with(kProfilePrefix)) {
    return Status::InvalidArgument("invalid_id", "ids starting with 'profile-' are reserved",
                                   field);
  }
  return Status::Ok();
}

// Builds the commit of one decision.
class Draft {
 public:
  Draft(const CommandContext& context, std::string id, std::string stream) {
    decision_.commit.tenant = context.tenant;
    decision_.commit.actor = context.actor;
    decision_.commit.correlation_id = context.correlation_id;
    if (context.expected_version) decision_.commit.expected = {{stream, *context.expected_version}};
    decision_.id = std::move(id);
    decision_.stream = std::move(stream);
  }
  Draft& Add(std::string stream, EventBody body) {
    decision_.commit.events.push_back({std::move(stream), std::move(body)});
    return *this;
  }
  Draft& Add(EventBody body) { return Add(decision_.stream, std::move(body)); }
  Decision Done() { return std::move(decision_); }

 private:
  Decision decision_;
};

class Rules {
 public:
  Rules(const CommandContext& context, const Prepared& prepared, Views& views)
      : ctx_(context), prep_(prepared), views_(views) {}

  Result<Decision> operator()(const CreateTenant& c) {
    if (Status s = CheckId(c.name, "name"); !s.ok()) return s;
    if (c.plan != "free" && c.plan != "standard") {
      return Status::InvalidArgument("invalid_enum", "plan is free or standard", "plan");
    }
    for (size_t i = 0; i < c.required_fields.size(); ++i) {
      if (!RequirableField(c.required_fields[i])) {
        return Status::InvalidArgument("invalid_enum", "not a contact field that can be required",
                                       "required_fields[" + std::to_string(i) + "]");
      }
    }
    auto existing = pj::GetTenant(views_.tenants, c.name);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      return Conflict("tenant_exists", "tenant '" + c.name + "' already exists");
    }
    CommandContext as_tenant = ctx_;
    as_tenant.tenant = c.name;
    return Draft(as_tenant, c.name, std::string(kTenantStreams).append(c.name))
        .Add(TenantCreated{c.name, c.plan, c.required_fields})
        .Done();
  }

  Result<Decision> operator()(const IssueToken& c) {
    const std::optional<Role> role = ParseRole(c.role);
    if (!role) {
      return Status::InvalidArgument(
          "invalid_enum", "role is owner, admin, manager, member, auditor, service or ops", "role");
    }
    // A token that sees every tenant belongs to none.
    const bool ops = Can(*role, Action::kReadEveryTenant);
    if (ops != c.tenant.empty()) {
      return Status::InvalidArgument(
          "invalid_tenant", "an ops token has no tenant; every other token has one", "tenant");
    }
    if (!ops) {
      auto tenant = pj::GetTenant(views_.tenants, c.tenant);
      if (!tenant.ok()) return tenant.status();
      if (!*tenant) return RecordNotFound("tenant", c.tenant);
    }
    if (Status s = CheckId(c.actor_id, "actor"); !s.ok()) return s;
    if (c.expires_in_s < 0 || c.expires_in_s > limits::kTokenLifetimeMaxSeconds) {
      return Status::InvalidArgument(
          "invalid_expiry", "a token expires in 1 second to 10 years, or never (0)", "expires_in");
    }
    CommandContext as_tenant = ctx_;
    as_tenant.tenant = c.tenant;
    // Named by a random id: nothing derived from the token is readable in a stream's name.
    return Draft(as_tenant, c.actor_id, std::string(kTokenStreams).append(prep_.new_id))
        .Add(TokenIssued{prep_.token_hash, {c.actor_id, c.role}, prep_.token_expires_at_us})
        .Done();
  }

  Result<Decision> operator()(const RevokeToken&) {
    auto principal = pj::GetTokenPrincipal(views_.tenants, prep_.token_hash);
    if (!principal.ok()) return principal.status();
    if (!*principal)
      return Status::NotFound("token_not_found",
                              "no such token: never issued, or revoked already (nothing changed)");
    auto stream = pj::GetTokenStream(views_.tenants, prep_.token_hash);
    if (!stream.ok()) return stream.status();
    CommandContext as_tenant = ctx_;
    as_tenant.tenant = (*principal)->tenant;
    return Draft(as_tenant, (*principal)->actor.id, *stream)
        .Add(TokenRevoked{prep_.token_hash})
        .Done();
  }

  Result<Decision> operator()(const CreateCustomer& c) {
    if (Status s = CustomerAccess(); !s.ok()) return s;
    const std::string id = c.id.empty() ? prep_.new_id : c.id;
    if (Status s = CheckId(id, "id"); !s.ok()) return s;
    if (Status s = ValidateCustomerFields(c.name, c.email, c.bill_format); !s.ok()) return s;
    auto existing = pj::GetCustomer(views_.customers, ctx_.tenant, id);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      return Conflict("customer_exists", "customer '" + id + "' already exists");
    }
    const std::string format = c.bill_format.empty() ? "long" : c.bill_format;
    return Draft(ctx_, id, CustomerStream(id))
        .Add(CustomerCreated{id, c.name, JoinEmails(c.email), format})
        .Done();
  }

  Result<Decision> operator()(const UpdateCustomer& c) {
    auto customer = LiveCustomer(c.id);
    if (!customer.ok()) return customer.status();
    if (customer->erased) return ErasedRecord("customer");
    CustomerUpdated updated{c.id, c.name.value_or(customer->name),
                            c.email.value_or(customer->email),
                            c.bill_format.value_or(customer->bill_format)};
    if (Status s = ValidateCustomerFields(updated.name, updated.email, updated.bill_format);
        !s.ok()) {
      return s;
    }
    updated.email = JoinEmails(updated.email);
    if (updated.bill_format.empty()) updated.bill_format = "long";
    return Draft(ctx_, c.id, CustomerStream(c.id)).Add(std::move(updated)).Done();
  }

  // Direct contacts die with their customer; shared ones are unlinked and live on.
  Result<Decision> operator()(const DeleteCustomer& c) {
    auto customer = LiveCustomer(c.id);
    if (!customer.ok()) return customer.status();
    Draft draft(ctx_, c.id, CustomerStream(c.id));
    draft.Add(CustomerDeleted{c.id});
    auto links = pj::LinksOf(views_.links, ctx_.tenant, c.id);
    if (!links.ok()) return links.status();
    for (const auto& link : *links) {
      auto contact = pj::GetContact(views_.contacts, ctx_.tenant, link.contact_id);
      if (!contact.ok()) return contact.status();
      if (!*contact) continue;
      if ((*contact)->shared) {
        draft.Add(ContactStream((*contact)->id), ContactUnlinked{(*contact)->id, c.id});
      } else if (!(*contact)->deleted) {
        draft.Add(ContactStream((*contact)->id), ContactDeleted{(*contact)->id});
      }
    }
    return draft.Done();
  }

  Result<Decision> operator()(const CreateContact& c) {
    if (Status s = ContactAccess(); !s.ok()) return s;
    if (!c.customer_id.empty()) {
      if (auto customer = LiveCustomer(c.customer_id); !customer.ok()) return customer.status();
    }
    const std::string id = c.id.empty() ? prep_.new_id : c.id;
    if (Status s = CheckId(id, "id"); !s.ok()) return s;
    ContactFields fields = c.fields;
    fields.portal_enabled = c.portal_enabled.value_or(!Trimmed(fields.email).empty());
    if (Status s = CheckContactFields(fields, id); !s.ok()) return s;
    auto existing = pj::GetContact(views_.contacts, ctx_.tenant, id);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      return Conflict("contact_exists", "contact '" + id + "' already exists");
    }
    if (c.password && !fields.portal_enabled) {
      return Conflict("portal_disabled", "a portal password needs portal access enabled");
    }
    if (!c.customer_id.empty()) {
      if (Status s = RoomForContact(c.customer_id); !s.ok()) return s;
    }
    Draft draft(ctx_, id, ContactStream(id));
    draft.Add(ContactCreated{id, c.customer_id, std::move(fields)});
    if (c.password) draft.Add(PasswordEvent(id));
    return draft.Done();
  }

  Result<Decision> operator()(const EditContact& c) {
    auto contact = LiveContact(c.id);
    if (!contact.ok()) return contact.status();
    if (contact->erased) return ErasedRecord("contact");
    ContactFields fields = contact->fields;
    c.patch(fields);
    if (Status s = CheckContactFields(fields, c.id); !s.ok()) return s;
    return Draft(ctx_, c.id, ContactStream(c.id))
        .Add(ContactEdited{c.id, std::move(fields)})
        .Done();
  }

  Result<Decision> operator()(const ShareContact& c) {
    auto contact = LiveContact(c.contact_id);
    if (!contact.ok()) return contact.status();
    if (auto customer = LiveCustomer(c.customer_id); !customer.ok()) return customer.status();
    if (!contact->shared) {
      return Conflict("contact_not_shared",
                      "a direct contact belongs to one customer; convert it to shared first");
    }
    if (IsLinked(*contact, c.customer_id)) {
      return Conflict("already_linked", "the contact is already linked to this customer");
    }
    if (Status s = RoomForContact(c.customer_id); !s.ok()) return s;
    return Draft(ctx_, c.contact_id, ContactStream(c.contact_id))
        .Add(ContactShared{c.contact_id, c.customer_id})
        .Done();
  }

  Result<Decision> operator()(const UnlinkContact& c) {
    auto contact = LiveContact(c.contact_id, /*allow_deleted=*/true);
    if (!contact.ok()) return contact.status();
    if (!IsLinked(*contact, c.customer_id)) {
      return Status(Code::kNotFound, "link_not_found",
                    "the contact is not linked to this customer");
    }
    if (!contact->shared) {
      return Conflict("contact_not_shared", "a direct contact is deleted, not unlinked");
    }
    return Draft(ctx_, c.contact_id, ContactStream(c.contact_id))
        .Add(ContactUnlinked{c.contact_id, c.customer_id})
        .Done();
  }

  // The contact stays linked to its customer, with the roles it holds there.
  Result<Decision> operator()(const ConvertToShared& c) {
    auto contact = LiveContact(c.contact_id);
    if (!contact.ok()) return contact.status();
    if (contact->shared) return Conflict("already_shared", "the contact is already shared");
    return Draft(ctx_, c.contact_id, ContactStream(c.contact_id))
        .Add(ContactConvertedToShared{c.contact_id, contact->owner_customer_id})
        .Done();
  }

  // At most one primary and one billing per customer: taking one clears it from the
  // contact that held it, in the same commit.
  Result<Decision> operator()(const SetLinkRoles& c) {
    auto contact = LiveContact(c.contact_id);
    if (!contact.ok()) return contact.status();
    if (auto customer = LiveCustomer(c.customer_id); !customer.ok()) return customer.status();
    if (!IsLinked(*contact, c.customer_id)) {
      return Status(Code::kNotFound, "link_not_found",
                    "the contact is not linked to this customer");
    }
    std::vector<std::string> roles;
    for (size_t i = 0; i < c.roles.size(); ++i) {
      if (std::find(kLinkRoles.begin(), kLinkRoles.end(), c.roles[i]) == kLinkRoles.end()) {
        return Status::InvalidArgument("invalid_enum",
                                       "a role is primary, billing, order or shipment",
                                       "roles[" + std::to_string(i) + "]");
      }
      if (std::find(roles.begin(), roles.end(), c.roles[i]) == roles.end()) {
        roles.push_back(c.roles[i]);
      }
    }
    std::sort(roles.begin(), roles.end());
    Draft draft(ctx_, c.contact_id, ContactStream(c.contact_id));
    draft.Add(ContactRolesChanged{c.contact_id, c.customer_id, roles});
    auto links = pj::LinksOf(views_.links, ctx_.tenant, c.customer_id);
    if (!links.ok()) return links.status();
    for (const auto& other : *links) {
      if (other.contact_id == c.contact_id) continue;
      std::vector<std::string> kept = other.roles;
      std::erase_if(kept, [&](const std::string& r) {
        return (r == "primary" || r == "billing") &&
               std::find(roles.begin(), roles.end(), r) != roles.end();
      });
      if (kept != other.roles) {
        draft.Add(ContactStream(other.contact_id),
                  ContactRolesChanged{other.contact_id, c.customer_id, kept});
      }
    }
    return draft.Done();
  }

  Result<Decision> operator()(const DeleteContact& c) {
    auto contact = LiveContact(c.id);
    if (!contact.ok()) return contact.status();
    return Draft(ctx_, c.id, ContactStream(c.id)).Add(ContactDeleted{c.id}).Done();
  }

  Result<Decision> operator()(const RestoreContact& c) {
    auto contact = LiveContact(c.id, /*allow_deleted=*/true);
    if (!contact.ok()) return contact.status();
    if (!contact->deleted) return Conflict("contact_not_deleted", "the contact is not deleted");
    if (!contact->shared) {
      auto owner = pj::GetCustomer(views_.customers, ctx_.tenant, contact->owner_customer_id);
      if (!owner.ok()) return owner.status();
      if (!*owner || (*owner)->deleted) {
        return Conflict("customer_deleted", "the contact's customer is deleted");
      }
    }
    if (Status s = EmailFree(contact->fields.email, c.id); !s.ok()) return s;
    if (!contact->shared) {  // a deleted shared contact still counts where it is linked
      if (Status s = RoomForContact(contact->owner_customer_id); !s.ok()) return s;
    }
    return Draft(ctx_, c.id, ContactStream(c.id)).Add(ContactRestored{c.id}).Done();
  }

  Result<Decision> operator()(const EraseContact& c) {
    if (Status s = CustomerAccess(); !s.ok()) return s;
    auto contact = pj::GetContact(views_.contacts, ctx_.tenant, c.id);
    if (!contact.ok()) return contact.status();
    if (!*contact) return RecordNotFound("contact", c.id);
    if (Status s = ErasureReason(c.reason); !s.ok()) return s;
    if ((*contact)->erased) return AlreadyErased();
    return Draft(ctx_, c.id, ContactStream(c.id))
        .Add(ContactErased{c.id, c.reason, c.key_id})
        .Done();
  }

  Result<Decision> operator()(const EraseCustomer& c) {
    if (Status s = CustomerAccess(); !s.ok()) return s;
    auto customer = pj::GetCustomer(views_.customers, ctx_.tenant, c.id);
    if (!customer.ok()) return customer.status();
    if (!*customer) return RecordNotFound("customer", c.id);
    if (Status s = ErasureReason(c.reason); !s.ok()) return s;
    if ((*customer)->erased) return AlreadyErased();
    return Draft(ctx_, c.id, CustomerStream(c.id))
        .Add(CustomerErased{c.id, c.reason, c.key_id})
        .Done();
  }

  Result<Decision> operator()(const ResetPassword& c) {
    auto contact = LiveContact(c.contact_id);
    if (!contact.ok()) return contact.status();
    if (contact->erased) return ErasedRecord("contact");  // no portal for an erased person
    if (!contact->fields.portal_enabled) {
      return Conflict("portal_disabled", "enable the contact's portal access first");
    }
    return Draft(ctx_, c.contact_id, ContactStream(c.contact_id))
        .Add(PasswordEvent(c.contact_id))
        .Done();
  }

 private:
  Status CustomerAccess() const {
    auto tenant = Tenant();
    return tenant.ok() ? Status::Ok() : tenant.status();
  }

  // The command's tenant; NotFound when there is none.
  Result<TenantView> Tenant() const {
    auto tenant = pj::GetTenant(views_.tenants, ctx_.tenant);
    if (!tenant.ok()) return tenant.status();
    if (!*tenant) return RecordNotFound("tenant", ctx_.tenant);
    return std::move(**tenant);
  }

  Status ContactAccess() const {
    if (Status s = CustomerAccess(); !s.ok()) return s;
    auto tenant = Tenant();
    if (!tenant.ok()) return tenant.status();
    if (tenant->plan == "free") {
      return Status(Code::kPermissionDenied, "plan_upgrade_required",
                    "managing contacts needs a plan upgrade");
    }
    return Status::Ok();
  }

  Result<CustomerView> LiveCustomer(const std::string& id) const {
    if (Status s = CustomerAccess(); !s.ok()) return s;
    auto customer = pj::GetCustomer(views_.customers, ctx_.tenant, id);
    if (!customer.ok()) return customer.status();
    if (!*customer || (*customer)->deleted) return RecordNotFound("customer", id);
    return std::move(**customer);
  }

  Result<ContactView> LiveContact(const std::string& id, bool allow_deleted = false) const {
    if (Status s = ContactAccess(); !s.ok()) return s;
    if (id.starts_with(kProfilePrefix)) {
      auto customer = pj::GetCustomer(views_.customers, ctx_.tenant, id.substr(8));
      if (!customer.ok()) return customer.status();
      if (*customer) {
        return Conflict("profile_contact_read_only",
                        "the profile contact follows the customer's email; edit the customer "
                        "profile instead");
      }
      return RecordNotFound("contact", id);
    }
    auto contact = pj::GetContact(views_.contacts, ctx_.tenant, id);
    if (!contact.ok()) return contact.status();
    if (!*contact) return RecordNotFound("contact", id);
    if ((*contact)->deleted && !allow_deleted) {
      return Conflict("contact_deleted", "the contact is deleted; restore it first");
    }
    return std::move(**contact);
  }

  Status CheckContactFields(const ContactFields& fields, const std::string& id) const {
    if (Status s = ValidateContactFields(fields); !s.ok()) return s;
    if (Trimmed(fields.first_name).empty() && Trimmed(fields.email).empty()) {
      return Status::InvalidArgument("required", "a contact needs a first name or an email",
                                     "first_name");
    }
    if (fields.portal_enabled && Trimmed(fields.email).empty()) {
      return Status::InvalidArgument("required", "portal access needs an email", "email");
    }
    const auto tenant = Tenant();
    if (!tenant.ok()) return tenant.status();
    for (const std::string& field : tenant->required_fields) {
      if (!HasValue(fields, field)) {
        return Status::InvalidArgument(
            "required", "this tenant requires " + field + " on every contact", field);
      }
    }
    return EmailFree(fields.email, id);
  }

  // Email uniqueness among the tenant's non-deleted contacts, case-insensitive.
  Status EmailFree(const std::string& email, const std::string& id) const {
    if (Trimmed(email).empty()) return Status::Ok();
    auto holder = pj::ContactWithEmail(views_.emails, ctx_.tenant, email);
    if (!holder.ok()) return holder.status();
    if (!*holder || **holder == id) return Status::Ok();
    return Status(Code::kConflict, "email_taken",
                  "contact '" + **holder +
                      "' already has this email; share that contact "
                      "instead of creating another",
                  "email");
  }

  // Room for one more contact on the customer (limits::kContactsPerCustomerMax). Counted as
  // DeleteCustomer counts the events it appends: live direct contacts and every shared link.
  Status RoomForContact(const std::string& customer_id) const {
    // Fewer links than the limit: room, without reading them (a deleted direct contact keeps
    // its link, so links are never fewer than the contacts held).
    const auto count = pj::LinkCount(views_.links, ctx_.tenant, customer_id);
    if (!count.ok()) return count.status();
    if (*count < limits::kContactsPerCustomerMax) return Status::Ok();
    const auto links = pj::LinksOf(views_.links, ctx_.tenant, customer_id);
    if (!links.ok()) return links.status();
    size_t held = 0;
    for (const auto& link : *links) {
      auto contact = pj::GetContact(views_.contacts, ctx_.tenant, link.contact_id);
      if (!contact.ok()) return contact.status();
      held += *contact && ((*contact)->shared || !(*contact)->deleted) ? 1 : 0;
    }
    if (held < limits::kContactsPerCustomerMax) return Status::Ok();
    return Conflict("too_many_contacts",
                    "customer '" + customer_id + "' already holds " +
                        std::to_string(limits::kContactsPerCustomerMax) +
                        " contacts, the most one may hold; delete or unlink one first");
  }

  EventBody PasswordEvent(const std::string& id) const {
    return ContactPasswordReset{id, prep_.password_hash, prep_.password_generated,
                                prep_.password_generated};
  }

  static bool IsLinked(const ContactView& contact, const std::string& customer) {
    return std::any_of(contact.customers.begin(), contact.customers.end(),
                       [&](const Link& l) { return l.customer_id == customer; });
  }
  static std::string Trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(" \t") - b + 1);
  }
  static std::string JoinEmails(const std::string& emails) {
    std::string out;
    for (const auto& e : SplitEmails(emails)) out += (out.empty() ? "" : ", ") + e;
    return out;
  }

  const CommandContext& ctx_;
  const Prepared& prep_;
  Views& views_;
};

}  // namespace

std::string ContactStream(std::string_view id) { return std::string(kContactStreams).append(id); }
std::string CustomerStream(std::string_view id) { return std::string(kCustomerStreams).append(id); }

Status RecordNotFound(std::string_view kind, std::string_view id) {
  const std::string name(kind);
  std::string message = "no " + name + " '" + std::string(id) + "'";
  if (const std::string stream = name + "-"; id.size() > stream.size() && id.starts_with(stream)) {
    message +=
        " (if that is its stream's name, give its id: " + std::string(id.substr(stream.size())) +
        ")";
  }
  return Status(Code::kNotFound, name + "_not_found", std::move(message));
}

Status Authorize(const CommandContext& context, const Command& command) {
  const bool admin_command = std::holds_alternative<CreateTenant>(command) ||
                             std::holds_alternative<IssueToken>(command) ||
                             std::holds_alternative<RevokeToken>(command);
  const bool erasure = std::holds_alternative<EraseContact>(command) ||
                       std::holds_alternative<EraseCustomer>(command);
  return Authorize(Principal{context.tenant, context.actor}, admin_command ? Action::kAdminister
                                                             : erasure ? Action::kErasePersonalData
                                                                       : Action::kManageRecords);
}

// The version of the record a contact or customer command names, when it exists and can be
// read (a failed read leaves the rule's own answer standing).
std::optional<uint64_t> TargetVersion(const CommandContext& context, const Command& command,
                                      Views& views) {
  return std::visit(
      [&](const auto& c) -> std::optional<uint64_t> {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, UpdateCustomer> || std::is_same_v<C, DeleteCustomer> ||
                      std::is_same_v<C, EraseCustomer>) {
          auto customer = pj::GetCustomer(views.customers, context.tenant, c.id);
          if (customer.ok() && *customer) return (*customer)->system.version;
        } else if constexpr (std::is_same_v<C, ResetPassword>) {
          auto contact = pj::GetContact(views.contacts, context.tenant, c.contact_id);
          if (contact.ok() && *contact) return (*contact)->system.version;
        } else if constexpr (requires { c.id; } && !std::is_same_v<C, CreateContact> &&
                             !std::is_same_v<C, CreateCustomer>) {
          auto contact = pj::GetContact(views.contacts, context.tenant, c.id);
          if (contact.ok() && *contact) return (*contact)->system.version;
        }
        return std::nullopt;
      },
      command);
}

Result<Decision> Decide(const CommandContext& context, const Command& command,
                        const Prepared& prepared, Views& views) {
  if (Status s = Authorize(context, command); !s.ok()) return s;
  Result<Decision> decided = std::visit(Rules(context, prepared, views), command);
  // A stale If-Match outranks a rule's conflict: the caller judged a version that is gone,
  // and 412 tells it to read again rather than that its request can never succeed. Not for
  // an erasure done already: its retry (the version it judged is the one its own erasure
  // moved on) must still finish destroying the key (Erasure::Run).
  if (!decided.ok() && decided.status().code() == Code::kConflict &&
      decided.status().reason() != "already_erased" && context.expected_version) {
    auto actual = TargetVersion(context, command, views);
    if (actual && *actual != *context.expected_version) {
      return store::StaleVersion("the record", *actual, *context.expected_version);
    }
  }
  return decided;
}

}  // namespace cledger::domain
