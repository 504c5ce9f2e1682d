#include "engine/domain/recipients.h"

#include <algorithm>
#include <set>

#include "base/text.h"
#include "engine/domain/validate.h"

namespace cledger::domain {
namespace {

bool Has(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Whether `linked` receives `kind`, by the link's roles or the contact's own choices.
bool Receives(const LinkedContact& linked, const RecipientKind& kind) {
  const Communication& c = linked.contact.fields.communication;
  switch (kind.what) {
    case RecipientKind::Class::kInvoice:
      return (c.email_bill != "none" && !c.email_bill.empty()) || Has(linked.roles, "billing");
    case RecipientKind::Class::kRole:
      return Has(linked.roles, kind.name);
    case RecipientKind::Class::kCorrespondence:
      return Has(c.copy_correspondence, kind.name);
    case RecipientKind::Class::kTicket:
      return Has(c.copy_ticket_updates, kind.name);
  }
  return false;
}

}  // namespace

Result<RecipientKind> ParseRecipientKind(std::string_view kind) {
  constexpr std::string_view kCorrespondence = "correspondence:", kTicket = "ticket:";
  if (kind == "invoice") return RecipientKind{RecipientKind::Class::kInvoice, std::string(kind)};
  if (kind == "order" || kind == "shipment") {
    return RecipientKind{RecipientKind::Class::kRole, std::string(kind)};
  }
  if (kind.starts_with(kCorrespondence) && kind.size() > kCorrespondence.size()) {
    return RecipientKind{RecipientKind::Class::kCorrespondence,
                         std::string(kind.substr(kCorrespondence.size()))};
  }
  if (kind.starts_with(kTicket) && kind.size() > kTicket.size()) {
    return RecipientKind{RecipientKind::Class::kTicket, std::string(kind.substr(kTicket.size()))};
  }
  return Status(Code::kInvalidArgument, "invalid_enum",
                "kind is invoice, order, shipment, correspondence:<type> or ticket:<type>", "kind");
}

std::vector<Recipient> Recipients(const CustomerView& customer,
                                  const std::vector<LinkedContact>& linked,
                                  const RecipientKind& kind) {
  const bool invoice = kind.what == RecipientKind::Class::kInvoice;
  std::vector<Recipient> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& email, const std::string& contact, const std::string& format) {
    if (!email.empty() && seen.insert(base::NormalizeEmail(email)).second) {
      out.push_back({email, contact, invoice ? format : ""});
    }
  };
  if (invoice) {
    for (const auto& email : SplitEmails(customer.email)) {
      add(email, "", customer.bill_format.empty() ? "long" : customer.bill_format);
    }
  }
  for (const LinkedContact& l : linked) {
    if (l.contact.deleted || !Receives(l, kind)) continue;
    const std::string& bill = l.contact.fields.communication.email_bill;
    const bool bills = bill != "none" && !bill.empty();
    add(l.contact.fields.email, l.contact.id, bills ? bill : customer.bill_format);
  }
  return out;
}

}  // namespace cledger::domain
