// contacts: lp(tenant) · id → ContactView. Every event of a contact's stream folds here.
#include <algorithm>

#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

Link* FindLink(ContactView& view, std::string_view customer) {
  auto it = std::find_if(view.customers.begin(), view.customers.end(),
                         [&](const Link& l) { return l.customer_id == customer; });
  return it == view.customers.end() ? nullptr : &*it;
}

// The contact `event` concerns; nullptr for any other event.
const std::string* ContactOf(const Event& event) {
  return std::visit(
      [](const auto& body) -> const std::string* {
        if constexpr (requires { body.contact_id; }) {
          return &body.contact_id;
        } else {
          return nullptr;
        }
      },
      event.body);
}

void Fold(ContactView& view, const Event&, const ContactCreated& e) {
  view.owner_customer_id = e.customer_id;
  view.shared = e.customer_id.empty();
  view.fields = e.fields;
  if (!e.customer_id.empty()) view.customers.push_back({e.customer_id, {}});
}
void Fold(ContactView& view, const Event&, const ContactEdited& e) { view.fields = e.fields; }
void Fold(ContactView& view, const Event&, const ContactShared& e) {
  if (!FindLink(view, e.customer_id)) view.customers.push_back({e.customer_id, {}});
}
void Fold(ContactView& view, const Event&, const ContactUnlinked& e) {
  std::erase_if(view.customers, [&](const Link& l) { return l.customer_id == e.customer_id; });
}
void Fold(ContactView& view, const Event&, const ContactConvertedToShared&) {
  view.shared = true;
  view.owner_customer_id.clear();
}
void Fold(ContactView& view, const Event&, const ContactRolesChanged& e) {
  if (Link* link = FindLink(view, e.customer_id)) link->roles = e.roles;
}
void Fold(ContactView& view, const Event& event, const ContactDeleted&) {
  view.deleted = true;
  view.system.deleted_us = event.recorded_at_us;
}
void Fold(ContactView& view, const Event&, const ContactRestored&) { view.deleted = false; }
void Fold(ContactView& view, const Event&, const ContactErased&) {
  BlankPersonal(view.fields);
  view.erased = true;
}
void Fold(ContactView& view, const Event&, const ContactPasswordReset& e) {
  view.has_password = true;
  view.password_must_change = e.must_change;
}
template <typename Body>
void Fold(ContactView&, const Event&, const Body&) {}  // not a contact event

class Contacts final : public Projection {
 public:
  std::string_view name() const override { return "contacts"; }
  uint32_t FoldVersion() const override { return 3; }  // 2: checkpoints; 3: every 128 events
  Status Apply(Kv& kv, const Event& event) const override {
    const std::string* id = ContactOf(event);
    if (id == nullptr) return Status::Ok();
    ContactView view;
    return FoldStoredRecord(kv, event, *id, view);
  }
};

const Contacts kContactsImpl;

}  // namespace

const Projection& kContacts = kContactsImpl;

void FoldRecord(ContactView& view, const Event& event) {
  // The id is set even for an event the rules would not have allowed (no record before it).
  if (const std::string* id = ContactOf(event)) view.id = *id;
  std::visit([&](const auto& body) { Fold(view, event, body); }, event.body);
  // Read back after an erasure, its earlier events hold no personal field either.
  if (event.personal == Personal::kErased) view.erased = true;
  Touch(view.system, event);
}

Status SaveRecord(Kv& kv, const Event& event, const ContactView& view) {
  return StoreRecord(kv, event, view.id, Encode(view),
                     std::holds_alternative<ContactErased>(event.body));
}

Result<std::optional<ContactView>> GetContact(Kv& kv, std::string_view tenant,
                                              std::string_view id) {
  return Load<ContactView>(kv, TenantKey(tenant, id));
}

Result<std::vector<ContactView>> FindContacts(
    Kv& kv, std::string_view tenant, const std::function<bool(const ContactView&)>& wanted) {
  return CollectRecords<ContactView>(kv, TenantKey(tenant), wanted);
}

}  // namespace cledger::projections
