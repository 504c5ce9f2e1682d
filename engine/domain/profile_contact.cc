#include "engine/domain/profile_contact.h"

#include <string>

#include "engine/domain/validate.h"

namespace cledger::domain {

std::optional<std::string_view> ProfileCustomerId(std::string_view contact_id) {
  if (!contact_id.starts_with(kProfilePrefix)) return std::nullopt;
  return contact_id.substr(std::string_view(kProfilePrefix).size());
}

ContactView ProfileContact(const CustomerView& customer) {
  ContactView v;
  v.id = kProfilePrefix + customer.id;
  v.profile = true;
  v.owner_customer_id = customer.id;
  v.deleted = customer.deleted;
  const auto emails = SplitEmails(customer.email);
  v.fields.email = emails.empty() ? "" : emails.front();
  v.fields.company_name = customer.name;
  v.fields.communication.email_bill = customer.bill_format;
  v.customers = {{customer.id, {}}};
  v.system = customer.system;
  return v;
}

std::vector<ContactView> ContactList(const CustomerView& customer, std::vector<ContactView> linked,
                                     ContactStatus status) {
  auto wanted = [&](const ContactView& c) {
    return status == ContactStatus::kAll || c.deleted == (status == ContactStatus::kInactive);
  };
  std::vector<ContactView> out;
  if (ContactView profile = ProfileContact(customer);
      !profile.fields.email.empty() && wanted(profile)) {
    out.push_back(std::move(profile));
  }
  for (ContactView& contact : linked) {
    if (wanted(contact)) out.push_back(std::move(contact));
  }
  return out;
}

}  // namespace cledger::domain
