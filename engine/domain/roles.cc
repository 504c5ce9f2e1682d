#include "engine/domain/roles.h"

#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <string>

namespace cledger::domain {
namespace {

using Actions = uint32_t;  // a set: bit i is the Action numbered i

constexpr Actions Of(std::initializer_list<Action> actions) {
  Actions set = 0;
  for (Action a : actions) set |= Actions{1} << static_cast<int>(a);
  return set;
}

struct Grant {
  Role role;
  std::string_view name;
  Actions may;
};

using enum Action;

// SPEC §2: owner, admin and manager manage customers and contacts; member has no customer
// access; auditor reads history, audit trails, events and verification but changes nothing;
// only owner and admin erase personal data; service reads the event stream only; ops belongs to no
// tenant, runs the admin routes and reads every tenant's stream.
constexpr Grant kGrants[] = {
    {Role::kOwner, "owner",
     Of({kManageRecords, kReadRecords, kReadHistory, kReadEvents, kVerifyLedger,
         kErasePersonalData})},
    {Role::kAdmin, "admin",
     Of({kManageRecords, kReadRecords, kReadHistory, kReadEvents, kVerifyLedger,
         kErasePersonalData})},
    {Role::kManager, "manager", Of({kManageRecords, kReadRecords, kReadHistory})},
    {Role::kMember, "member", Of({})},
    {Role::kAuditor, "auditor", Of({kReadRecords, kReadHistory, kReadEvents, kVerifyLedger})},
    {Role::kService, "service", Of({kReadEvents})},
    {Role::kOps, "ops",
     Of({kReadEvents, kVerifyLedger, kReadEveryTenant, kReadMetrics, kAdminister})},
};

constexpr bool GrantsInRoleOrder() {
  if (std::size(kGrants) != kRoles.size()) return false;
  for (size_t i = 0; i < kRoles.size(); ++i) {
    if (kGrants[i].role != kRoles[i] || static_cast<size_t>(kRoles[i]) != i) return false;
  }
  return true;
}
static_assert(GrantsInRoleOrder());
static_assert(kActions.size() <= 32 && static_cast<size_t>(kActions.back()) == kActions.size() - 1);

// The tenant's own records: a principal needs a tenant to touch them.
bool ForOneTenant(Action action) {
  return action == kManageRecords || action == kReadRecords || action == kReadHistory ||
         action == kErasePersonalData;
}

// What a refused caller is told; `role` as it came, since it may be no role at all.
std::string Refusal(std::string_view role, Action action) {
  switch (action) {
    case kManageRecords:
      return "role '" + std::string(role) + "' may not manage customers and contacts";
    case kReadRecords:
    case kReadHistory:
      return "role '" + std::string(role) + "' may not read customers and contacts";
    case kReadEvents:
      return "this role may not read events";
    case kVerifyLedger:
      return "this role may not verify";
    case kReadEveryTenant:
      return "only an ops token sees every tenant's records";
    case kReadMetrics:
      return "metrics need an ops token";
    case kAdminister:
      return "admin routes need an ops token";
    case kErasePersonalData:
      return "only an owner or an admin may erase personal data";
  }
  return "forbidden";
}

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  for (const Grant& g : kGrants) {
    if (g.name == name) return g.role;
  }
  return std::nullopt;
}

std::string_view RoleName(Role role) { return kGrants[static_cast<size_t>(role)].name; }

bool Can(Role role, Action action) {
  return (kGrants[static_cast<size_t>(role)].may & Of({action})) != 0;
}

bool Can(std::string_view role, Action action) {
  const std::optional<Role> parsed = ParseRole(role);
  return parsed && Can(*parsed, action);
}

Status Authorize(const Principal& who, Action action) {
  if (!Can(who.actor.role, action)) {
    return Status(Code::kPermissionDenied, "forbidden", Refusal(who.actor.role, action));
  }
  if (ForOneTenant(action) && who.tenant.empty()) {
    return Status(Code::kPermissionDenied, "forbidden", "a tenant's token is needed");
  }
  return Status::Ok();
}

}  // namespace cledger::domain
