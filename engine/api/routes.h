// Every HTTP route the server answers, in one table. schemas/openapi.yaml documents exactly
// these (a test compares the two), and the router dispatches on them.
#pragma once

#include <array>
#include <string_view>

namespace cledger::api {

enum class RouteId {
  kHealthz, kReadyz, kMetrics,
  kCreateCustomer, kGetCustomer, kUpdateCustomer, kDeleteCustomer,
  kCreateDirectContact, kListContacts, kCreateSharedContact,
  kGetContact, kEditContact, kDeleteContact,
  kShareContact, kUnlinkContact, kSetLinkRoles, kConvertToShared, kRestoreContact,
  kResetPassword,
  kContactHistory, kCustomerHistory, kAudit, kRecipients,
  kEvents, kEventStream, kLedgerDigest, kLedgerVerify,
  kAdminCreateTenant, kAdminIssueToken, kAdminRevokeToken, kAdminProjections,
  kAdminRebuildProjection, kAdminBackup, kAdminStats,
};

struct Route {
  RouteId id;
  std::string_view method;
  std::string_view path;  // OpenAPI template: {name} matches one path segment
};

inline constexpr std::array kRoutes = {
    Route{RouteId::kHealthz, "GET", "/healthz"},
    Route{RouteId::kReadyz, "GET", "/readyz"},
    Route{RouteId::kMetrics, "GET", "/metrics"},
    Route{RouteId::kCreateCustomer, "POST", "/v1/customers"},
    Route{RouteId::kGetCustomer, "GET", "/v1/customers/{id}"},
    Route{RouteId::kUpdateCustomer, "PATCH", "/v1/customers/{id}"},
    Route{RouteId::kDeleteCustomer, "DELETE", "/v1/customers/{id}"},
    Route{RouteId::kCreateDirectContact, "POST", "/v1/customers/{id}/contacts"},
    Route{RouteId::kListContacts, "GET", "/v1/customers/{id}/contacts"},
    Route{RouteId::kCreateSharedContact, "POST", "/v1/contacts"},
    Route{RouteId::kGetContact, "GET", "/v1/contacts/{id}"},
    Route{RouteId::kEditContact, "PATCH", "/v1/contacts/{id}"},
    Route{RouteId::kDeleteContact, "DELETE", "/v1/contacts/{id}"},
    Route{RouteId::kShareContact, "POST", "/v1/customers/{id}/shared-contacts"},
    Route{RouteId::kUnlinkContact, "DELETE", "/v1/customers/{id}/shared-contacts/{contact_id}"},
    Route{RouteId::kSetLinkRoles, "PUT", "/v1/customers/{id}/contacts/{contact_id}/roles"},
    Route{RouteId::kConvertToShared, "POST", "/v1/contacts/{id}/convert-to-shared"},
    Route{RouteId::kRestoreContact, "POST", "/v1/contacts/{id}/restore"},
    Route{RouteId::kResetPassword, "POST", "/v1/contacts/{id}/password-reset"},
    Route{RouteId::kContactHistory, "GET", "/v1/contacts/{id}/history"},
    Route{RouteId::kCustomerHistory, "GET", "/v1/customers/{id}/history"},
    Route{RouteId::kAudit, "GET", "/v1/audit"},
    Route{RouteId::kRecipients, "GET", "/v1/customers/{id}/recipients"},
    Route{RouteId::kEvents, "GET", "/v1/events"},
    Route{RouteId::kEventStream, "GET", "/v1/events/stream"},
    Route{RouteId::kLedgerDigest, "GET", "/v1/ledger/digest"},
    Route{RouteId::kLedgerVerify, "GET", "/v1/ledger/verify"},
    Route{RouteId::kAdminCreateTenant, "POST", "/v1/admin/tenants"},
    Route{RouteId::kAdminIssueToken, "POST", "/v1/admin/tokens"},
    Route{RouteId::kAdminRevokeToken, "DELETE", "/v1/admin/tokens/{token_hash}"},
    Route{RouteId::kAdminProjections, "GET", "/v1/admin/projections"},
    Route{RouteId::kAdminRebuildProjection, "POST", "/v1/admin/projections/{name}/rebuild"},
    Route{RouteId::kAdminBackup, "POST", "/v1/admin/backups"},
    Route{RouteId::kAdminStats, "GET", "/v1/admin/stats"},
};

// kRoutes[static_cast<size_t>(id)] is the route `id`.
inline constexpr bool RoutesInIdOrder() {
  for (size_t i = 0; i < kRoutes.size(); ++i) {
    if (static_cast<size_t>(kRoutes[i].id) != i) return false;
  }
  return true;
}
static_assert(RoutesInIdOrder());

}  // namespace cledger::api
