// Recipients (SPEC §2): who receives a customer's invoices, orders, shipments and the copies
// of correspondence and ticket updates, and in which bill format. Pure: the engine reads the
// customer and its linked contacts, these functions decide.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger::domain {

struct RecipientKind {
  enum class Class { kInvoice, kRole, kCorrespondence, kTicket };
  Class what = Class::kInvoice;
  std::string name;  // the role (order, shipment) or the type after "correspondence:"/"ticket:"
};

// invoice | order | shipment | correspondence:<type> | ticket:<type>; anything else is
// 422 invalid_enum on field "kind".
Result<RecipientKind> ParseRecipientKind(std::string_view kind);

// A contact linked to the customer, with the roles of the link.
struct LinkedContact {
  ContactView contact;
  std::vector<std::string> roles;
};

// Invoices go to the customer's own addresses (in its bill format, default long), to the
// link's billing contact and to every contact whose email_bill is not none (in that format);
// order and shipment to the contacts holding that role; copies to the contacts that chose
// that type. Deleted contacts receive nothing; each address once (compared normalised), the
// customer's first. REQUIRES: `customer` is not deleted.
std::vector<Recipient> Recipients(const CustomerView& customer,
                                  const std::vector<LinkedContact>& linked,
                                  const RecipientKind& kind);

}  // namespace cledger::domain
