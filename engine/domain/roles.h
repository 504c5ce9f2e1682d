// Who may do what. A token's role is one of a few names (SPEC §2, "Actors and roles"); the
// table in roles.cc is the one place that says what each may do. Routes, commands and reads
// ask it through Can or Authorize, never by comparing role names.
//
// Names are the contract: tokens, events and the wire carry them as strings, parsed here at
// the edge. The enums' numbering is private to the process and never stored.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger::domain {

enum class Role { kOwner, kAdmin, kManager, kMember, kAuditor, kService, kOps };

inline constexpr std::array kRoles = {Role::kOwner,   Role::kAdmin,   Role::kManager, Role::kMember,
                                      Role::kAuditor, Role::kService, Role::kOps};

enum class Action {
  kManageRecords,      // run commands on the tenant's customers and contacts
  kReadRecords,        // read its customers and contacts, now or as of a past moment
  kReadHistory,        // read its audit trails: per contact, customer, actor, or all of them
  kReadEvents,         // read the event log and follow the live stream (ops: every tenant's)
  kVerifyLedger,       // read the digest and verify the chain and the projections
  kReadEveryTenant,    // see records of every tenant (such a token belongs to none)
  kReadMetrics,        // read the server's figures, which count every tenant
  kAdminister,         // manage tenants, tokens, projections and backups
  kErasePersonalData,  // erase a contact's or a customer's personal data for good
};

inline constexpr std::array kActions = {
    Action::kManageRecords, Action::kReadRecords,  Action::kReadHistory,
    Action::kReadEvents,    Action::kVerifyLedger, Action::kReadEveryTenant,
    Action::kReadMetrics,   Action::kAdminister,   Action::kErasePersonalData};

// "owner" → Role::kOwner; nullopt for a name that is no role.
std::optional<Role> ParseRole(std::string_view name);
std::string_view RoleName(Role role);

bool Can(Role role, Action action);
// A role as the wire names it: an unknown name may do nothing.
bool Can(std::string_view role, Action action);

// Whether `who` may do `action`: OK, or 403 forbidden saying why. The tenant's own actions
// also need a tenant: a principal without one is refused them whatever its role.
// Cheap and pure: callers ask it before any other work.
Status Authorize(const Principal& who, Action action);

}  // namespace cledger::domain
