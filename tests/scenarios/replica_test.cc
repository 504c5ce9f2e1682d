// What a cluster node relies on (docs/CLUSTER.md): the owner hands every group to the log of
// record before keeping it, and a follower that applies those groups ends with the same
// ledger, the same views and the same idempotency records.
#include <doctest/doctest.h>

#include <mutex>

#include "tests/support/engine_fixture.h"

namespace cledger {
namespace {

using testing::As;
using testing::Reader;

// An engine whose groups go to `log` (a stand-in for PostgreSQL's table) before they are kept.
struct Node {
  testing::TempDir dir;
  std::unique_ptr<Engine> engine;
  std::mutex mu;
  std::vector<ReplicaEvent> log;
  std::vector<ReplicaDataKey> data_keys;
  std::vector<uint64_t> forgotten_requests;
  Status refuse = Status::Ok();  // what the log of record answers

  // The nodes of a cluster share one master key: the idempotency records' fingerprints are
  // keyed with it.
  explicit Node(const std::string& master_key_file = {}, bool sealed = true) {
    LedgerOptions options;
    options.path = dir.Sub("data");
    options.master_key_file = master_key_file;
    options.seal_personal_data = sealed;
    options.replicate = [this](const ReplicaGroup& group) {
      std::lock_guard lock(mu);
      if (!refuse.ok()) return refuse;
      log.insert(log.end(), group.events.begin(), group.events.end());
      data_keys.insert(data_keys.end(), group.data_keys.begin(), group.data_keys.end());
      forgotten_requests.insert(forgotten_requests.end(), group.forgotten_requests.begin(),
                                group.forgotten_requests.end());
      return Status::Ok();
    };
    auto opened = Engine::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    engine = std::move(opened).value();
  }
};

CommandContext WithKey(CommandContext context, const std::string& key) {
  context.idempotency_key = key;
  return context;
}

TEST_CASE("AFollowerApplyingTheOwnersGroupsHasTheSameLedgerViewsAndIdempotencyRecords") {
  testing::TempDir keys;
  Node owner(keys.Sub("master.key"));
  Node follower(keys.Sub("master.key"));
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  auto created = owner.engine->Execute(WithKey(As("acme", "owner"), "k1"),
                                       CreateCustomer{"c1", "Acme Corp", "ap@acme.test", ""});
  REQUIRE(created.ok());
  REQUIRE(owner.engine
              ->Execute(As("acme", "owner"), UpdateCustomer{"c1", std::string("Acme Inc"), {}, {}})
              .ok());
  REQUIRE(owner.log.size() == owner.engine->ledger().GetHead().position);

  REQUIRE(follower.engine->ApplyReplicated({owner.log, owner.data_keys}).ok());
  CHECK(follower.engine->ledger().GetHead().position == owner.engine->ledger().GetHead().position);
  CHECK(follower.engine->ledger().GetHead().hash == owner.engine->ledger().GetHead().hash);
  CHECK(follower.engine->ledger().VerifyChain().ok);
  auto view = follower.engine->GetCustomer(Reader(), "c1");
  REQUIRE(view.ok());
  CHECK(view->name == "Acme Inc");
  // Applying the same events again changes nothing.
  REQUIRE(follower.engine->ApplyReplicated({owner.log, owner.data_keys}).ok());
  CHECK(follower.engine->ledger().GetHead().position == owner.log.size());

  // The follower takes over: a client's retry is recognised, nothing is appended twice.
  auto retried = follower.engine->Execute(WithKey(As("acme", "owner"), "k1"),
                                          CreateCustomer{"c1", "Acme Corp", "ap@acme.test", ""});
  REQUIRE_MESSAGE(retried.ok(), retried.status().ToString());
  CHECK(retried->replayed);
  CHECK(retried->last_position == created->last_position);
  CHECK(follower.log.empty());
}

// A follower that gets a keyed request to a subject and the subject's erasure in one group
// keeps no record of that request: a replay there must not confirm a guess of the fields.
TEST_CASE("AFollowerKeepsNoIdempotencyRecordOfARequestToASubjectErasedInTheSameGroup") {
  testing::TempDir keys;
  Node owner(keys.Sub("master.key"));
  Node follower(keys.Sub("master.key"));
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  const Command create = CreateCustomer{"c1", "Acme Corp", "ap@acme.test", ""};
  REQUIRE(owner.engine->Execute(WithKey(As("acme", "owner"), "k1"), create).ok());
  const Command other = CreateCustomer{"c2", "Beta Ltd", "ap@beta.test", ""};
  REQUIRE(owner.engine->Execute(WithKey(As("acme", "owner"), "k2"), other).ok());
  REQUIRE(owner.engine->Erase(As("acme", "owner"), "customer", "c1", "GDPR request 11").ok());

  REQUIRE(follower.engine->ApplyReplicated({owner.log, owner.data_keys}).ok());
  const Command guess = CreateCustomer{"c1", "Acme Corp", "guess@acme.test", ""};
  auto right = follower.engine->Execute(WithKey(As("acme", "owner"), "k1"), create);
  auto wrong = follower.engine->Execute(WithKey(As("acme", "owner"), "k1"), guess);
  REQUIRE_FALSE(right.ok());
  REQUIRE_FALSE(wrong.ok());
  CHECK(right.status().reason() == wrong.status().reason());
  auto replayed = follower.engine->Execute(WithKey(As("acme", "owner"), "k2"), other);
  REQUIRE_MESSAGE(replayed.ok(), replayed.status().ToString());
  CHECK(replayed->replayed);  // another subject's record stays
}

// The log of record keeps each commit's idempotency record for the nodes that apply it: the
// erasure's own group tells it which to forget, so no node rebuilt from it and no reader of
// it can confirm a guess of the erased fields.
TEST_CASE("AnErasureTellsTheLogOfRecordToForgetTheRequestsMadeToTheErasedSubject") {
  Node owner;
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  auto created = owner.engine->Execute(WithKey(As("acme", "owner"), "k1"),
                                       CreateCustomer{"c1", "Acme Corp", "ap@acme.test", ""});
  REQUIRE(created.ok());
  auto other = owner.engine->Execute(WithKey(As("acme", "owner"), "k2"),
                                     CreateCustomer{"c2", "Beta Ltd", "ap@beta.test", ""});
  REQUIRE(other.ok());
  CHECK(owner.forgotten_requests.empty());

  REQUIRE(owner.engine->Erase(As("acme", "owner"), "customer", "c1", "GDPR request 12").ok());
  CHECK(owner.forgotten_requests == std::vector<uint64_t>{created->last_position});
}

TEST_CASE("ReplicatedEventsThatDoNotContinueTheLocalChainAreRefused") {
  Node owner;
  Node follower;
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  REQUIRE(
      owner.engine->Execute(As("acme", "owner"), CreateCustomer{"c1", "Acme", "ap@acme.test", ""})
          .ok());
  REQUIRE(owner.log.size() == 2);

  std::vector<ReplicaEvent> skipped{owner.log[1]};  // position 2 onto an empty ledger
  CHECK(follower.engine->ApplyReplicated({skipped, owner.data_keys}).code() == Code::kCorruption);
  std::vector<ReplicaEvent> altered = owner.log;
  altered[1].bytes[altered[1].bytes.size() / 2] ^= 1;
  CHECK(follower.engine->ApplyReplicated({altered, owner.data_keys}).code() == Code::kCorruption);
  CHECK(follower.engine->ledger().GetHead().position == 0);  // nothing of either kept
}

TEST_CASE("AGroupTheLogOfRecordRefusesIsNeitherKeptNorAcknowledged") {
  Node owner;
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  owner.refuse = Status::Unavailable("not_owner", "the lease has ended");
  auto refused =
      owner.engine->Execute(As("acme", "owner"), CreateCustomer{"c1", "Acme", "ap@acme.test", ""});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().reason() == "not_owner");
  CHECK(owner.engine->ledger().GetHead().position == 1);
  CHECK(owner.engine->GetCustomer(Reader(), "c1").status().code() == Code::kNotFound);
  owner.refuse = Status::Ok();
  CHECK(owner.engine->Execute(As("acme", "owner"), CreateCustomer{"c1", "Acme", "ap@acme.test", ""})
            .ok());
  CHECK(owner.engine->ledger().GetHead().position == 2);
  // What the log of record took is whole: a follower opens the customer's sealed fields.
  testing::TempDir elsewhere;
  LedgerOptions options;
  options.path = elsewhere.Sub("data");
  options.master_key_file = owner.dir.Sub("data.master-key");
  auto follower = Engine::Open(options);
  REQUIRE(follower.ok());
  REQUIRE((*follower)->ApplyReplicated({owner.log, owner.data_keys}).ok());
  auto view = (*follower)->GetCustomer(Reader(), "c1");
  REQUIRE(view.ok());
  CHECK(view->name == "Acme");
}

TEST_CASE("PersonalDataSealedOnTheOwnerIsReadableOnAFollowerUntilAnErasureThereToo") {
  testing::TempDir keys;
  Node owner(keys.Sub("master.key"));
  Node follower(keys.Sub("master.key"));
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  REQUIRE(
      owner.engine->Execute(As("acme", "owner"), CreateCustomer{"c1", "Acme", "ap@acme.test", ""})
          .ok());
  REQUIRE(owner.data_keys.size() == 1);  // the customer's, made by its first event
  REQUIRE(follower.engine->ApplyReplicated({owner.log, owner.data_keys}).ok());
  auto view = follower.engine->GetCustomer(Reader(), "c1");
  REQUIRE(view.ok());
  CHECK(view->name == "Acme");
  auto events = follower.engine->ledger().Read(2, 1);
  REQUIRE(events.ok());
  CHECK(events->front().personal == Personal::kInBody);

  const size_t before = owner.log.size();
  REQUIRE(owner.engine->Erase(As("acme", "owner"), "customer", "c1", "asked by the subject").ok());
  std::vector<ReplicaEvent> erasure(owner.log.begin() + static_cast<long>(before), owner.log.end());
  REQUIRE(follower.engine->ApplyReplicated({erasure, {}}).ok());
  events = follower.engine->ledger().Read(2, 1);
  REQUIRE(events.ok());
  CHECK(events->front().personal == Personal::kErased);  // the follower's key is gone too
  // A key the follower destroyed is not brought back by a late copy of it.
  REQUIRE(follower.engine->ApplyReplicated({owner.log, owner.data_keys}).ok());
  events = follower.engine->ledger().Read(2, 1);
  REQUIRE(events.ok());
  CHECK(events->front().personal == Personal::kErased);
}

TEST_CASE("WithoutSealingPersonalDataErasureIsRefusedBeforeAnythingIsAppended") {
  Node owner({}, /*sealed=*/false);
  REQUIRE(owner.engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  REQUIRE(
      owner.engine->Execute(As("acme", "owner"), CreateCustomer{"c1", "Acme", "ap@acme.test", ""})
          .ok());
  auto erased =
      owner.engine->Erase(As("acme", "owner"), "customer", "c1", "asked by the data subject");
  REQUIRE_FALSE(erased.ok());
  CHECK(erased.status().reason() == "erasure_unavailable");
  CHECK(owner.engine->ledger().GetHead().position == 2);
}

}  // namespace
}  // namespace cledger
