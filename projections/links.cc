// links: lp(tenant) · lp(customer id) · contact id → the link's roles.
//        "n" · lp(tenant) · lp(customer id) → how many links the customer has (u64).
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

std::string CountKey(std::string_view tenant, std::string_view customer) {
  std::string key = "n" + TenantKey(tenant);
  base::AppendComponent(key, customer);
  return key;
}

Result<uint64_t> CountAt(Kv& kv, const std::string& key) {
  auto count = kv.Get(key);
  if (!count.ok()) return count.status();
  if (!*count) return uint64_t{0};
  if ((*count)->size() != 8)
    return Status::Corruption("corrupt_state", "a link count is not 8 bytes");
  return base::DecodeU64(**count);
}

// Counted by the events that make and end links: the rules let a link be made only where
// there is none, and ended only where there is one.
Status Count(Kv& kv, std::string_view tenant, std::string_view customer, int change) {
  const std::string key = CountKey(tenant, customer);
  auto count = CountAt(kv, key);
  if (!count.ok()) return count.status();
  kv.Put(key, base::U64Key(change < 0 && *count == 0 ? 0 : *count + change));
  return Status::Ok();
}

class Links final : public Projection {
 public:
  std::string_view name() const override { return "links"; }
  uint32_t FoldVersion() const override { return 2; }  // 2: the count of each customer's links
  Status Apply(Kv& kv, const Event& event) const override {
    const std::string& tenant = event.tenant;
    if (const auto* e = std::get_if<ContactCreated>(&event.body)) {
      if (e->customer_id.empty()) return Status::Ok();
      kv.Put(LinkKey(tenant, e->customer_id, e->contact_id), Roles({}));
      return Count(kv, tenant, e->customer_id, +1);
    }
    if (const auto* e = std::get_if<ContactShared>(&event.body)) {
      kv.Put(LinkKey(tenant, e->customer_id, e->contact_id), Roles({}));
      return Count(kv, tenant, e->customer_id, +1);
    }
    if (const auto* e = std::get_if<ContactUnlinked>(&event.body)) {
      kv.Delete(LinkKey(tenant, e->customer_id, e->contact_id));
      return Count(kv, tenant, e->customer_id, -1);
    }
    if (const auto* e = std::get_if<ContactRolesChanged>(&event.body)) {
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

Result<uint64_t> LinkCount(Kv& kv, std::string_view tenant, std::string_view customer) {
  return CountAt(kv, CountKey(tenant, customer));
}

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
