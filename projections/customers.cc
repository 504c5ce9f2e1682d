// customers: lp(tenant) · id → CustomerView.
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

class Customers final : public Projection {
 public:
  std::string_view name() const override { return "customers"; }
  uint32_t FoldVersion() const override { return 3; }  // 2: checkpoints; 3: every 128 events
  Status Apply(Kv& kv, const Event& event) const override {
    return std::visit([&](const auto& body) { return Fold(kv, event, body); }, event.body);
  }

 private:
  template <typename Body>
  Status Fold(Kv&, const Event&, const Body&) const {  // not a customer event
    return Status::Ok();
  }

  Status Fold(Kv& kv, const Event& event, const CustomerCreated& e) const {
    CustomerView view{e.customer_id, e.name, e.email, e.bill_format};
    view.erased = event.personal == Personal::kErased;
    Save(kv, event, view);
    return Status::Ok();
  }
  Status Fold(Kv& kv, const Event& event, const CustomerUpdated& e) const {
    auto view = Current(kv, event.tenant, e.customer_id);
    if (!view.ok()) return view.status();
    view->name = e.name;
    view->email = e.email;
    view->bill_format = e.bill_format;
    if (event.personal == Personal::kErased) view->erased = true;
    Save(kv, event, *view);
    return Status::Ok();
  }
  Status Fold(Kv& kv, const Event& event, const CustomerDeleted& e) const {
    auto view = Current(kv, event.tenant, e.customer_id);
    if (!view.ok()) return view.status();
    view->deleted = true;
    view->system.deleted_us = event.recorded_at_us;
    Save(kv, event, *view);
    return Status::Ok();
  }

  Status Fold(Kv& kv, const Event& event, const CustomerErased& e) const {
    auto view = Current(kv, event.tenant, e.customer_id);
    if (!view.ok()) return view.status();
    BlankPersonal(*view);
    view->erased = true;
    if (Status s = DropCheckpoints(kv, event); !s.ok()) return s;
    Save(kv, event, *view);
    return Status::Ok();
  }

  static Result<CustomerView> Current(Kv& kv, std::string_view tenant, std::string_view id) {
    auto view = GetCustomer(kv, tenant, id);
    if (!view.ok()) return view.status();
    return view->value_or(CustomerView{std::string(id)});
  }
  static void Save(Kv& kv, const Event& event, CustomerView& view) {
    Touch(view.system, event);
    const std::string key = TenantKey(event.tenant, view.id);
    const std::string value = Encode(view);
    kv.Put(key, value);
    KeepCheckpoint(kv, event, key, value);
  }
};

const Customers kCustomersImpl;

}  // namespace

const Projection& kCustomers = kCustomersImpl;

Result<std::optional<CustomerView>> GetCustomer(Kv& kv, std::string_view tenant,
                                                std::string_view id) {
  return Load<CustomerView>(kv, TenantKey(tenant, id));
}

Result<std::vector<CustomerView>> FindCustomers(
    Kv& kv, std::string_view tenant, const std::function<bool(const CustomerView&)>& wanted) {
  return CollectRecords<CustomerView>(kv, TenantKey(tenant), wanted);
}

}  // namespace cledger::projections
