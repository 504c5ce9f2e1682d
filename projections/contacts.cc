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

class Contacts final : public Projection {
 public:
  std::string_view name() const override { return "contacts"; }
  uint32_t FoldVersion() const override { return 3; }  // 2: checkpoints; 3: every 128 events
  Status Apply(Kv& kv, const Event& event) const override {
    return std::visit(
        [&](const auto& body) -> Status {
          if constexpr (requires { body.contact_id; }) {
            auto stored = GetContact(kv, event.tenant, body.contact_id);
            if (!stored.ok()) return stored.status();
            ContactView view = stored->value_or(ContactView{});
            view.id = body.contact_id;  // even for an event the rules would not have allowed
            Fold(view, event, body);
            // Read back after an erasure, its earlier events hold no personal field either.
            if (event.personal == Personal::kErased) view.erased = true;
            Touch(view.system, event);
            if constexpr (std::is_same_v<std::decay_t<decltype(body)>, ContactErased>) {
              if (Status s = DropCheckpoints(kv, event); !s.ok()) return s;
            }
            const std::string key = TenantKey(event.tenant, view.id);
            const std::string value = Encode(view);
            kv.Put(key, value);
            KeepCheckpoint(kv, event, key, value);
          }
          return Status::Ok();
        },
        event.body);
  }

 private:
  static void Fold(ContactView& view, const Event&, const ContactCreated& e) {
    view.id = e.contact_id;
    view.owner_customer_id = e.customer_id;
    view.shared = e.customer_id.empty();
    view.fields = e.fields;
    if (!e.customer_id.empty()) view.customers.push_back({e.customer_id, {}});
  }
  static void Fold(ContactView& view, const Event&, const ContactEdited& e) {
    view.fields = e.fields;
  }
  static void Fold(ContactView& view, const Event&, const ContactShared& e) {
    if (!FindLink(view, e.customer_id)) view.customers.push_back({e.customer_id, {}});
  }
  static void Fold(ContactView& view, const Event&, const ContactUnlinked& e) {
    std::erase_if(view.customers, [&](const Link& l) { return l.customer_id == e.customer_id; });
  }
  static void Fold(ContactView& view, const Event&, const ContactConvertedToShared&) {
    view.shared = true;
    view.owner_customer_id.clear();
  }
  static void Fold(ContactView& view, const Event&, const ContactRolesChanged& e) {
    if (Link* link = FindLink(view, e.customer_id)) link->roles = e.roles;
  }
  static void Fold(ContactView& view, const Event& event, const ContactDeleted&) {
    view.deleted = true;
    view.system.deleted_us = event.recorded_at_us;
  }
  static void Fold(ContactView& view, const Event&, const ContactRestored&) {
    view.deleted = false;
  }
  static void Fold(ContactView& view, const Event&, const ContactErased&) {
    BlankPersonal(view.fields);
    view.erased = true;
  }
  static void Fold(ContactView& view, const Event&, const ContactPasswordReset& e) {
    view.has_password = true;
    view.password_must_change = e.must_change;
  }
};

const Contacts kContactsImpl;

}  // namespace

const Projection& kContacts = kContactsImpl;

Result<std::optional<ContactView>> GetContact(Kv& kv, std::string_view tenant,
                                              std::string_view id) {
  return Load<ContactView>(kv, TenantKey(tenant, id));
}

Result<std::vector<ContactView>> FindContacts(
    Kv& kv, std::string_view tenant, const std::function<bool(const ContactView&)>& wanted) {
  return CollectRecords<ContactView>(kv, TenantKey(tenant), wanted);
}

}  // namespace cledger::projections
