// The rules of SPEC §2 as a table: given commands / when a command / then the events it
// appends or the named rejection (with nothing appended).
#include <doctest/doctest.h>

#include <algorithm>

#include "cledger/limits.h"
#include "tests/support/engine_fixture.h"

namespace cledger {
namespace {

using testing::As;
using testing::EngineFixture;
using testing::Person;

struct Step {
  CommandContext ctx;
  Command command;
};

struct Scenario {
  const char* proves;
  std::vector<Step> given;
  Step when;
  std::vector<std::string> then_events;  // "Type stream", in order
  std::string then_rejection;            // or the reason
  std::string then_field = {};
};

const CommandContext kOwner = As("acme", "owner");

ContactFields WithPhones(int n) {
  ContactFields f = Person("Ann", "ann@x.test");
  for (int i = 0; i < n; ++i) f.phones.push_back({"work", "+44 20 7946 000" + std::to_string(i)});
  return f;
}
ContactFields WithLines(int n) {
  ContactFields f = Person("Ann");
  for (int i = 0; i < n; ++i) f.address.lines.push_back("line " + std::to_string(i));
  return f;
}

// Customer c1 holding the most contacts it may: shared contact s0 linked, and direct contacts
// f1… up to the limit, plus `extra` given steps after them.
std::vector<Step> FullCustomer(std::vector<Step> extra = {}) {
  std::vector<Step> steps = {{kOwner, CreateContact{"s0", "", Person("Sid")}},
                             {kOwner, ShareContact{"s0", "c1"}}};
  for (size_t i = 1; i < limits::kContactsPerCustomerMax; ++i) {
    steps.push_back({kOwner, CreateContact{"f" + std::to_string(i), "c1", Person("F")}});
  }
  steps.insert(steps.end(), extra.begin(), extra.end());
  return steps;
}

std::vector<Scenario> Scenarios() {
  const Step k1{kOwner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")}};
  const Step s1{kOwner, CreateContact{"s1", "", Person("Sam", "sam@x.test")}};
  const Step globex{As("", "ops", "root"), CreateTenant{"globex", "standard"}};
  return {
      {"EmailTakenOnCreateIsCaseInsensitiveAndNamesTheExistingContact",
       {k1},
       {kOwner, CreateContact{"k2", "c2", Person("Bob", "  ANN@X.test ")}},
       {},
       "email_taken",
       "email"},
      {"EmailTakenOnEdit",
       {k1, {kOwner, CreateContact{"k2", "c1", Person("Bob", "bob@x.test")}}},
       {kOwner, EditContact{"k2", [](ContactFields& f) { f.email = "ann@x.test"; }}},
       {},
       "email_taken"},
      {"RestoreFailsWhenEmailTakenMeanwhile",
       {k1,
        {kOwner, DeleteContact{"k1"}},
        {kOwner, CreateContact{"k2", "c2", Person("B", "ann@x.test")}}},
       {kOwner, RestoreContact{"k1"}},
       {},
       "email_taken"},
      {"ADeletedContactsEmailIsFreeAgain",
       {k1, {kOwner, DeleteContact{"k1"}}},
       {kOwner, CreateContact{"k2", "c2", Person("B", "ann@x.test")}},
       {"ContactCreated contact-k2"},
       ""},
      {"EditingTheProfileContactIsRefused",
       {},
       {kOwner, EditContact{"profile-c1", [](ContactFields& f) { f.first_name = "x"; }}},
       {},
       "profile_contact_read_only"},
      {"DeletingTheProfileContactIsRefused",
       {},
       {kOwner, DeleteContact{"profile-c1"}},
       {},
       "profile_contact_read_only"},
      {"SettingPrimaryClearsThePreviousHolderInTheSameCommit",
       {k1,
        {kOwner, CreateContact{"k2", "c1", Person("Bob")}},
        {kOwner, SetLinkRoles{"c1", "k1", {"primary", "order"}}}},
       {kOwner, SetLinkRoles{"c1", "k2", {"primary"}}},
       {"ContactRolesChanged contact-k2", "ContactRolesChanged contact-k1"},
       ""},
      {"DeletingACustomerDeletesDirectContactsAndUnlinksSharedOnes",
       {k1, s1, {kOwner, ShareContact{"s1", "c1"}}, {kOwner, ShareContact{"s1", "c2"}}},
       {kOwner, DeleteCustomer{"c1"}},
       {"CustomerDeleted customer-c1", "ContactDeleted contact-k1", "ContactUnlinked contact-s1"},
       ""},
      {"ConvertingADirectContactThatHoldsBillingKeepsItLinked",
       {k1, {kOwner, SetLinkRoles{"c1", "k1", {"billing"}}}},
       {kOwner, ConvertToShared{"k1"}},
       {"ContactConvertedToShared contact-k1"},
       ""},
      {"ConvertingASharedContactIsRefused",
       {s1},
       {kOwner, ConvertToShared{"s1"}},
       {},
       "already_shared"},
      {"SharingADirectContactNeedsConversionFirst",
       {k1},
       {kOwner, ShareContact{"k1", "c2"}},
       {},
       "contact_not_shared"},
      {"SharingTwiceIsRefused",
       {s1, {kOwner, ShareContact{"s1", "c1"}}},
       {kOwner, ShareContact{"s1", "c1"}},
       {},
       "already_linked"},
      {"UnlinkingADirectContactIsRefused",
       {k1},
       {kOwner, UnlinkContact{"k1", "c1"}},
       {},
       "contact_not_shared"},
      {"UnlinkingWhatIsNotLinkedIsNotFound",
       {s1},
       {kOwner, UnlinkContact{"s1", "c1"}},
       {},
       "link_not_found"},
      {"RestoringAContactOfADeletedCustomerIsRefused",
       {k1, {kOwner, DeleteCustomer{"c1"}}},
       {kOwner, RestoreContact{"k1"}},
       {},
       "customer_deleted"},
      {"EditingADeletedContactIsRefused",
       {k1, {kOwner, DeleteContact{"k1"}}},
       {kOwner, EditContact{"k1", [](ContactFields& f) { f.title = "Dr"; }}},
       {},
       "contact_deleted"},
      {"RestoringAnActiveContactIsRefused",
       {k1},
       {kOwner, RestoreContact{"k1"}},
       {},
       "contact_not_deleted"},
      {"AContactNeedsAFirstNameOrAnEmail",
       {},
       {kOwner, CreateContact{"k9", "c1", Person("")}},
       {},
       "required",
       "first_name"},
      {"PortalAccessNeedsAnEmail",
       {},
       {kOwner, CreateContact{"k9", "c1", Person("Ann"), true}},
       {},
       "required",
       "email"},
      {"AFifthPhoneIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1", WithPhones(5)}},
       {},
       "too_many_phones",
       "phones"},
      {"FourPhonesAreFine",
       {},
       {kOwner, CreateContact{"k9", "c1", WithPhones(4)}},
       {"ContactCreated contact-k9"},
       ""},
      {"ASixthAddressLineIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1", WithLines(6)}},
       {},
       "too_many_address_lines",
       "address.lines"},
      {"AnUnknownCountryIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1",
                              [] {
                                auto f = Person("A");
                                f.address.country = "XX";
                                return f;
                              }()}},
       {},
       "invalid_country",
       "address.country"},
      {"AnInvalidEmailIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1", Person("A", "not-an-email")}},
       {},
       "invalid_email",
       "email"},
      {"AnInvalidWebsiteIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1",
                              [] {
                                auto f = Person("A");
                                f.website = "javascript:alert(1)";
                                return f;
                              }()}},
       {},
       "invalid_url",
       "website"},
      {"AnUnknownBillFormatIsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1",
                              [] {
                                auto f = Person("A");
                                f.communication.email_bill = "huge";
                                return f;
                              }()}},
       {},
       "invalid_enum",
       "communication.email_bill"},
      {"InvalidUtf8IsRejected",
       {},
       {kOwner, CreateContact{"k9", "c1", Person("A\xC3\x28")}},
       {},
       "invalid_utf8",
       "first_name"},
      {"AnUnknownLinkRoleIsRejected",
       {k1},
       {kOwner, SetLinkRoles{"c1", "k1", {"boss"}}},
       {},
       "invalid_enum",
       "roles[0]"},
      {"AMemberIsRefused",
       {},
       {As("acme", "member"), CreateContact{"k9", "c1", Person("A")}},
       {},
       "forbidden"},
      {"AnAuditorChangesNothing",
       {k1},
       {As("acme", "auditor"), DeleteContact{"k1"}},
       {},
       "forbidden"},
      {"AServiceTokenChangesNothing",
       {},
       {As("acme", "service"), CreateCustomer{"c9", "X", "x@x.test"}},
       {},
       "forbidden"},
      // globex exists and k1 exists, in acme: globex's owner is refused as if k1 did not exist.
      {"ACommandNeverCrossesTenants",
       {k1, globex},
       {As("globex", "owner"), DeleteContact{"k1"}},
       {},
       "contact_not_found"},
      {"ACommandNeverReachesAnotherTenantsCustomer",
       {globex},
       {As("globex", "owner"), CreateContact{"k9", "c1", Person("A")}},
       {},
       "customer_not_found"},
      {"ACommandToATenantThatDoesNotExistIsRefused",
       {k1},
       {As("initech", "owner"), DeleteContact{"k1"}},
       {},
       "tenant_not_found"},
      {"AManagerMayManageContacts",
       {},
       {As("acme", "manager"), CreateContact{"k9", "", Person("A")}},
       {"ContactCreated contact-k9"},
       ""},
      {"CreatingAnExistingContactIdIsRefused",
       {k1},
       {kOwner, CreateContact{"k1", "c2", Person("Z")}},
       {},
       "contact_exists"},
      {"ADirectContactNeedsALiveCustomer",
       {},
       {kOwner, CreateContact{"k9", "nope", Person("A")}},
       {},
       "customer_not_found"},
      {"AStaleExpectedVersionIsRefused",
       {k1},
       {[] {
          auto c = As("acme", "owner");
          c.expected_version = 7;
          return c;
        }(),
        DeleteContact{"k1"}},
       {},
       "version_mismatch"},
      {"ADirectContactBeyondTheCustomersContactLimitIsRefused",
       FullCustomer(),
       {kOwner, CreateContact{"k9", "c1", Person("A")}},
       {},
       "too_many_contacts"},
      {"SharingWithACustomerAtItsContactLimitIsRefused",
       FullCustomer({s1}),
       {kOwner, ShareContact{"s1", "c1"}},
       {},
       "too_many_contacts"},
      {"RestoringADirectContactBeyondTheLimitIsRefused",
       FullCustomer(
           {{kOwner, DeleteContact{"f1"}}, {kOwner, CreateContact{"k9", "c1", Person("A")}}}),
       {kOwner, RestoreContact{"f1"}},
       {},
       "too_many_contacts"},
      {"ADeletedDirectContactFreesItsPlaceUnderTheLimit",
       FullCustomer({{kOwner, DeleteContact{"f1"}}}),
       {kOwner, CreateContact{"k9", "c1", Person("A")}},
       {"ContactCreated contact-k9"},
       ""},
      {"TheContactLimitIsPerCustomer",
       FullCustomer(),
       {kOwner, CreateContact{"k9", "c2", Person("A")}},
       {"ContactCreated contact-k9"},
       ""},
      {"TheContactLimitComesAfterTheOtherRules",
       FullCustomer(),
       {kOwner, CreateContact{"f1", "c1", Person("A")}},
       {},
       "contact_exists"},
      {"TheCurrentExpectedVersionIsAccepted",
       {k1},
       {[] {
          auto c = As("acme", "owner");
          c.expected_version = 1;
          return c;
        }(),
        DeleteContact{"k1"}},
       {"ContactDeleted contact-k1"},
       ""},
  };
}

TEST_CASE("ContactRulesScenarios") {
  for (const Scenario& scenario : Scenarios()) {
    SUBCASE(scenario.proves) {
      EngineFixture f;
      for (const Step& step : scenario.given) f.Must(step.ctx, step.command);
      if (scenario.then_rejection.empty()) {
        CHECK(f.LastCommit(f.Must(scenario.when.ctx, scenario.when.command)) ==
              scenario.then_events);
      } else {
        const Status status = f.Fails(scenario.when.ctx, scenario.when.command);
        CHECK(status.reason() == scenario.then_rejection);
        if (!scenario.then_field.empty()) CHECK(status.field() == scenario.then_field);
      }
    }
  }
}

TEST_CASE("ACustomerHoldingTheMostContactsIsDeletedInOneCommit") {
  EngineFixture f;
  for (const Step& step : FullCustomer()) f.Must(step.ctx, step.command);
  f.Must(kOwner, DeleteContact{"f1"});  // a deleted direct contact appends nothing more
  f.Must(kOwner, CreateContact{"k9", "c1", Person("A")});
  CHECK(f.Fails(kOwner, CreateContact{"k10", "c1", Person("B")}).reason() == "too_many_contacts");
  const std::vector<std::string> events = f.LastCommit(f.Must(kOwner, DeleteCustomer{"c1"}));
  REQUIRE(events.size() == 1 + limits::kContactsPerCustomerMax);
  CHECK(events.front() == "CustomerDeleted customer-c1");
  CHECK(std::count(events.begin(), events.end(), "ContactUnlinked contact-s0") == 1);
  CHECK(std::count(events.begin(), events.end(), "ContactDeleted contact-k9") == 1);
  CHECK(std::count(events.begin(), events.end(), "ContactDeleted contact-f1") == 0);
}

TEST_CASE("EmailTakenNamesTheExistingContactAndSuggestsSharingIt") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  const Status s = f.Fails(f.owner, CreateContact{"k2", "c2", Person("Bob", "ANN@x.test")});
  CHECK(s.message().find("k1") != std::string::npos);
  CHECK(s.message().find("share") != std::string::npos);
}

TEST_CASE("AFreePlanHoldsCustomersButCannotManageContacts") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"thrifty", "free"});
  const auto ctx = As("thrifty", "owner");
  f.Must(ctx, CreateCustomer{"c1", "Cheap Co", "a@cheap.test"});
  const Status s = f.Fails(ctx, CreateContact{"k1", "c1", Person("Ann")});
  CHECK(s.reason() == "plan_upgrade_required");
  CHECK(s.code() == Code::kPermissionDenied);
}

TEST_CASE("ATenantMayRequireMoreContactFields") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"strict", "standard", {"last_name", "phones"}});
  const auto ctx = As("strict", "owner");
  f.Must(ctx, CreateCustomer{"c1", "Strict Ltd", "a@strict.test"});
  CHECK(f.Fails(ctx, CreateContact{"k1", "c1", Person("Ann")}).field() == "last_name");
  ContactFields ann = Person("Ann");
  ann.last_name = "Lee";
  CHECK(f.Fails(ctx, CreateContact{"k1", "c1", ann}).field() == "phones");
  ann.phones = {{"work", "+44 20 7946 0000"}};
  f.Must(ctx, CreateContact{"k1", "c1", ann});
  CHECK(f.Fails(ctx, EditContact{"k1", [](ContactFields& c) { c.last_name.clear(); }}).reason() ==
        "required");
  CHECK(f.Fails(f.ops, CreateTenant{"odd", "standard", {"shoe_size"}}).field() ==
        "required_fields[0]");
}

TEST_CASE("OnlyOpsCreatesTenantsAndIssuesTokens") {
  EngineFixture f;
  CHECK(f.Fails(f.owner, CreateTenant{"evil"}).reason() == "forbidden");
  CHECK(f.Fails(f.owner, IssueToken{"acme", "mallory", "owner"}).reason() == "forbidden");
  const CommandOutcome issued = f.Must(f.ops, IssueToken{"acme", "bob", "auditor"});
  auto principal = f.engine->Authenticate(issued.token);
  REQUIRE(principal.ok());
  CHECK(principal->tenant == "acme");
  CHECK(principal->actor == Actor{"bob", "auditor"});
  f.Must(f.ops, RevokeToken{issued.token});
  CHECK(f.engine->Authenticate(issued.token).status().code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace cledger
