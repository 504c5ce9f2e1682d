// The key store of personal data: an erased subject's key never comes back, even when the
// erasure came before the key it made was written.
#include "engine/store/personal_keys.h"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "base/aead.h"
#include "tests/support/sample_events.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/store/flaky_fs.h"

namespace cledger::store {
namespace {

// A key store in a directory of its own, opened (and opened again) under one master key,
// beside what the ledger would record of its subjects' keys (a map here).
struct KeyStore {
  testing::TempDir dir;
  const base::AeadKey master = base::NewAeadKey();
  std::map<std::string, std::string, std::less<>> recorded;  // subject → key id
  std::unique_ptr<PersonalKeys> Open(rocksdb::Env* env = nullptr) {
    auto keys = PersonalKeys::Open(dir.Sub("keys"), master, "m1", /*read_only=*/false, env);
    REQUIRE(keys.ok());
    Attach(**keys);
    return std::move(keys).value();
  }
  // As a binary from before the ledger recorded keys opens it: only the store's records.
  std::unique_ptr<PersonalKeys> OpenWithoutTheLedgersRecords() {
    auto keys = PersonalKeys::Open(dir.Sub("keys"), master, "m1", /*read_only=*/false);
    REQUIRE(keys.ok());
    return std::move(keys).value();
  }
  void Attach(PersonalKeys& keys) {
    keys.UseSubjectIndex([this](std::string_view subject) -> Result<std::string> {
      auto it = recorded.find(subject);
      return it == recorded.end() ? std::string() : it->second;
    });
  }
  // What the writer does around a group's write: the keys first, then the group with them.
  Status Commit(PersonalKeys& keys) {
    std::map<std::string, std::string, std::less<>> batch;
    Status s = keys.PersistNewKeys(
        [&](std::string_view subject, std::string_view id) { batch.emplace(subject, id); });
    if (!s.ok()) return s;
    recorded.merge(batch);
    keys.NewKeysRecorded();
    return Status::Ok();
  }
};

Event NewContact() {
  return testing::SampleEvent(ContactCreated{"k1", "c1", testing::FullContactFields()});
}

TEST_CASE("ASubjectErasedBeforeItsNewKeyWasWrittenStaysErasedAfterReopening") {
  KeyStore store;
  Event sealed = NewContact();
  {
    auto keys = store.Open();
    REQUIRE(keys->Seal(sealed).ok());  // a new key, held until PersistNewKeys
    REQUIRE(keys->Destroy(sealed.tenant, sealed.stream, 1).ok());
    REQUIRE(store.Commit(*keys).ok());
    Event opened = sealed;
    keys->Open(opened);
    CHECK(opened.personal == Personal::kErased);
  }
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal != Personal::kInBody);  // the fields stay sealed for good
  auto key_id = reopened->KeyIdOf(sealed.tenant, sealed.stream);
  REQUIRE(key_id.ok());
  CHECK(key_id->empty());
}

// A node that follows a cluster never receives the key of a subject erased before it caught
// up: its events read as erased there (what every fold takes), not as unreadable (what every
// fold refuses).
TEST_CASE("AnErasedSubjectsEventReadsAsErasedWhereItsKeyWasNeverHeld") {
  KeyStore origin;
  Event sealed = NewContact();
  REQUIRE(origin.Open()->Seal(sealed).ok());
  KeyStore follower;  // the same master key's name, none of origin's keys
  auto keys = follower.Open();
  Event before = sealed;
  keys->Open(before);
  CHECK(before.personal == Personal::kUnreadable);
  REQUIRE(keys->Destroy(sealed.tenant, sealed.stream, 1).ok());  // the erasure arrives
  Event after = sealed;
  keys->Open(after);
  CHECK(after.personal == Personal::kErased);
}

TEST_CASE("ANewSubjectsKeyOpensItsEventsBeforeAndAfterReopening") {
  KeyStore store;
  Event sealed = NewContact();
  {
    auto keys = store.Open();
    REQUIRE(keys->Seal(sealed).ok());
    REQUIRE(store.Commit(*keys).ok());
    Event next = testing::SampleEvent(ContactEdited{"k1", testing::FullContactFields()});
    REQUIRE(keys->Seal(next).ok());
    CHECK(next.personal_key_id == sealed.personal_key_id);  // the same subject, the same key
    keys->Open(next);
    CHECK(next.personal == Personal::kInBody);
  }
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
  CHECK(opened.body ==
        testing::SampleEvent(ContactCreated{"k1", "c1", testing::FullContactFields()}).body);
}

Event Numbered(Event event, uint64_t stream_version) {
  event.stream_version = stream_version;
  return event;
}

// A new contact's first event, sealed and recorded as a group's write would, the store closed.
Event SealedAndRecorded(KeyStore& store) {
  Event first = Numbered(NewContact(), 1);
  auto keys = store.Open();
  REQUIRE(keys->Seal(first).ok());
  REQUIRE(store.Commit(*keys).ok());
  return first;
}

// A later event of that contact.
Event LaterEdit() {
  return Numbered(testing::SampleEvent(ContactEdited{"k1", testing::FullContactFields()}), 3);
}

// Erases the subject of `events`, then checks that none of them opens.
void CheckOneErasureErasesAll(PersonalKeys& keys, std::initializer_list<Event> events) {
  const Event& first = *events.begin();
  REQUIRE(keys.Destroy(first.tenant, first.stream, 1).ok());
  for (Event event : events) {
    keys.Open(event);
    CHECK(event.personal == Personal::kErased);
  }
}

// An erasure destroys the one key the ledger recorded for the subject: every later event of
// it, sealed after a reopen, must be under that same key.
TEST_CASE("ASubjectsEventsAfterAReopenAreSealedUnderTheKeyItsFirstEventGot") {
  KeyStore store;
  const Event first = SealedAndRecorded(store);
  REQUIRE(store.recorded.size() == 1);
  auto keys = store.Open();
  Event later = LaterEdit();
  REQUIRE(keys->Seal(later).ok());
  CHECK(later.personal_key_id == first.personal_key_id);
  auto key_id = keys->KeyIdOf(first.tenant, first.stream);
  REQUIRE(key_id.ok());
  CHECK(*key_id == first.personal_key_id);
  CheckOneErasureErasesAll(*keys, {first, later});
}

// The store keeps its own record of each key beside the ledger's: a binary from before the
// ledger recorded keys, opened on the ledger again, seals the subject's next events under
// the same key (else its erasure would leave the first events readable).
TEST_CASE("ABinaryThatReadsOnlyTheStoresRecordsFindsTheKeyOfASubjectMadeSince") {
  KeyStore store;
  const Event first = SealedAndRecorded(store);
  auto older = store.OpenWithoutTheLedgersRecords();
  Event later = LaterEdit();
  REQUIRE(older->Seal(later).ok());
  CHECK(later.personal_key_id == first.personal_key_id);
  CheckOneErasureErasesAll(*older, {first, later});
}

// A key handed to a group the ledger never wrote (its write failed, or a cluster refused it)
// is never handed out again: two subjects never share a key, so one erasure erases one.
TEST_CASE("AKeyGivenToAGroupThatWasNeverWrittenIsNeverGivenAgain") {
  KeyStore store;
  auto keys = store.Open();
  std::set<std::string> given;
  Event earlier =
      Numbered(testing::SampleEvent(CustomerCreated{"c9", "Acme", "a@acme.test", ""}), 1);
  earlier.stream = "customer-c9";
  REQUIRE(keys->Seal(earlier).ok());  // the first group also makes keys ahead
  REQUIRE(store.Commit(*keys).ok());
  given.insert(earlier.personal_key_id);
  for (int group = 0; group < 3; ++group) {
    Event sealed = Numbered(NewContact(), 1);
    REQUIRE(keys->Seal(sealed).ok());
    CHECK(given.insert(sealed.personal_key_id).second);
    keys->DropPending();
  }
  Event written = Numbered(NewContact(), 1);
  REQUIRE(keys->Seal(written).ok());
  CHECK(given.insert(written.personal_key_id).second);
  REQUIRE(store.Commit(*keys).ok());
  CHECK(store.recorded.size() == 2);
}

// Keys are made ahead so a group seldom writes the store; a clean close deletes the ones no
// subject got, so the store holds (and a rotation re-wraps) only keys some event is under.
TEST_CASE("AKeyStoreClosedCleanlyKeepsOnlyTheKeysItGave") {
  KeyStore store;
  {
    auto keys = store.Open();
    for (const char* id : {"k1", "k2"}) {
      Event sealed =
          Numbered(testing::SampleEvent(ContactCreated{id, "c1", testing::FullContactFields()}), 1);
      sealed.stream = std::string("contact-") + id;
      REQUIRE(keys->Seal(sealed).ok());
    }
    REQUIRE(store.Commit(*keys).ok());
    auto during = keys->Rewrap(store.master, "m1");  // the keys made ahead are not counted
    REQUIRE(during.ok());
    CHECK(*during == 2);
  }
  auto keys = store.Open();
  auto rewrapped = keys->Rewrap(store.master, "m1");
  REQUIRE(rewrapped.ok());
  CHECK(*rewrapped == 2);
}

// A binary from before the ledger recorded keys reads only the store's own record; should
// that record have been lost (it is written unsynced) and such a binary give the subject a
// second key, an erasure destroys both: none of the subject's events stays readable.
TEST_CASE("AnErasureDestroysTheKeyTheStoreNamesWhenItIsNotTheOneTheLedgerRecorded") {
  KeyStore store;
  const Event first = SealedAndRecorded(store);
  {  // the store's record lost, as after a crash of the machine
    std::unique_ptr<rocksdb::DB> db;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), store.dir.Sub("keys"), &raw).ok());
    db.reset(raw);
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
      REQUIRE(db->Delete(rocksdb::WriteOptions(), it->key()).ok());
    }
  }
  Event older_binary = LaterEdit();
  {
    auto older = store.OpenWithoutTheLedgersRecords();
    REQUIRE(older->Seal(older_binary).ok());
    REQUIRE(older->PersistNewKeys([](std::string_view, std::string_view) {}).ok());
    older->NewKeysRecorded();
  }
  REQUIRE(older_binary.personal_key_id != first.personal_key_id);
  CheckOneErasureErasesAll(*store.Open(), {first, older_binary});
}

// RocksDB must not be written again after a failed write (its log writer asserts and aborts
// the process): the store is reopened first, read-only while the disk stays full, and the
// key the failed write held is kept in memory meanwhile, then written once the disk has room.
TEST_CASE("AKeyWhoseWriteFailedOnAFullDiskIsKeptAndWrittenAfterAReopen") {
  KeyStore store;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<testing::FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Event sealed = NewContact();
  {
    auto opened = store.Open(env.get());
    PersonalKeys& keys = *opened;
    REQUIRE(keys.Seal(sealed).ok());
    failing = true;
    CHECK_FALSE(store.Commit(keys).ok());
    (void)keys.Reopen();  // the disk still full
    CHECK_FALSE(store.Commit(keys).ok());
    Event meanwhile = sealed;
    keys.Open(meanwhile);
    CHECK(meanwhile.personal == Personal::kInBody);
    failing = false;
    REQUIRE(keys.Reopen().ok());
    REQUIRE(store.Commit(keys).ok());
  }
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
}

// Whether the key store at `dir` records that a rotation's old wrappings may be in its files.
bool OldWrappingsPending(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string ignored;
  return db->Get(rocksdb::ReadOptions(), "old-wrappings", &ignored).ok();
}

// A rotation is done once its batch is written: a flush or compaction the disk then refuses
// only delays the old wrappings' removal from the files, which the next open tries again. The
// store goes on under the new key and opens under it, not under the old one.
TEST_CASE("ARotationWhoseCompactionTheDiskRefusesIsDoneAndOpensUnderTheNewKey") {
  KeyStore store;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<testing::FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  const base::AeadKey next = base::NewAeadKey();
  Event sealed = NewContact();
  {
    auto opened = store.Open(env.get());
    PersonalKeys& keys = *opened;
    REQUIRE(keys.Seal(sealed).ok());
    REQUIRE(store.Commit(keys).ok());
    fs->tables_failing = true;
    auto rewrapped = keys.Rewrap(next, "m2");
    REQUIRE(rewrapped.ok());
    CHECK(*rewrapped == 1);
    CHECK_FALSE(keys.PurgeOldWrappings().ok());
    Event meanwhile = sealed;
    keys.Open(meanwhile);
    CHECK(meanwhile.personal == Personal::kInBody);
  }
  CHECK(OldWrappingsPending(store.dir.Sub("keys")));
  CHECK(PersonalKeys::Open(store.dir.Sub("keys"), store.master, "m1", /*read_only=*/false)
            .status()
            .reason() == "key_store_mismatch");
  auto reopened = PersonalKeys::Open(store.dir.Sub("keys"), next, "m2", /*read_only=*/false);
  REQUIRE(reopened.ok());
  store.Attach(**reopened);
  Event opened = sealed;
  (*reopened)->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
  reopened->reset();
  CHECK_FALSE(OldWrappingsPending(store.dir.Sub("keys")));  // the open purged them
}

// The key store's own info log, like the ledger's, loses lines on a full disk, not keys.
TEST_CASE("AKeyStoreWhoseInfoLogTheDiskCannotTakeKeepsItsKeys") {
  KeyStore store;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<testing::FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  fs->info_log_failing = true;
  Event sealed = NewContact();
  {
    auto opened = store.Open(env.get());
    REQUIRE(opened->Seal(sealed).ok());
    REQUIRE(store.Commit(*opened).ok());
    REQUIRE(opened->Reopen().ok());
  }
  fs->info_log_failing = false;
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
}

}  // namespace
}  // namespace cledger::store
