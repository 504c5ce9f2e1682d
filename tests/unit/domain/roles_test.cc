#include "engine/domain/roles.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

namespace cledger::domain {
namespace {

// The actions in kActions order, as the table below names them.
constexpr const char* kActionNames[] = {"manage", "read",    "history", "events", "verify",
                                        "every",  "metrics", "admin",   "erase"};
static_assert(std::size(kActionNames) == kActions.size());

// SPEC §2, "Actors and roles", as a table. Where the SPEC is silent (may an owner read the
// event log?), the row says what the server has always allowed.
const std::map<std::string, std::set<std::string>> kSpecGrants = {
    // "owner, admin, manager may manage customers and contacts"; owners and admins also
    // read the event log and verify the ledger, managers do not.
    // Only they erase a person's data for good (the privacy issue: "owner/admin").
    {"owner", {"manage", "read", "history", "events", "verify", "erase"}},
    {"admin", {"manage", "read", "history", "events", "verify", "erase"}},
    {"manager", {"manage", "read", "history"}},
    // "member has no customer access"
    {"member", {}},
    // "auditor may read history, audit trails, events and verification but change nothing";
    // a contact as of a past moment is a read of the records
    {"auditor", {"read", "history", "events", "verify"}},
    // "service may read the event stream only"
    {"service", {"events"}},
    // "an ops token belongs to no tenant: it runs the admin routes (tenants, tokens,
    // projections, verification, backup) and may read every tenant's stream"
    {"ops", {"events", "verify", "every", "metrics", "admin"}},
};

TEST_CASE("EveryRoleMayDoExactlyWhatTheSpecGrants") {
  std::ostringstream table;
  table << "role    ";
  for (const char* action : kActionNames) table << " " << action;
  table << "\n";
  REQUIRE(kSpecGrants.size() == kRoles.size());
  for (Role role : kRoles) {
    const std::string name(RoleName(role));
    REQUIRE(kSpecGrants.contains(name));
    table << name << std::string(8 - name.size(), ' ');
    for (size_t i = 0; i < kActions.size(); ++i) {
      CAPTURE(name);
      CAPTURE(kActionNames[i]);
      const bool granted = kSpecGrants.at(name).contains(kActionNames[i]);
      CHECK(Can(role, kActions[i]) == granted);
      const std::string_view column = kActionNames[i];
      table << " " << (Can(role, kActions[i]) ? "x" : "-") << std::string(column.size() - 1, ' ');
    }
    table << "\n";
  }
  MESSAGE("who may do what:\n", table.str());
}

// A command's answer shows the record it changed: whoever may change records may read them.
TEST_CASE("EveryRoleThatMayManageRecordsMayReadThem") {
  for (Role role : kRoles) {
    CAPTURE(RoleName(role));
    if (Can(role, Action::kManageRecords)) CHECK(Can(role, Action::kReadRecords));
  }
}

TEST_CASE("RoleNamesAreTheStringsTokensAndEventsCarry") {
  for (Role role : kRoles) CHECK(ParseRole(RoleName(role)) == role);
  const std::vector<std::string> names = {"owner",   "admin",   "manager", "member",
                                          "auditor", "service", "ops"};
  for (const std::string& name : names) {
    REQUIRE(ParseRole(name));
    CHECK(RoleName(*ParseRole(name)) == name);
  }
}

TEST_CASE("AnUnknownRoleNameMayDoNothing") {
  for (const char* name : {"", "Owner", "OPS", "root", "owner ", "auditor\n"}) {
    CAPTURE(name);
    CHECK_FALSE(ParseRole(name));
    for (Action action : kActions) CHECK_FALSE(Can(std::string_view(name), action));
    const Status refused = Authorize(Principal{"acme", {"x", name}}, Action::kReadEvents);
    CHECK(refused.code() == Code::kPermissionDenied);
    CHECK(refused.reason() == "forbidden");
  }
}

TEST_CASE("TheTenantsOwnRecordsNeedATenantWhateverTheRole") {
  CHECK(Authorize(Principal{"acme", {"alice", "owner"}}, Action::kManageRecords).ok());
  for (Action action : {Action::kManageRecords, Action::kReadRecords, Action::kReadHistory}) {
    const Status refused = Authorize(Principal{"", {"alice", "owner"}}, action);
    CHECK(refused.code() == Code::kPermissionDenied);
    CHECK(refused.message() == "a tenant's token is needed");
  }
  CHECK(Authorize(Principal{"", {"root", "ops"}}, Action::kAdminister).ok());
  CHECK(Authorize(Principal{"", {"root", "ops"}}, Action::kReadEvents).ok());
}

TEST_CASE("ARefusalNamesTheRoleAndWhatItMayNotDo") {
  const Status refused = Authorize(Principal{"acme", {"m", "member"}}, Action::kReadRecords);
  CHECK(refused.message() == "role 'member' may not read customers and contacts");
  CHECK(Authorize(Principal{"acme", {"a", "auditor"}}, Action::kManageRecords).message() ==
        "role 'auditor' may not manage customers and contacts");
  CHECK(Authorize(Principal{"acme", {"o", "owner"}}, Action::kAdminister).message() ==
        "admin routes need an ops token");
}

}  // namespace
}  // namespace cledger::domain
