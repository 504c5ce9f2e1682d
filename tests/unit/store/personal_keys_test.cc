// The key store of personal data: an erased subject's key never comes back, even when the
// erasure came before the key it made was written.
#include "engine/store/personal_keys.h"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>

#include "base/aead.h"
#include "tests/support/sample_events.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/store/flaky_fs.h"

namespace cledger::store {
namespace {

// A key store in a directory of its own, opened (and opened again) under one master key.
struct KeyStore {
  testing::TempDir dir;
  const base::AeadKey master = base::NewAeadKey();
  std::unique_ptr<PersonalKeys> Open() {
    auto keys = PersonalKeys::Open(dir.Sub("keys"), master, "m1", /*read_only=*/false);
    REQUIRE(keys.ok());
    return std::move(keys).value();
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
    REQUIRE(keys->PersistNewKeys().ok());
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
    REQUIRE(keys->PersistNewKeys().ok());
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
    auto opened = PersonalKeys::Open(store.dir.Sub("keys"), store.master, "m1",
                                     /*read_only=*/false, env.get());
    REQUIRE(opened.ok());
    PersonalKeys& keys = **opened;
    REQUIRE(keys.Seal(sealed).ok());
    failing = true;
    CHECK_FALSE(keys.PersistNewKeys().ok());
    (void)keys.Reopen();  // the disk still full
    CHECK_FALSE(keys.PersistNewKeys().ok());
    Event meanwhile = sealed;
    keys.Open(meanwhile);
    CHECK(meanwhile.personal == Personal::kInBody);
    failing = false;
    REQUIRE(keys.Reopen().ok());
    REQUIRE(keys.PersistNewKeys().ok());
  }
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
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
    auto opened = PersonalKeys::Open(store.dir.Sub("keys"), store.master, "m1",
                                     /*read_only=*/false, env.get());
    REQUIRE(opened.ok());
    REQUIRE((*opened)->Seal(sealed).ok());
    REQUIRE((*opened)->PersistNewKeys().ok());
    REQUIRE((*opened)->Reopen().ok());
  }
  fs->info_log_failing = false;
  auto reopened = store.Open();
  Event opened = sealed;
  reopened->Open(opened);
  CHECK(opened.personal == Personal::kInBody);
}

}  // namespace
}  // namespace cledger::store
