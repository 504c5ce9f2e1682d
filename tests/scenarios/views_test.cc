// What readers see: views, profile contacts, System Information, recipients, audit trails,
// time travel and tenant isolation.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <future>
#include <vector>

#include "projections/projection.h"
#include "tests/support/engine_fixture.h"

namespace cledger {
namespace {

using testing::EngineFixture;
using testing::Person;
using testing::Reader;

// Opens the closed ledger's RocksDB directly and calls `each` with every column family.
template <typename Each>
void WithClosedLedger(EngineFixture& f, Each each) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies({}, f.dir.Sub("data"), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.push_back({name, {}});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open({}, f.dir.Sub("data"), families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < names.size(); ++i) each(*db, names[i], handles[i]);
  for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
}

TEST_CASE("AnEditOfASharedContactIsSeenFromEveryLinkedCustomer") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"s1", "", Person("Sam", "sam@x.test")});
  f.Must(f.owner, ShareContact{"s1", "c1"});
  f.Must(f.owner, ShareContact{"s1", "c2"});
  f.Must(f.owner, EditContact{"s1", [](ContactFields& f) { f.email = "samuel@x.test"; }});
  for (const char* customer : {"c1", "c2"}) {
    auto list = f.engine->ListContacts(Reader(), customer, ContactStatus::kActive);
    REQUIRE(list->size() == 2);  // the profile contact, then Sam
    CHECK(list->at(1).fields.email == "samuel@x.test");
  }
}

TEST_CASE("TheProfileContactFollowsTheCustomersFirstEmail") {
  EngineFixture f;
  auto list = f.engine->ListContacts(Reader(), "c1", ContactStatus::kActive);
  REQUIRE(list->size() == 1);
  CHECK(list->at(0).profile);
  CHECK(list->at(0).id == "profile-c1");
  CHECK(list->at(0).fields.email == "ap@acme.test");
  f.Must(f.owner, UpdateCustomer{"c1", {}, std::string("billing@acme.test"), {}});
  CHECK(f.Contact("profile-c1").fields.email == "billing@acme.test");
}

TEST_CASE("DeletedContactsLeaveTheActiveListAndAppearAsInactive") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  f.Must(f.owner, CreateContact{"k2", "c1", Person("Bob")});
  f.Must(f.owner, DeleteContact{"k1"});
  CHECK(f.ListIds("c1", ContactStatus::kActive) == std::vector<std::string>{"profile-c1", "k2"});
  CHECK(f.ListIds("c1", ContactStatus::kInactive) == std::vector<std::string>{"k1"});
  CHECK(f.ListIds("c1", ContactStatus::kAll).size() == 3);
  f.Must(f.owner, RestoreContact{"k1"});
  CHECK(f.ListIds("c1", ContactStatus::kInactive).empty());
}

TEST_CASE("SystemInformationKeepsTheLastDeletionAfterARestore") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  const ContactView created = f.Contact("k1");
  CHECK(created.system.version == 1);
  CHECK_FALSE(created.system.deleted_us);
  f.Must(f.owner, DeleteContact{"k1"});
  const int64_t deleted_at = *f.Contact("k1").system.deleted_us;
  f.Must(f.owner, RestoreContact{"k1"});
  const ContactView restored = f.Contact("k1");
  CHECK_FALSE(restored.deleted);
  CHECK(restored.system.deleted_us == deleted_at);
  CHECK(restored.system.created_us == created.system.created_us);
  CHECK(restored.system.last_modified_us >= deleted_at);
  CHECK(restored.system.version == 3);
}

TEST_CASE("APortalIsEnabledByDefaultWhenTheContactHasAnEmail") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.Must(f.owner, CreateContact{"k2", "c1", Person("Bob")});
  CHECK(f.Contact("k1").fields.portal_enabled);
  CHECK_FALSE(f.Contact("k2").fields.portal_enabled);
}

TEST_CASE("ADirectContactDiesWithItsCustomerAndASharedOneStaysLinkedElsewhere") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  f.Must(f.owner, CreateContact{"s1", "", Person("Sam")});
  f.Must(f.owner, ShareContact{"s1", "c1"});
  f.Must(f.owner, ShareContact{"s1", "c2"});
  f.Must(f.owner, DeleteCustomer{"c1"});
  CHECK(f.Contact("k1").deleted);
  const ContactView sam = f.Contact("s1");
  CHECK_FALSE(sam.deleted);
  CHECK(sam.customers == std::vector<Link>{{"c2", {}}});
}

TEST_CASE("AConvertedContactKeepsItsCustomerAndItsBillingRole") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.Must(f.owner, SetLinkRoles{"c1", "k1", {"billing"}});
  f.Must(f.owner, ConvertToShared{"k1"});
  const ContactView ann = f.Contact("k1");
  CHECK(ann.shared);
  CHECK(ann.customers == std::vector<Link>{{"c1", {"billing"}}});
  f.Must(f.owner, ShareContact{"k1", "c2"});
  auto invoice = f.engine->Recipients(Reader(), "c1", "invoice");
  CHECK(std::count_if(invoice->begin(), invoice->end(),
                      [](const Recipient& r) { return r.contact_id == "k1"; }) == 1);
}

TEST_CASE("InvoicesGoToTheCustomersEmailsTheBillingContactAndEmailBillContacts") {
  EngineFixture f;
  ContactFields full = Person("Fay", "fay@x.test");
  full.communication.email_bill = "short";
  f.Must(f.owner, CreateContact{"fay", "c1", full});
  f.Must(f.owner, CreateContact{"bill", "c1", Person("Bill", "bill@x.test")});
  f.Must(f.owner, SetLinkRoles{"c1", "bill", {"billing", "order"}});
  f.Must(f.owner, CreateContact{"none", "c1", Person("Nat", "nat@x.test")});
  ContactFields gone = Person("Gus", "gus@x.test");
  gone.communication.email_bill = "long";
  f.Must(f.owner, CreateContact{"gone", "c1", gone});
  f.Must(f.owner, DeleteContact{"gone"});

  auto invoice = f.engine->Recipients(Reader(), "c1", "invoice");
  REQUIRE(invoice.ok());
  CHECK(*invoice == std::vector<Recipient>{{"ap@acme.test", "", "full"},
                                           {"ceo@acme.test", "", "full"},
                                           {"bill@x.test", "bill", "full"},
                                           {"fay@x.test", "fay", "short"}});
  auto orders = f.engine->Recipients(Reader(), "c1", "order");
  CHECK(*orders == std::vector<Recipient>{{"bill@x.test", "bill", ""}});
  CHECK(f.engine->Recipients(Reader(), "c1", "fax").status().reason() == "invalid_enum");
}

TEST_CASE("CorrespondenceAndTicketCopiesGoToContactsThatChoseThatType") {
  EngineFixture f;
  ContactFields ann = Person("Ann", "ann@x.test");
  ann.communication.copy_correspondence = {"dunning"};
  ann.communication.copy_ticket_updates = {"outage"};
  f.Must(f.owner, CreateContact{"k1", "c1", ann});
  f.Must(f.owner, CreateContact{"k2", "c1", Person("Bob", "bob@x.test")});
  CHECK(f.engine->Recipients(Reader(), "c1", "correspondence:dunning")->size() == 1);
  CHECK(f.engine->Recipients(Reader(), "c1", "ticket:outage")->at(0).contact_id == "k1");
  CHECK(f.engine->Recipients(Reader(), "c1", "ticket:billing")->empty());
}

TEST_CASE("TheAuditTrailShowsBothSidesOfAPrimaryHandOver") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  f.Must(f.owner, CreateContact{"k2", "c1", Person("Bob")});
  f.Must(f.owner, SetLinkRoles{"c1", "k1", {"primary"}});
  f.Must(f.owner, SetLinkRoles{"c1", "k2", {"primary"}});
  auto k1 = f.engine->ContactHistory(Reader(), "k1");
  REQUIRE(k1->size() == 3);
  CHECK(k1->back().changes ==
        std::vector<FieldChange>{{"customers[c1].roles", "primary", "(none)"}});
  auto customer = f.engine->CustomerHistory(Reader(), "c1");
  CHECK(customer->back().operation == "ContactRolesChanged");
  CHECK(customer->back().stream == "contact-k1");
}

TEST_CASE("TheAuditTrailRecordsEachFieldBeforeAndAfterAndWho") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.Must(testing::As("acme", "manager", "mike"), EditContact{"k1", [](ContactFields& c) {
                                                               c.last_name = "Lee";
                                                               c.email = "lee@x.test";
                                                             }});
  auto trail = f.engine->ContactHistory(Reader(), "k1");
  REQUIRE(trail->size() == 2);
  const AuditEntry& edit = trail->back();
  CHECK(edit.operation == "ContactEdited");
  CHECK(edit.actor == Actor{"mike", "manager"});
  CHECK(edit.changes ==
        std::vector<FieldChange>{{"last_name", "", "Lee"}, {"email", "ann@x.test", "lee@x.test"}});
  auto by_mike = f.engine->ActorHistory(Reader(), "mike", 0, INT64_MAX);
  CHECK(by_mike->size() == 1);
}

// A caller that asks for the record gets it as its own command left it, however many commands
// on the same record were decided in the same group after it; one that does not gets none.
TEST_CASE("ACommandAskedForItsRecordCarriesItAsItsOwnCommitLeftIt") {
  EngineFixture f;
  CommandContext asking = f.owner;
  asking.wants_record = true;
  const CommandOutcome created = f.Must(asking, CreateContact{"k1", "c1", Person("Ann")});
  REQUIRE(created.contact.has_value());
  CHECK(created.contact->fields.first_name == "Ann");
  CHECK(created.contact->system.version == created.version);
  std::vector<std::future<Result<CommandOutcome>>> edits;
  for (int i = 0; i < 50; ++i) {
    edits.push_back(f.engine->ExecuteAsync(
        asking, EditContact{"k1", [i](ContactFields& c) { c.title = "T" + std::to_string(i); }}));
  }
  for (int i = 0; i < 50; ++i) {
    auto edited = edits[static_cast<size_t>(i)].get();
    REQUIRE(edited.ok());
    REQUIRE(edited->contact.has_value());
    CHECK(edited->contact->fields.title == "T" + std::to_string(i));
    CHECK(edited->contact->system.version == edited->version);
  }
  const CommandOutcome renamed = f.Must(asking, UpdateCustomer{"c1", "Acme Ltd", {}, {}});
  REQUIRE(renamed.customer.has_value());
  CHECK(renamed.customer->name == "Acme Ltd");
  CHECK_FALSE(renamed.contact.has_value());
  const CommandOutcome silent =
      f.Must(f.owner, EditContact{"k1", [](ContactFields& c) { c.title = "Dr"; }});
  CHECK_FALSE(silent.contact.has_value());
}

TEST_CASE("AContactAsOfAPositionOrATimeIsTheStateThen") {
  EngineFixture f;
  const auto created = f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  const ContactView then = f.Contact("k1");
  f.Must(f.owner, EditContact{"k1", [](ContactFields& c) { c.first_name = "Anna"; }});
  f.Must(f.owner, DeleteContact{"k1"});
  CHECK(f.Contact("k1", AsOf{created.last_position, {}}) == then);
  CHECK(f.Contact("k1", AsOf{{}, then.system.last_modified_us}) == then);
  CHECK(
      f.engine->GetContact(Reader(), "k1", AsOf{created.first_position - 1, {}}).status().code() ==
      Code::kNotFound);
  auto history = f.engine->ContactHistory(Reader(), "k1", AsOf{created.last_position, {}});
  CHECK(history->size() == 1);
}

// A position the log has not reached yet has no state: the answer would change as events
// are appended below it, so it is refused rather than shown as the current one.
TEST_CASE("AContactAtAPositionPastTheHeadIsRefusedNotShownAsItIsNow") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  const uint64_t head = f.engine->ledger().GetHead().position;
  CHECK(f.Contact("k1", AsOf{head, {}}) == f.Contact("k1"));
  auto ahead = f.engine->GetContact(Reader(), "k1", AsOf{head + 1, {}});
  REQUIRE_FALSE(ahead.ok());
  CHECK(ahead.status().reason() == "position_not_reached");
  CHECK(ahead.status().message().find(std::to_string(head)) != std::string::npos);
  CHECK_FALSE(f.engine->ContactHistory(Reader(), "k1", AsOf{head + 1, {}}).ok());
}

// Time travel folds a long stream from its newest checkpoint (projections/projection.h), not
// from its first event: on either side of a checkpoint it shows exactly the state then.
TEST_CASE("ALongStreamAsOfAnyPositionIsTheStateThenOnEitherSideOfItsCheckpoints") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k2", "c2", Person("Bob")});
  std::vector<uint64_t> position_of{0, f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")})
                                           .last_position};  // by stream version
  for (int version = 2; version <= 600; ++version) {
    const std::string title = "T" + std::to_string(version);
    position_of.push_back(
        f.Must(f.owner, EditContact{"k1", [title](ContactFields& c) { c.title = title; }})
            .last_position);
    f.Must(f.owner, EditContact{"k2", [title](ContactFields& c) { c.title = title; }});
  }
  constexpr uint64_t kEvery = projections::kCheckpointEvery;
  for (uint64_t version : {1ul, 2ul, kEvery - 1, kEvery, kEvery + 1, 2 * kEvery - 1, 2 * kEvery,
                           2 * kEvery + 1, 600ul}) {
    const ContactView then = f.Contact("k1", AsOf{position_of[version], {}});
    CHECK(then.system.version == version);
    CHECK(then.fields.title == (version == 1 ? "" : "T" + std::to_string(version)));
    if (version > 1) CHECK(f.Contact("k1", AsOf{position_of[version] + 1, {}}) == then);  // k2's
    const ContactView by_time = f.Contact("k1", AsOf{{}, then.system.last_modified_us});
    CHECK(by_time.system.version >= version);  // the same microsecond may hold later edits
  }
  CHECK(f.Contact("k1", AsOf{position_of[600], {}}) == f.Contact("k1"));
}

// A ledger written before checkpoints: its contacts family lacks them. Opening it folds that
// projection afresh, once, so verify and time travel agree with the fold the code has now.
TEST_CASE("AProjectionWrittenByAnOlderFoldIsFoldedAfreshWhenTheLedgerOpens") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  for (int i = 0; i < 300; ++i) {
    f.Must(f.owner, EditContact{"k1", [i](ContactFields& c) { c.title = std::to_string(i); }});
  }
  const ContactView now = f.Contact("k1");
  f.engine.reset();
  // What the older fold left: no checkpoint, no record of the fold's version.
  WithClosedLedger(
      f, [](rocksdb::DB& db, const std::string& name, rocksdb::ColumnFamilyHandle* cf) {
        for (const char* fold : {"projection-fold/contacts", "projection-fold/audit"}) {
          if (name == "default") REQUIRE(db.Delete({}, cf, fold).ok());
        }
        if (name == "p.contacts.1") REQUIRE(db.DeleteRange({}, cf, "\xfe", "\xff").ok());
      });
  f.Reopen();
  for (const ProjectionStatus& p : f.engine->Projections()) {
    CHECK(p.generation == (p.name == "contacts" || p.name == "audit" ? 2 : 1));
  }
  auto mismatches = f.engine->VerifyProjections();
  REQUIRE(mismatches.ok());
  CHECK(mismatches->empty());
  CHECK(f.Contact("k1") == now);
  f.Reopen();  // once: the next open finds the fold's version recorded
  CHECK(f.engine->Projections()[2].generation == 2);
}

TEST_CASE("WhatAnInterruptedRebuildOrVerifyLeftBehindIsDroppedWhenTheLedgerOpens") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.engine.reset();
  WithClosedLedger(f, [](rocksdb::DB& db, const std::string& name, rocksdb::ColumnFamilyHandle*) {
    if (name != "default") return;
    for (const char* leftover : {"p.contacts.7", "verify.emails"}) {
      rocksdb::ColumnFamilyHandle* cf = nullptr;
      REQUIRE(db.CreateColumnFamily({}, leftover, &cf).ok());
      REQUIRE(db.Put({}, cf, "personal", "data").ok());
      REQUIRE(db.DestroyColumnFamilyHandle(cf).ok());
    }
  });
  f.Reopen();
  CHECK(f.Contact("k1").fields.first_name == "Ann");
  f.engine.reset();
  std::vector<std::string> names;
  WithClosedLedger(f, [&](rocksdb::DB&, const std::string& name, rocksdb::ColumnFamilyHandle*) {
    names.push_back(name);
  });
  CHECK(std::find(names.begin(), names.end(), "p.contacts.7") == names.end());
  CHECK(std::find(names.begin(), names.end(), "verify.emails") == names.end());
  CHECK(std::find(names.begin(), names.end(), "p.contacts.1") != names.end());
}

TEST_CASE("ATenantNeverSeesAnotherTenantsRecords") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.Must(f.ops, CreateTenant{"globex"});
  const auto globex = testing::As("globex", "owner");
  const Principal reader = Reader("globex");
  CHECK(f.engine->GetContact(reader, "k1").status().code() == Code::kNotFound);
  CHECK(f.engine->GetCustomer(reader, "c1").status().code() == Code::kNotFound);
  CHECK(f.engine->ListContacts(reader, "c1", ContactStatus::kAll).status().code() ==
        Code::kNotFound);
  CHECK(f.engine->ContactHistory(reader, "k1").status().code() == Code::kNotFound);
  CHECK(f.engine->CustomerHistory(reader, "c1").status().code() == Code::kNotFound);
  CHECK(f.Fails(globex, DeleteContact{"k1"}).code() == Code::kNotFound);
  // The same email in another tenant is not taken.
  f.Must(globex, CreateCustomer{"g1", "Globex", "g@globex.test"});
  f.Must(globex, CreateContact{"k1", "g1", Person("Ann", "ann@x.test")});
}

TEST_CASE("MembersAndServicesReadNoCustomersWhileAuditorsReadHistory") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  CHECK(f.engine->GetContact(Reader("acme", "member"), "k1").status().code() ==
        Code::kPermissionDenied);
  CHECK(f.engine->GetContact(Reader("acme", "service"), "k1").status().code() ==
        Code::kPermissionDenied);
  CHECK(f.engine->ContactHistory(Reader("acme", "auditor"), "k1")->size() == 1);
}

TEST_CASE("ViewsSurviveARestart") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  const ContactView before = f.Contact("k1");
  f.Reopen();
  CHECK(f.Contact("k1") == before);
  CHECK(f.Fails(f.owner, CreateContact{"k2", "c1", Person("B", "ann@x.test")}).reason() ==
        "email_taken");
}

TEST_CASE("ARetriedCommandReturnsTheFirstOutcomeAndAppendsNothing") {
  EngineFixture f;
  auto ctx = f.owner;
  ctx.idempotency_key = "create-k1";
  const CommandOutcome first = f.Must(ctx, CreateContact{"", "c1", Person("Ann", "ann@x.test")});
  const CommandOutcome retry = f.Must(ctx, CreateContact{"", "c1", Person("Ann", "ann@x.test")});
  CHECK(retry.replayed);
  CHECK(retry.id == first.id);
  CHECK(first.version == 1);
  CHECK(retry.version == first.version);
  CHECK(retry.last_position == first.last_position);
  const CommandOutcome edit =
      f.Must(f.owner, EditContact{first.id, [](ContactFields& c) { c.title = "Dr"; }});
  CHECK(edit.version == 2);
  CHECK(edit.id == first.id);
}

}  // namespace
}  // namespace cledger
