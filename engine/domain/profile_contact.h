// The profile contact ("PC", SPEC §2): the read-only contact a customer's first email stands
// for. It is derived from the customer on every read, never stored, and the rules refuse to
// edit, delete or reset it. Pure.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "cledger/views.h"

namespace cledger::domain {

// Every profile contact's id: this prefix and its customer's id. No other id may start so.
inline constexpr char kProfilePrefix[] = "profile-";

// The customer a profile contact's id names; nullopt for any other contact id.
std::optional<std::string_view> ProfileCustomerId(std::string_view contact_id);

// The profile contact of `customer`; its email is empty when the customer has none.
ContactView ProfileContact(const CustomerView& customer);

// A customer's contact list as readers see it: the profile contact first (when the customer
// has an email), then `linked` in order, each only when `status` wants it.
std::vector<ContactView> ContactList(const CustomerView& customer, std::vector<ContactView> linked,
                                     ContactStatus status);

}  // namespace cledger::domain
