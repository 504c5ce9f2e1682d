// Each fold on its own, over a map in memory: the state a sequence of events leaves, as the
// views read it. The same folds run inside every commit, for rebuilds and for time travel.
#include <doctest/doctest.h>

#include <map>

#include "projections/projection.h"
#include "projections/views.h"

namespace cledger {
namespace {

namespace pj = projections;

// Events of one tenant, numbered as the log would number them: positions, stream versions,
// one second apart.
class History {
 public:
  explicit History(std::string tenant = "acme") : tenant_(std::move(tenant)) {}

  Event Next(const std::string& stream, EventBody body) {
    Event e;
    e.position = ++position_;
    e.tenant = tenant_;
    e.stream = stream;
    e.stream_version = ++versions_[stream];
    e.recorded_at_us = static_cast<int64_t>(position_) * 1'000'000;
    e.actor = {"alice", "owner"};
    e.body = std::move(body);
    return e;
  }

 private:
  std::string tenant_;
  uint64_t position_ = 0;
  std::map<std::string, uint64_t> versions_;
};

void Fold(const pj::Projection& projection, pj::Kv& kv, const std::vector<Event>& events) {
  for (const Event& e : events) REQUIRE(projection.Apply(kv, e).ok());
}

ContactFields Named(const std::string& first, const std::string& email) {
  ContactFields f;
  f.first_name = first;
  f.email = email;
  return f;
}

ContactView Contact(pj::Kv& kv, const std::string& tenant, const std::string& id) {
  auto view = pj::GetContact(kv, tenant, id);
  REQUIRE(view.ok());
  REQUIRE(view->has_value());
  return **view;
}

TEST_CASE("TheContactsFoldKeepsSystemInformationThroughEditDeleteAndRestore") {
  History h;
  pj::MemKv kv;
  Fold(pj::kContacts, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "ann@x.test")}),
        h.Next("contact-k1", ContactEdited{"k1", Named("Anna", "ann@x.test")})});
  ContactView v = Contact(kv, "acme", "k1");
  CHECK(v.fields.first_name == "Anna");
  CHECK(v.system.created_us == 1'000'000);
  CHECK(v.system.last_modified_us == 2'000'000);
  CHECK(v.system.version == 2);
  CHECK_FALSE(v.deleted);

  Fold(pj::kContacts, kv, {h.Next("contact-k1", ContactDeleted{"k1"})});
  v = Contact(kv, "acme", "k1");
  CHECK(v.deleted);
  CHECK(v.system.deleted_us == 3'000'000);

  Fold(pj::kContacts, kv, {h.Next("contact-k1", ContactRestored{"k1"})});
  v = Contact(kv, "acme", "k1");
  CHECK_FALSE(v.deleted);
  CHECK(v.system.deleted_us == 3'000'000);  // the last deletion stays on record
  CHECK(v.system.version == 4);
}

TEST_CASE("AFoldWritesOnlyUnderItsOwnTenant") {
  History acme("acme");
  pj::MemKv kv;
  Fold(pj::kContacts, kv, {acme.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "")})});
  auto other = pj::GetContact(kv, "globex", "k1");
  REQUIRE(other.ok());
  CHECK_FALSE(other->has_value());
}

// Each customer's links, and their count, which the contact limit reads instead of them.
TEST_CASE("TheLinksFoldFollowsSharesAndUnlinksAndCountsEachCustomersLinks") {
  History h;
  pj::MemKv kv;
  auto count = [&](std::string_view customer) { return *pj::LinkCount(kv, "acme", customer); };
  Fold(pj::kLinks, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "")}),
        h.Next("contact-k1", ContactShared{"k1", "c2"}),
        h.Next("contact-k1", ContactRolesChanged{"k1", "c2", {"billing"}}),
        h.Next("contact-k2", ContactCreated{"k2", "", Named("Bob", "")}),
        h.Next("contact-k2", ContactShared{"k2", "c2"})});
  auto c2 = pj::LinksOf(kv, "acme", "c2");
  REQUIRE(c2.ok());
  REQUIRE(c2->size() == 2);
  CHECK(c2->front().contact_id == "k1");
  CHECK(count("c2") == 2);

  Fold(pj::kLinks, kv, {h.Next("contact-k1", ContactUnlinked{"k1", "c2"})});
  c2 = pj::LinksOf(kv, "acme", "c2");
  REQUIRE(c2.ok());
  CHECK(c2->size() == 1);
  CHECK(count("c2") == 1);
  auto c1 = pj::LinksOf(kv, "acme", "c1");
  REQUIRE(c1.ok());
  CHECK(c1->size() == 1);
  CHECK(count("c1") == 1);
  CHECK(count("c3") == 0);
}

TEST_CASE("TheEmailsFoldHoldsAnEmailForItsLiveContactOnly") {
  History h;
  pj::MemKv kv;
  Fold(pj::kEmails, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "ann@x.test")})});
  auto holder = pj::ContactWithEmail(kv, "acme", "ann@x.test");
  REQUIRE(holder.ok());
  CHECK(*holder == std::optional<std::string>("k1"));

  Fold(pj::kEmails, kv, {h.Next("contact-k1", ContactDeleted{"k1"})});
  holder = pj::ContactWithEmail(kv, "acme", "ann@x.test");
  REQUIRE(holder.ok());
  CHECK_FALSE(holder->has_value());
}

TEST_CASE("TheAuditFoldRecordsEachFieldsBeforeAndAfterWithItsActor") {
  History h;
  pj::MemKv kv;
  Fold(pj::kAudit, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "ann@x.test")}),
        h.Next("contact-k1", ContactEdited{"k1", Named("Ann", "ann@y.test")})});
  auto trail = pj::AuditTrail(kv, "acme", pj::AuditIndex::kStream, "contact-k1");
  REQUIRE(trail.ok());
  REQUIRE(trail->size() == 2);
  const AuditEntry& edit = trail->back();
  CHECK(edit.position == 2);
  CHECK(edit.actor.id == "alice");
  bool email_changed = false;
  for (const FieldChange& c : edit.changes) {
    if (c.field.find("email") != std::string::npos) {
      email_changed = c.before == "ann@x.test" && c.after == "ann@y.test";
    }
  }
  CHECK(email_changed);
  // The first name did not change, so the edit says nothing of it.
  for (const FieldChange& c : edit.changes) CHECK(c.field.find("first_name") == std::string::npos);
}

// A new contact's entry shows every field it was made with: the record's own text, the texts
// the trail composes (a phone, a list, a link's roles) and the ones it names (kind, status).
TEST_CASE("ANewContactsTrailEntryShowsEveryFieldAsItWasMade") {
  History h;
  pj::MemKv kv;
  ContactFields f = Named("Ann", "ann@x.test");
  f.phones = {{"mobile", "+44 7700 900001"}, {"work", "+44 20 7946 0001"}};
  f.address.lines = {"1 High St", "Flat 2"};
  f.communication.regarding = {"billing", "support"};
  Fold(pj::kAudit, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", f}),
        h.Next("contact-k1", ContactRolesChanged{"k1", "c1", {"billing", "technical"}})});
  auto trail = pj::AuditTrail(kv, "acme", pj::AuditIndex::kStream, "contact-k1");
  REQUIRE(trail.ok());
  REQUIRE(trail->size() == 2);
  std::map<std::string, std::pair<std::string, std::string>> made;
  for (const FieldChange& c : trail->front().changes) made[c.field] = {c.before, c.after};
  using Change = std::pair<std::string, std::string>;
  CHECK(made["status"] == Change{"", "active"});
  CHECK(made["kind"] == Change{"", "direct"});
  CHECK(made["first_name"] == Change{"", "Ann"});
  CHECK(made["phones[0]"] == Change{"", "mobile: +44 7700 900001"});
  CHECK(made["phones[1]"] == Change{"", "work: +44 20 7946 0001"});
  CHECK_FALSE(made.contains("phones[2]"));
  CHECK(made["address.lines"] == Change{"", "1 High St, Flat 2"});
  CHECK(made["communication.regarding"] == Change{"", "billing, support"});
  CHECK(made["communication.email_bill"] == Change{"", "none"});
  CHECK(made["portal_enabled"] == Change{"", "false"});
  CHECK(made["customers[c1].roles"] == Change{"", "(none)"});
  const std::vector<FieldChange>& roles = trail->back().changes;
  REQUIRE(roles.size() == 1);
  CHECK(roles[0].field == "customers[c1].roles");
  CHECK(roles[0].before == "(none)");
  CHECK(roles[0].after == "billing, technical");
}

// A list is shown as its items joined by ", ", so an item holding a comma is quoted: moving a
// comma from one address line to the next is a change the trail shows, not an edit of nothing.
TEST_CASE("AnAddressEditThatOnlyMovesACommaBetweenLinesIsInTheTrail") {
  History h;
  pj::MemKv kv;
  ContactFields before = Named("Ann", "ann@x.test");
  before.address.lines = {"Unit 4, Mill Lane", "Leeds"};
  ContactFields after = before;
  after.address.lines = {"Unit 4", "Mill Lane, Leeds"};
  ContactFields quoted = after;
  quoted.address.lines = {"The \"Old\" Mill", "Leeds"};
  Fold(pj::kAudit, kv,
       {h.Next("contact-k1", ContactCreated{"k1", "c1", before}),
        h.Next("contact-k1", ContactEdited{"k1", after}),
        h.Next("contact-k1", ContactEdited{"k1", quoted})});
  auto trail = pj::AuditTrail(kv, "acme", pj::AuditIndex::kStream, "contact-k1");
  REQUIRE(trail.ok());
  REQUIRE(trail->size() == 3);
  const std::vector<FieldChange>& moved = (*trail)[1].changes;
  REQUIRE(moved.size() == 1);
  CHECK(moved[0].field == "address.lines");
  CHECK(moved[0].before == "\"Unit 4, Mill Lane\", Leeds");
  CHECK(moved[0].after == "Unit 4, \"Mill Lane, Leeds\"");
  const std::vector<FieldChange>& edited = (*trail)[2].changes;
  REQUIRE(edited.size() == 1);
  CHECK(edited[0].after == "\"The \"\"Old\"\" Mill\", Leeds");
}

// An audit filter on a field is checked against the fields trails record, so a misspelt one
// is refused rather than answered with an empty trail: every field a trail can record must be
// one the check accepts.
TEST_CASE("EveryFieldATrailRecordsIsOneAnAuditFilterAccepts") {
  History h;
  pj::MemKv kv;
  ContactFields full = Named("Ann", "ann@x.test");
  full.title = "Dr";
  full.phones = {{"mobile", "+441234567890"}, {"work", "+441234567891"}};
  full.address.lines = {"1 High St"};
  full.address.postcode = "AB1 2CD";
  full.address.country = "GB";
  full.website = "https://ann.test";
  full.portal_enabled = true;
  full.communication.regarding = {"billing"};
  Fold(pj::kAudit, kv,
       {h.Next("tenant-acme", TenantCreated{"acme", "standard", {}}),
        h.Next("token-t1", TokenIssued{"hash", {"bob", "admin"}, 1'000'000}),
        h.Next("token-t1", TokenRevoked{"hash"}),
        h.Next("customer-c1", CustomerCreated{"c1", "Acme", "ap@acme.test", "short"}),
        h.Next("customer-c1", CustomerUpdated{"c1", "Acme Ltd", "ar@acme.test", "long"}),
        h.Next("customer-c2", CustomerCreated{"c2", "Globex", "ap@globex.test", "short"}),
        h.Next("contact-k1", ContactCreated{"k1", "c1", full}),
        h.Next("contact-k1", ContactConvertedToShared{"k1", "c1"}),
        h.Next("contact-k1", ContactShared{"k1", "c2"}),
        h.Next("contact-k1", ContactRolesChanged{"k1", "c2", {"billing"}}),
        h.Next("contact-k1", ContactPasswordReset{"k1", "hash", true, true}),
        h.Next("contact-k1", ContactDeleted{"k1"}), h.Next("contact-k1", ContactRestored{"k1"}),
        h.Next("contact-k1", ContactErased{"k1", "request", ""}),
        h.Next("customer-c2", CustomerErased{"c2", "request", ""})});
  auto trail = pj::TenantAuditLog(kv, "acme");
  REQUIRE(trail.ok());
  size_t changes = 0;
  for (const AuditEntry& entry : *trail) {
    for (const FieldChange& change : entry.changes) {
      CAPTURE(change.field);
      CHECK(pj::IsAuditedField(change.field));
      ++changes;
    }
  }
  CHECK(changes > 30);
  for (const char* field : {"email", "address", "address.lines", "phones", "phones[0]", "customers",
                            "customers[c2].roles", "password", "personal_data"}) {
    CAPTURE(field);
    CHECK(pj::IsAuditedField(field));
  }
  for (const char* field : {"emial", "address.linez", "phones[4]", "", "addr", "customers.x"}) {
    CAPTURE(field);
    CHECK_FALSE(pj::IsAuditedField(field));
  }
}

TEST_CASE("EveryFoldIsDeterministic") {
  for (const pj::Projection* projection : pj::All()) {
    CAPTURE(std::string(projection->name()));
    pj::MemKv first, second;
    for (pj::MemKv* kv : {&first, &second}) {
      History h;
      Fold(*projection, *kv,
           {h.Next("tenant-acme", TenantCreated{"acme", "standard", {}}),
            h.Next("customer-c1", CustomerCreated{"c1", "Acme", "ap@acme.test", ""}),
            h.Next("contact-k1", ContactCreated{"k1", "c1", Named("Ann", "ann@x.test")}),
            h.Next("contact-k1", ContactEdited{"k1", Named("Anna", "ann@x.test")}),
            h.Next("contact-k1", ContactDeleted{"k1"})});
    }
    CHECK(first.contents() == second.contents());
    CHECK_FALSE(first.contents().empty());
  }
}

// A rebuild folds through a memory of the records it read and wrote. Whether that memory
// holds everything or keeps forgetting (a budget of a few records), the fold reads back what
// it last wrote, its position-made keys (PutNew) too: the state is the one a fold without it
// leaves.
TEST_CASE("AFoldThroughItsMemoryOfRecordsLeavesWhatAFoldWithoutItLeaves") {
  History h;
  std::vector<Event> events = {h.Next("tenant-acme", TenantCreated{"acme", "standard", {}}),
                               h.Next("customer-c1", CustomerCreated{"c1", "Acme", "", ""}),
                               h.Next("customer-c2", CustomerCreated{"c2", "Bolt", "", ""})};
  for (int round = 0; round < 20; ++round) {
    for (const std::string id : {"k1", "k2", "k3"}) {
      const std::string stream = "contact-" + id;
      const std::string name = id + "-" + std::to_string(round);
      events.push_back(round == 0 ? h.Next(stream, ContactCreated{id, "c1", Named(name, "")})
                                  : h.Next(stream, ContactEdited{id, Named(name, "")}));
      if (round % 3 == 1) events.push_back(h.Next(stream, ContactShared{id, "c2"}));
      if (round % 3 == 2) events.push_back(h.Next(stream, ContactUnlinked{id, "c2"}));
      if (round % 4 == 3) events.push_back(h.Next(stream, ContactDeleted{id}));
      if (round % 4 == 0 && round > 0) events.push_back(h.Next(stream, ContactRestored{id}));
    }
  }
  // An erasure rewrites the trail the fold wrote before it.
  events.push_back(h.Next("contact-k3", ContactErased{"k3", "request 7", ""}));
  for (const pj::Projection* projection : pj::All()) {
    CAPTURE(std::string(projection->name()));
    pj::MemKv plain;
    Fold(*projection, plain, events);
    for (const size_t budget : {size_t{1} << 30, size_t{1} << 10, size_t{0}}) {
      // Told that the keyspace began empty, it answers "absent" for keys it never wrote.
      for (const bool began_empty : {false, true}) {
        CAPTURE(budget);
        CAPTURE(began_empty);
        pj::MemKv kv;
        pj::CachedKv::Memory memory;
        if (began_empty) memory.written.emplace();
        pj::CachedKv cached(kv, memory, budget);
        Fold(*projection, cached, events);
        CHECK(kv.contents() == plain.contents());
      }
    }
  }
}

// Every key written is held, through each larger filter added as the last fills; of keys never
// written, about 1 % are "may hold" (they are read from the database, as without a filter).
TEST_CASE("WrittenKeysHoldsEveryKeyWrittenAndFewOthers") {
  pj::WrittenKeys written;
  constexpr int kWritten = 300'000;  // past the first filters' capacity
  for (int i = 0; i < kWritten; ++i) written.Add("record-" + std::to_string(i));
  for (int i = 0; i < kWritten; ++i) {
    if (!written.MayHold("record-" + std::to_string(i))) FAIL("lost record-" << i);
  }
  int false_positives = 0;
  constexpr int kOthers = 100'000;
  for (int i = 0; i < kOthers; ++i)
    false_positives += written.MayHold("other-" + std::to_string(i));
  CHECK(false_positives < kOthers * 3 / 100);
}

TEST_CASE("ARecordWrittenAfterItsMemoryFilledUpReadsBackAsWritten") {
  pj::MemKv kv;
  kv.Put("a", "1");
  kv.Put("b", "2");
  pj::CachedKv::Memory memory;
  pj::CachedKv cached(kv, memory, 100);  // room for one record
  REQUIRE(cached.Get("a")->value() == "1");
  REQUIRE(cached.Get("b")->value() == "2");  // "a" is forgotten
  cached.Put("a", "3");
  cached.Delete("b");
  CHECK(cached.Get("a")->value() == "3");
  CHECK_FALSE(cached.Get("b")->has_value());
  CHECK(cached.Get("a")->value() == "3");
}

}  // namespace
}  // namespace cledger
