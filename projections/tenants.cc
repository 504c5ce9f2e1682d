// tenants: "t" · name → TenantView;  "k" · token digest → Principal, and "x" · token digest →
// its expiry when it has one (both removed when revoked).
#include "projections/record.h"
#include "projections/views.h"

namespace cledger::projections {
namespace {

// Tokens issued before their streams had random names were named by their digest's start.
std::string LegacyTokenStream(std::string_view digest) {
  return "token-" + std::string(digest.substr(0, 16));
}

class Tenants final : public Projection {
 public:
  std::string_view name() const override { return "tenants"; }
  Status Apply(Kv& kv, const Event& event) const override {
    if (const auto* e = std::get_if<TenantCreated>(&event.body)) {
      kv.Put("t" + e->name, Encode(TenantView{e->name, e->plan, e->required_fields}));
    } else if (const auto* e = std::get_if<TokenIssued>(&event.body)) {
      kv.Put("k" + e->token_hash, Encode(Principal{event.tenant, e->actor}));
      if (e->expires_at_us != 0) kv.Put("x" + e->token_hash, Encode(e->expires_at_us));
      if (event.stream != LegacyTokenStream(e->token_hash))
        kv.Put("s" + e->token_hash, event.stream);
    } else if (const auto* e = std::get_if<TokenRevoked>(&event.body)) {
      kv.Delete("k" + e->token_hash);
      kv.Delete("x" + e->token_hash);
      kv.Delete("s" + e->token_hash);
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

Result<std::vector<TenantView>> AllTenants(Kv& kv) {
  return CollectRecords<TenantView>(kv, "t", [](const TenantView&) { return true; });
}

Result<std::optional<Principal>> GetTokenPrincipal(Kv& kv, std::string_view token_hash) {
  return Load<Principal>(kv, std::string("k").append(token_hash));
}

Result<std::string> GetTokenStream(Kv& kv, std::string_view token_hash) {
  auto stream = kv.Get(std::string("s").append(token_hash));
  if (!stream.ok()) return stream.status();
  return *stream ? **stream : LegacyTokenStream(token_hash);
}

Result<std::optional<int64_t>> GetTokenExpiry(Kv& kv, std::string_view token_hash) {
  return Load<int64_t>(kv, std::string("x").append(token_hash));
}

Status ScanTokens(Kv& kv, const std::function<bool(std::string_view, const Principal&)>& fn) {
  Status failed;
  Status scanned = kv.Scan("k", [&](std::string_view key, std::string_view value) {
    auto principal = Decode<Principal>(value);
    if (!principal) {
      failed = Status::Corruption("corrupt_state", "a token record does not decode");
      return false;
    }
    return fn(key.substr(1), *principal);
  });
  return scanned.ok() ? failed : scanned;
}

}  // namespace cledger::projections
