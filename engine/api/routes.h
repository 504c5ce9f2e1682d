// Every HTTP route the server answers, in one table: its method and path, what the caller's
// role must be allowed (engine/domain/roles.h), where it runs and its handler. The router
// serves a route only through its row, so no route is answered without its check.
// schemas/openapi.yaml documents exactly these routes (a test compares the two).
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "engine/api/handlers.h"
#include "engine/domain/roles.h"

namespace cledger::api {

struct Call;  // handlers_call.h
using RouteHandler = Answer (*)(Call&);

// Where a route's handler runs. Verification, rebuilds, backups and erasures take long;
// history waits for the audit follower: they run off the I/O threads. Plain reads are a few
// key lookups: they stay on the I/O thread rather than pay two hops; searches and event pages
// scan, so they run off it. A command's handler only makes the command (a PendingCommand) on
// the I/O thread; the server hands it to the writer without a thread waiting for it.
enum class Runs : bool { kOnIoThread, kOffIoThread };

// The probes are answered without a token.
inline constexpr std::optional<domain::Action> kNoToken = std::nullopt;

struct Route {
  std::string_view method;
  std::string_view path;                 // OpenAPI template: {name} matches one path segment
  std::optional<domain::Action> action;  // what the token's role must be allowed
  Runs runs;
  RouteHandler handler;
  // The query parameters it takes, space-separated: any other is refused (400 invalid_query
  // naming it), so a misspelt filter is never silently ignored.
  std::string_view query = "";
};

// Whether `route` takes the query parameter `name`.
constexpr bool TakesQuery(const Route& route, std::string_view name) {
  for (std::string_view rest = route.query; !rest.empty();) {
    const size_t space = rest.find(' ');
    if (rest.substr(0, space) == name) return true;
    rest = space == std::string_view::npos ? "" : rest.substr(space + 1);
  }
  return false;
}

// The handlers (handlers.cc: records and history; handlers_ops.cc: the rest). Each trusts
// that its route's check has passed: only Handlers::Serve calls them.
namespace route {
Answer GetHealthz(Call& call);
Answer GetReadyz(Call& call);
Answer GetMetrics(Call& call);
Answer PostCustomer(Call& call);
Answer GetCustomer(Call& call);
Answer PatchCustomer(Call& call);
Answer DeleteCustomer(Call& call);
Answer PostDirectContact(Call& call);
Answer GetCustomerContacts(Call& call);
Answer PostSharedContact(Call& call);
Answer GetContact(Call& call);
Answer PatchContact(Call& call);
Answer DeleteContact(Call& call);
Answer PostContactErase(Call& call);
Answer PostCustomerErase(Call& call);
Answer PostShare(Call& call);
Answer DeleteShare(Call& call);
Answer PutLinkRoles(Call& call);
Answer PostConvertToShared(Call& call);
Answer PostRestore(Call& call);
Answer PostPasswordReset(Call& call);
Answer GetContactHistory(Call& call);
Answer GetCustomerHistory(Call& call);
Answer GetAudit(Call& call);
Answer GetRecipients(Call& call);
Answer GetEvents(Call& call);
Answer GetEventStream(Call& call);
Answer GetLedgerDigest(Call& call);
Answer GetLedgerVerify(Call& call);
Answer GetLedgerHead(Call& call);
Answer GetLedgerPublicKey(Call& call);
Answer GetInclusionProof(Call& call);
Answer GetConsistencyProof(Call& call);
Answer PostCosignature(Call& call);
Answer GetContactEvidence(Call& call);
Answer GetCustomerEvidence(Call& call);
Answer PostTenant(Call& call);
Answer PostToken(Call& call);
Answer GetTokens(Call& call);
Answer DeleteToken(Call& call);
Answer GetProjections(Call& call);
Answer PostRebuild(Call& call);
Answer PostBackup(Call& call);
Answer GetStats(Call& call);
Answer FindCustomers(Call& call);
Answer FindContacts(Call& call);
Answer GetTenants(Call& call);
Answer GetBackups(Call& call);
Answer PostBackupVerify(Call& call);
Answer GetConsole(Call& call);
Answer GetConsoleFile(Call& call);
}  // namespace route

inline constexpr auto kRoutes = [] {
  using enum domain::Action;
  using enum Runs;
  using namespace route;
  return std::to_array<Route>({
      {"GET", "/healthz", kNoToken, kOnIoThread, GetHealthz},
      {"GET", "/readyz", kNoToken, kOnIoThread, GetReadyz},
      {"GET", "/metrics", kReadMetrics, kOnIoThread, GetMetrics},
      {"POST", "/v1/customers", kManageRecords, kOnIoThread, PostCustomer},
      {"GET", "/v1/customers", kReadRecords, kOffIoThread, FindCustomers, "q limit cursor"},
      {"GET", "/v1/customers/{id}", kReadRecords, kOnIoThread, GetCustomer, "at as_of"},
      {"PATCH", "/v1/customers/{id}", kManageRecords, kOnIoThread, PatchCustomer},
      {"DELETE", "/v1/customers/{id}", kManageRecords, kOnIoThread, DeleteCustomer},
      {"POST", "/v1/customers/{id}/contacts", kManageRecords, kOnIoThread, PostDirectContact},
      {"GET", "/v1/customers/{id}/contacts", kReadRecords, kOnIoThread, GetCustomerContacts,
       "status limit cursor"},
      {"POST", "/v1/contacts", kManageRecords, kOnIoThread, PostSharedContact},
      {"GET", "/v1/contacts", kReadRecords, kOffIoThread, FindContacts, "q status limit cursor"},
      {"GET", "/v1/contacts/{id}", kReadRecords, kOnIoThread, GetContact, "at as_of"},
      {"PATCH", "/v1/contacts/{id}", kManageRecords, kOnIoThread, PatchContact},
      {"DELETE", "/v1/contacts/{id}", kManageRecords, kOnIoThread, DeleteContact},
      {"POST", "/v1/customers/{id}/shared-contacts", kManageRecords, kOnIoThread, PostShare},
      {"DELETE", "/v1/customers/{id}/shared-contacts/{contact_id}", kManageRecords, kOnIoThread,
       DeleteShare},
      {"PUT", "/v1/customers/{id}/contacts/{contact_id}/roles", kManageRecords, kOnIoThread,
       PutLinkRoles},
      {"POST", "/v1/contacts/{id}/convert-to-shared", kManageRecords, kOnIoThread,
       PostConvertToShared},
      {"POST", "/v1/contacts/{id}/restore", kManageRecords, kOnIoThread, PostRestore},
      {"POST", "/v1/contacts/{id}/erase", kErasePersonalData, kOffIoThread, PostContactErase},
      {"POST", "/v1/customers/{id}/erase", kErasePersonalData, kOffIoThread, PostCustomerErase},
      {"POST", "/v1/contacts/{id}/password-reset", kManageRecords, kOnIoThread, PostPasswordReset},
      {"GET", "/v1/contacts/{id}/history", kReadHistory, kOffIoThread, GetContactHistory,
       "at as_of limit cursor"},
      {"GET", "/v1/customers/{id}/history", kReadHistory, kOffIoThread, GetCustomerHistory,
       "at as_of limit cursor"},
      {"GET", "/v1/audit", kReadHistory, kOffIoThread, GetAudit,
       "actor from to record field limit cursor"},
      {"GET", "/v1/customers/{id}/recipients", kReadRecords, kOnIoThread, GetRecipients,
       "kind limit cursor"},
      {"GET", "/v1/events", kReadEvents, kOffIoThread, GetEvents, "from limit"},
      {"GET", "/v1/events/stream", kReadEvents, kOnIoThread, GetEventStream,
       "from types stream customer"},
      {"GET", "/v1/ledger/digest", kVerifyLedger, kOnIoThread, GetLedgerDigest},
      {"GET", "/v1/ledger/verify", kVerifyLedger, kOffIoThread, GetLedgerVerify},
      {"GET", "/v1/ledger/head", kReadEvents, kOffIoThread, GetLedgerHead},
      {"GET", "/v1/ledger/public-key", kReadEvents, kOnIoThread, GetLedgerPublicKey},
      {"GET", "/v1/ledger/proofs/inclusion", kReadEvents, kOnIoThread, GetInclusionProof,
       "position tree_size"},
      {"GET", "/v1/ledger/proofs/consistency", kReadEvents, kOnIoThread, GetConsistencyProof,
       "from to"},
      {"POST", "/v1/ledger/cosignatures", kReadEvents, kOffIoThread, PostCosignature},
      {"GET", "/v1/contacts/{id}/evidence", kReadHistory, kOffIoThread, GetContactEvidence},
      {"GET", "/v1/customers/{id}/evidence", kReadHistory, kOffIoThread, GetCustomerEvidence},
      {"POST", "/v1/admin/tenants", kAdminister, kOffIoThread, PostTenant},
      {"GET", "/v1/admin/tenants", kAdminister, kOffIoThread, GetTenants},
      {"POST", "/v1/admin/tokens", kAdminister, kOffIoThread, PostToken},
      {"GET", "/v1/admin/tokens", kAdminister, kOffIoThread, GetTokens, "tenant"},
      {"DELETE", "/v1/admin/tokens/{token_hash}", kAdminister, kOffIoThread, DeleteToken},
      {"GET", "/v1/admin/projections", kAdminister, kOffIoThread, GetProjections},
      {"POST", "/v1/admin/projections/{name}/rebuild", kAdminister, kOffIoThread, PostRebuild},
      {"POST", "/v1/admin/backups", kAdminister, kOffIoThread, PostBackup},
      {"GET", "/v1/admin/backups", kAdminister, kOffIoThread, GetBackups, "dir"},
      {"POST", "/v1/admin/backups/{id}/verify", kAdminister, kOffIoThread, PostBackupVerify},
      {"GET", "/v1/admin/stats", kAdminister, kOffIoThread, GetStats},
      {"GET", "/console", kNoToken, kOnIoThread, GetConsole},
      {"GET", "/console/{file}", kNoToken, kOnIoThread, GetConsoleFile},
  });
}();

}  // namespace cledger::api
