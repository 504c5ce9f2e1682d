// customers: lp(tenant) · id → CustomerView.
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

class Customers final : public Projection {
 public:
  std::string_view name() const override { return "customers"; }
  void Apply(Kv& kv, const Event& event) const override {
    std::visit([&](const auto& body) { Fold(kv, event, body); }, event.body);
  }

 private:
  template <typename Body>
  void Fold(Kv&, const Event&, const Body&) const {}  // not a customer event

  void Fold(Kv& kv, const Event& event, const CustomerCreated& e) const {
    CustomerView view{e.customer_id, e.name, e.email, e.bill_format};
    Save(kv, event, view);
  }
  void Fold(Kv& kv, const Event& event, const CustomerUpdated& e) const {
    CustomerView view = Load(kv, event.tenant, e.customer_id);
    view.name = e.name;
    view.email = e.email;
    view.bill_format = e.bill_format;
    Save(kv, event, view);
  }
  void Fold(Kv& kv, const Event& event, const CustomerDeleted& e) const {
    CustomerView view = Load(kv, event.tenant, e.customer_id);
    view.deleted = true;
    view.system.deleted_us = event.recorded_at_us;
    Save(kv, event, view);
  }

  static CustomerView Load(Kv& kv, std::string_view tenant, std::string_view id) {
    return GetCustomer(kv, tenant, id).value_or(CustomerView{std::string(id)});
  }
  static void Save(Kv& kv, const Event& event, CustomerView& view) {
    Touch(view.system, event);
    kv.Put(TenantKey(event.tenant, view.id), Encode(view));
  }
};

const Customers kCustomersImpl;

}  // namespace

const Projection& kCustomers = kCustomersImpl;

std::optional<CustomerView> GetCustomer(Kv& kv, std::string_view tenant, std::string_view id) {
  auto bytes = kv.Get(TenantKey(tenant, id));
  return bytes ? Decode<CustomerView>(*bytes) : std::nullopt;
}

}  // namespace cledger::projections
