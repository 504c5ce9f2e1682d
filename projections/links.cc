// links: lp(tenant) · lp(customer id) · contact id → the link's roles.
#include "base/keys.h"
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

std::string LinkKey(std::string_view tenant, std::string_view customer,
                    std::string_view contact = {}) {
  std::string key = TenantKey(tenant);
  base::AppendComponent(key, customer);
  key.append(contact);
  return key;
}

class Links final : public Projection {
 public:
  std::string_view name() const override { return "links"; }
  Status Apply(Kv& kv, const Event& event) const override {
    const std::string& tenant = event.tenant;
    if (const auto* e = std::get_if<ContactCreated>(&event.body)) {
      if (!e->customer_id.empty())
        kv.Put(LinkKey(tenant, e->customer_id, e->contact_id), Roles({}));
    } else if (const auto* e = std::get_if<ContactShared>(&event.body)) {
      kv.Put(LinkKey(tenant, e->customer_id, e->contact_id), Roles({}));
    } else if (const auto* e = std::get_if<ContactUnlinked>(&event.body)) {
      kv.Delete(LinkKey(tenant, e->customer_id, e->contact_id));
    } else if (const auto* e = std::get_if<ContactRolesChanged>(&event.body)) {
      kv.Put(LinkKey(tenant, e->customer_id, e->contact_id), Roles(e->roles));
    }
    return Status::Ok();
  }

 private:
  static std::string Roles(const std::vector<std::string>& roles) { return Encode(roles); }
};

const Links kLinksImpl;

}  // namespace

const Projection& kLinks = kLinksImpl;

Result<std::vector<LinkedContact>> LinksOf(Kv& kv, std::string_view tenant,
                                           std::string_view customer) {
  std::vector<LinkedContact> out;
  const std::string prefix = LinkKey(tenant, customer);
  bool decoded = true;
  Status scanned = kv.Scan(prefix, [&](std::string_view key, std::string_view value) {
    auto roles = Decode<std::vector<std::string>>(value);
    decoded = roles.has_value();
    if (decoded) out.push_back({std::string(key.substr(prefix.size())), std::move(*roles)});
    return decoded;
  });
  if (!scanned.ok()) return scanned;
  if (!decoded) return Status::Corruption("corrupt_state", "a link record does not decode");
  return out;
}

}  // namespace cledger::projections
