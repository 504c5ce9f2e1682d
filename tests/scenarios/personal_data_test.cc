// Personal data in the engine (FORMAT.md, "Personal data"): sealed in the event bytes, open in
// every read; the master key's rotation; erasure of subjects recorded before sealing existed.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <algorithm>

#include "base/keys.h"
#include "cledger/engine.h"
#include "engine/domain/fingerprint.h"
#include "engine/store/keys.h"
#include "engine/store/raw_ledger.h"
#include "tests/support/closed_ledger_db.h"
#include "tests/support/engine_fixture.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

using testing::ClosedLedgerDb;
using testing::EngineFixture;
using testing::Person;

// The context with an idempotency key.
CommandContext Keyed(CommandContext context, std::string key) {
  context.idempotency_key = std::move(key);
  return context;
}

TEST_CASE("PersonalFieldsAreCiphertextInTheEventBytesAndInTheClearForEveryReader") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  const uint64_t head = f.engine->ledger().GetHead().position;
  auto raw = f.engine->ledger().ReadRaw(head);
  REQUIRE(raw.ok());
  CHECK(raw->find("Hypatia") == std::string::npos);
  CHECK(raw->find("hypatia@acme.test") == std::string::npos);
  CHECK(raw->find("k1") != std::string::npos);  // ids are not personal
  auto events = f.engine->ledger().Read(head, 1);
  REQUIRE(events.ok());
  CHECK(std::get<ContactCreated>(events->at(0).body).fields.email == "hypatia@acme.test");
  CHECK(events->at(0).personal == Personal::kInBody);
  CHECK(f.engine->ledger().VerifyChain().ok);
}

// Readers that follow the head share the events they decoded: what an erasure blanks must not
// come back from there to a reader after it.
TEST_CASE("AnEventReadJustBeforeAnErasureIsBlankForEveryReadAfterIt") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Aspasia", "aspasia@acme.test")});
  const uint64_t created = f.engine->ledger().GetHead().position;
  for (int reader = 0; reader < 2; ++reader) {
    auto before = f.engine->ledger().Read(created, 1);
    REQUIRE(before.ok());
    CHECK(std::get<ContactCreated>(before->at(0).body).fields.email == "aspasia@acme.test");
  }
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 9").ok());
  auto after = f.engine->ledger().Read(created, 1);
  REQUIRE(after.ok());
  CHECK(after->at(0).personal == Personal::kErased);
  CHECK(std::get<ContactCreated>(after->at(0).body).fields.email.empty());
  CHECK(std::get<ContactCreated>(after->at(0).body).fields.first_name.empty());
}

// A subject's key is recorded with its first events: after a restart its next events are
// sealed under the same key, so one erasure blanks all of them.
TEST_CASE("AContactEditedAfterARestartIsErasedWholeByOneErasure") {
  EngineFixture f;
  const uint64_t created =
      f.Must(f.owner, CreateContact{"k1", "c1", Person("Sappho", "sappho@acme.test")})
          .last_position;
  f.Reopen();
  const uint64_t edit =
      f.Must(f.owner, EditContact{"k1", [](ContactFields& c) { c.email = "sappho@lesbos.test"; }})
          .last_position;
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 11").ok());
  for (const uint64_t position : {created, edit}) {
    auto events = f.engine->ledger().Read(position, 1);
    REQUIRE(events.ok());
    CHECK(events->at(0).personal == Personal::kErased);
  }
  f.Reopen();
  CHECK(f.Contact("k1").fields.email.empty());
}

// The idempotency record keeps a request's fingerprint keyed by the master key: whoever holds
// the data directory alone cannot test a guess of the personal fields the request carried.
TEST_CASE("AnIdempotencyRecordHoldsAKeyedFingerprintNotTheRequestsPlainDigest") {
  EngineFixture f;
  const CommandContext keyed = Keyed(f.owner, "create-k1");
  const Command create = CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")};
  f.Must(keyed, create);
  CHECK(f.engine->Execute(keyed, create)->replayed);  // the same request still replays
  f.engine.reset();
  ClosedLedgerDb ledger(f.dir.Sub("data"));
  std::string value;
  REQUIRE(ledger.db
              ->Get({}, ledger.Family(store::kCfIdempotency),
                    store::IdempotencyKey("acme", "create-k1"), &value)
              .ok());
  REQUIRE(value.size() == 16 + 32);
  CHECK(value.substr(16) != domain::Fingerprint(keyed, create));
}

// After an erasure the idempotency key of a request that carried the subject's fields must not
// tell a right guess of them from a wrong one: a replay with the erased values and one with
// other values get the same answer.
TEST_CASE("AReplayedKeyAfterAnErasureCannotConfirmAGuessOfTheErasedFields") {
  EngineFixture f;
  const CommandContext keyed = Keyed(f.owner, "create-k1");
  f.Must(keyed, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  const CommandContext other = Keyed(f.owner, "create-k2");
  const Command unrelated = CreateContact{"k2", "c1", Person("Theon", "theon@acme.test")};
  f.Must(other, unrelated);
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 10").ok());
  CHECK(f.engine->Execute(other, unrelated)->replayed);  // another subject's key still replays
  auto right =
      f.engine->Execute(keyed, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  auto wrong =
      f.engine->Execute(keyed, CreateContact{"k1", "c1", Person("Theano", "theano@acme.test")});
  REQUIRE_FALSE(right.ok());
  REQUIRE_FALSE(wrong.ok());
  CHECK(right.status().code() == wrong.status().code());
  CHECK(right.status().reason() == wrong.status().reason());
  CHECK(right.status().message() == wrong.status().message());
}

// Commits written by a binary that kept no index of idempotency records by target (one from
// before it, or one gone back to): the next open indexes theirs, so an erasure still forgets
// the requests made to the erased subject.
TEST_CASE("AnErasureForgetsRequestsRecordedWhileTheLedgerKeptNoIndexOfThem") {
  EngineFixture f;
  const uint64_t indexed = f.engine->ledger().GetHead().position;
  const CommandContext keyed = Keyed(f.owner, "create-k1");
  const Command create = CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")};
  f.Must(keyed, create);
  const CommandContext other = Keyed(f.owner, "create-k2");
  const Command unrelated = CreateContact{"k2", "c1", Person("Theon", "theon@acme.test")};
  f.Must(other, unrelated);
  f.engine.reset();
  {  // what an older binary leaves: commits past the index's mark, none of them in it
    ClosedLedgerDb ledger(f.dir.Sub("data"), /*writable=*/true);
    REQUIRE(ledger.db->DropColumnFamily(ledger.Family(store::kCfRequests)).ok());
    REQUIRE(ledger.db
                ->Put({}, ledger.Family(store::kCfMeta), store::kMetaRequestsIndexed,
                      base::U64Key(indexed))
                .ok());
  }
  f.Reopen();
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 11").ok());
  CHECK(f.engine->Execute(other, unrelated)->replayed);
  auto right = f.engine->Execute(keyed, create);
  auto wrong =
      f.engine->Execute(keyed, CreateContact{"k1", "c1", Person("Theano", "theano@acme.test")});
  REQUIRE_FALSE(right.ok());
  REQUIRE_FALSE(wrong.ok());
  CHECK(right.status().reason() == wrong.status().reason());
}

// No idempotency key stays filed under an erased subject, not even one whose record was
// already gone: the key is the client's text, and may say whom it was about.
TEST_CASE("AnErasureLeavesNoIdempotencyKeyFiledUnderTheErasedSubject") {
  EngineFixture f;
  const CommandContext create = Keyed(f.owner, "create-hypatia");
  f.Must(create, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  const CommandContext edit = Keyed(f.owner, "edit-hypatia");
  f.Must(edit, EditContact{"k1", [](ContactFields& fields) { fields.first_name = "H."; }});
  f.engine.reset();
  {  // the edit's record gone, its index entry left
    ClosedLedgerDb ledger(f.dir.Sub("data"), /*writable=*/true);
    REQUIRE(ledger.db
                ->Delete({}, ledger.Family(store::kCfIdempotency),
                         store::IdempotencyKey("acme", "edit-hypatia"))
                .ok());
  }
  f.Reopen();
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 12").ok());
  f.engine.reset();
  ClosedLedgerDb ledger(f.dir.Sub("data"));
  std::unique_ptr<rocksdb::Iterator> it(
      ledger.db->NewIterator({}, ledger.Family(store::kCfRequests)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    CHECK(it->key().ToString().find("hypatia") == std::string::npos);
  }
  REQUIRE(it->status().ok());
}

// An erasure's reason stays in the ledger and on its certificate: an in-process caller is held
// to one line of valid UTF-8 too, an overlong spelling of a direction mark included.
TEST_CASE("AnErasureReasonThatIsNotValidUtf8IsRefusedInProcessToo") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  for (const char* reason : {"ok\xC0\xAE", "ok\xF0\x82\x80\xAE", "ok\xE2\x80\xAE"}) {
    CAPTURE(reason);
    auto erased = f.engine->Erase(f.owner, "contact", "k1", reason);
    REQUIRE_FALSE(erased.ok());
    CHECK(erased.status().reason() == "invalid_field");
  }
  CHECK(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 7").ok());
}

// The key store's batch is a rotation's commit point: one stopped before the ledger recorded
// the new key (a crash, a failed write) is finished by opening with the new key.
TEST_CASE("ARotationStoppedBeforeTheLedgerRecordedItIsFinishedByOpeningWithTheNewKey") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  f.engine.reset();
  std::string old_id;
  {
    ClosedLedgerDb ledger(f.dir.Sub("data"));
    REQUIRE(
        ledger.db->Get({}, ledger.Family(store::kCfMeta), store::kMetaMasterKeyId, &old_id).ok());
  }
  f.Reopen();
  const std::string next = f.dir.Sub("next.master-key");
  REQUIRE(f.engine->RotateMasterKey(next).ok());
  f.engine.reset();
  {  // as if the process had stopped right after the key store's write
    ClosedLedgerDb ledger(f.dir.Sub("data"), /*writable=*/true);
    REQUIRE(
        ledger.db->Put({}, ledger.Family(store::kCfMeta), store::kMetaMasterKeyId, old_id).ok());
  }
  LedgerOptions options;
  options.path = f.dir.Sub("data");
  options.signing_key_file = f.dir.Sub("data.signing-key");
  options.master_key_file = next;
  {
    auto opened = Engine::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    auto view = (*opened)->GetContact(Principal{"acme", {"owner-1", "owner"}}, "k1", {});
    REQUIRE(view.ok());
    CHECK(view->fields.email == "hypatia@acme.test");
  }
  options.master_key_file.clear();  // the old key, beside the data
  CHECK(Engine::Open(options).status().reason() == "master_key_mismatch");
}

TEST_CASE("ARotatedMasterKeyOpensEveryPersonFieldAndTheOldKeyIsRefused") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Hypatia", "hypatia@acme.test")});
  const std::string next = f.dir.Sub("next.master-key");
  auto rewrapped = f.engine->RotateMasterKey(next);
  REQUIRE_MESSAGE(rewrapped.ok(), rewrapped.status().ToString());
  CHECK(*rewrapped == 3);                                                    // c1, c2, k1
  CHECK(f.engine->RotateMasterKey(next).status().reason() == "master_key");  // already it
  f.engine.reset();

  LedgerOptions options;
  options.path = f.dir.Sub("data");
  options.signing_key_file = f.dir.Sub("data.signing-key");
  CHECK(Engine::Open(options).status().reason() == "master_key_mismatch");  // the old key
  options.master_key_file = next;
  auto opened = Engine::Open(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  const Principal owner{"acme", {"owner-1", "owner"}};
  auto view = (*opened)->GetContact(owner, "k1", {});
  REQUIRE(view.ok());
  CHECK(view->fields.email == "hypatia@acme.test");
  auto mismatches = (*opened)->VerifyProjections({});
  REQUIRE(mismatches.ok());
  CHECK(mismatches->empty());
}

// A ledger written before sealing existed holds personal fields in the clear in its log. The
// log is immutable, so its bytes keep them; every read through the engine shows them erased.
// A checkpoint is a copy of the record: an erasure leaves none of its stream behind, so time
// travel to before the erasure shows no personal field either.
TEST_CASE("AnErasedContactsCheckpointsGoWithItsPersonalData") {
  testing::EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", testing::Person("Theano", "theano@acme.test")});
  uint64_t before = 0;
  for (int i = 0; i < 300; ++i) {
    before =
        f.Must(f.owner,
               EditContact{"k1", [i](ContactFields& c) { c.title = "Dr " + std::to_string(i); }})
            .last_position;
  }
  CHECK(f.Contact("k1", AsOf{before, {}}).fields.first_name == "Theano");
  REQUIRE(f.engine->Erase(f.owner, "contact", "k1", "GDPR request 8").ok());
  const ContactView then = f.Contact("k1", AsOf{before, {}});
  CHECK(then.fields.first_name.empty());
  CHECK(then.fields.title.empty());
  CHECK(then.system.version == 301);
  auto mismatches = f.engine->VerifyProjections();
  REQUIRE(mismatches.ok());
  CHECK(mismatches->empty());
}

TEST_CASE("ErasingASubjectRecordedBeforeSealingBlanksItInEveryReadButItsOldBytesRemain") {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  {
    LedgerOptions options;
    options.path = data;
    auto ledger = RawLedger::Open(options);  // the store alone: no key store, as before
    REQUIRE(ledger.ok());
    Commit tenant{
        "acme", {"root", "ops"}, {}, {}, {{"tenant-acme", TenantCreated{"acme", "standard", {}}}},
        {}};
    Commit customer{"acme",
                    {"ann", "owner"},
                    {},
                    {},
                    {{"customer-c1", CustomerCreated{"c1", "Old Co", "old@acme.test", "long"}}},
                    {}};
    Commit contact{
        "acme",
        {"ann", "owner"},
        {},
        {},
        {{"contact-k1", ContactCreated{"k1", "c1", Person("Theano", "theano@acme.test")}}},
        {}};
    for (Commit* commit : {&tenant, &customer, &contact}) REQUIRE((*ledger)->Append(*commit).ok());
  }
  LedgerOptions options;
  options.path = data;
  options.signing_key_file = dir.Sub("data.signing-key");
  auto engine = Engine::Open(options);
  REQUIRE_MESSAGE(engine.ok(), engine.status().ToString());
  const Principal owner{"acme", {"ann", "owner"}};
  REQUIRE((*engine)->GetContact(owner, "k1", {})->fields.first_name == "Theano");
  const CommandContext as_owner{"acme", {"ann", "owner"}, {}, {}, {}};
  auto erased = (*engine)->Erase(as_owner, "contact", "k1", "GDPR request 7");
  REQUIRE_MESSAGE(erased.ok(), erased.status().ToString());
  CHECK(erased->certificate.key_id.empty());  // there was no key to destroy
  CHECK(erased->certificate.unreadable_positions.empty());

  auto then = (*engine)->GetContact(owner, "k1", AsOf{3, {}});  // as of before the erasure
  REQUIRE(then.ok());
  CHECK(then->erased);
  CHECK(then->fields.first_name.empty());
  auto events = (*engine)->ledger().Read(3, 1);
  REQUIRE(events.ok());
  CHECK(events->at(0).personal == Personal::kErased);
  CHECK(std::get<ContactCreated>(events->at(0).body).fields.email.empty());
  auto history = (*engine)->ContactHistory(owner, "k1", {});
  REQUIRE(history.ok());
  for (const AuditEntry& entry : *history) {
    for (const FieldChange& change : entry.changes) {
      CHECK(change.before.find("Theano") == std::string::npos);
      CHECK(change.after.find("Theano") == std::string::npos);
    }
  }
  CHECK((*engine)->GetCustomer(owner, "c1", {})->name == "Old Co");  // not erased
  auto raw = (*engine)->ledger().ReadRaw(3);
  REQUIRE(raw.ok());
  CHECK(raw->find("Theano") != std::string::npos);  // the limit README states
  auto mismatches = (*engine)->VerifyProjections({});
  REQUIRE(mismatches.ok());
  CHECK(mismatches->empty());
}

}  // namespace
}  // namespace cledger
