// tenants: "t" · name → TenantView;  "k" · token hash → Principal (removed when revoked).
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

class Tenants final : public Projection {
 public:
  std::string_view name() const override { return "tenants"; }
  Status Apply(Kv& kv, const Event& event) const override {
    if (const auto* e = std::get_if<TenantCreated>(&event.body)) {
      kv.Put("t" + e->name, Encode(TenantView{e->name, e->plan, e->required_fields}));
    } else if (const auto* e = std::get_if<TokenIssued>(&event.body)) {
      kv.Put("k" + e->token_hash, Encode(Principal{event.tenant, e->actor}));
    } else if (const auto* e = std::get_if<TokenRevoked>(&event.body)) {
      kv.Delete("k" + e->token_hash);
    }
    return Status::Ok();
  }
};

const Tenants kTenantsImpl;

}  // namespace

const Projection& kTenants = kTenantsImpl;

Result<std::optional<TenantView>> GetTenant(Kv& kv, std::string_view name) {
  // Appended, not `"t" + std::string(name)`: GCC 12 at -O3 takes that for an overlapping copy
  // (a -Wrestrict false positive, GCC bug 105651).
  return Load<TenantView>(kv, std::string("t").append(name));
}

Result<std::optional<Principal>> GetTokenPrincipal(Kv& kv, std::string_view token_hash) {
  return Load<Principal>(kv, std::string("k").append(token_hash));
}

}  // namespace cledger::projections
