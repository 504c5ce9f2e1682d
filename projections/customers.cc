// customers: lp(tenant) · id → CustomerView.
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

// The customer `event` concerns; nullptr for any other event (a contact's event names a
// customer too, but folds into the contact).
const std::string* CustomerRecordOf(const Event& event) {
  return std::visit(
      [](const auto& body) -> const std::string* {
        if constexpr (
            requires { body.customer_id; } && !requires { body.contact_id; }) {
          return &body.customer_id;
        } else {
          return nullptr;
        }
      },
      event.body);
}

void Fold(CustomerView& view, const Event& event, const CustomerCreated& e) {
  view = CustomerView{e.customer_id, e.name, e.email, e.bill_format};
  view.erased = event.personal == Personal::kErased;
}
void Fold(CustomerView& view, const Event& event, const CustomerUpdated& e) {
  view.name = e.name;
  view.email = e.email;
  view.bill_format = e.bill_format;
  if (event.personal == Personal::kErased) view.erased = true;
}
void Fold(CustomerView& view, const Event& event, const CustomerDeleted&) {
  view.deleted = true;
  view.system.deleted_us = event.recorded_at_us;
}
void Fold(CustomerView& view, const Event&, const CustomerErased&) {
  BlankPersonal(view);
  view.erased = true;
}
template <typename Body>
void Fold(CustomerView&, const Event&, const Body&) {}  // not a customer event

class Customers final : public Projection {
 public:
  std::string_view name() const override { return "customers"; }
  uint32_t FoldVersion() const override { return 3; }  // 2: checkpoints; 3: every 128 events
  Status Apply(Kv& kv, const Event& event) const override {
    const std::string* id = CustomerRecordOf(event);
    if (id == nullptr) return Status::Ok();
    CustomerView view;
    return FoldStoredRecord(kv, event, *id, view);
  }
};

const Customers kCustomersImpl;

}  // namespace

const Projection& kCustomers = kCustomersImpl;

void FoldRecord(CustomerView& view, const Event& event) {
  if (const std::string* id = CustomerRecordOf(event)) view.id = *id;
  std::visit([&](const auto& body) { Fold(view, event, body); }, event.body);
  Touch(view.system, event);
}

Status SaveRecord(Kv& kv, const Event& event, const CustomerView& view) {
  return StoreRecord(kv, event, view.id, Encode(view),
                     std::holds_alternative<CustomerErased>(event.body));
}

Result<std::optional<CustomerView>> GetCustomer(Kv& kv, std::string_view tenant,
                                                std::string_view id) {
  return Load<CustomerView>(kv, TenantKey(tenant, id));
}

Result<std::vector<CustomerView>> FindCustomers(
    Kv& kv, std::string_view tenant, const std::function<bool(const CustomerView&)>& wanted) {
  return CollectRecords<CustomerView>(kv, TenantKey(tenant), wanted);
}

}  // namespace cledger::projections
