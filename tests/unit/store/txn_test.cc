// The writer's memory of durable records (store::CommittedMemory): a remembered read answers
// what the database holds, whatever groups were staged, written or abandoned in between.
#include "engine/store/txn.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <memory>
#include <string>

#include "tests/support/temp_dir.h"

namespace cledger::store {
namespace {

struct Database {
  testing::TempDir dir;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyHandle* views = nullptr;

  Database() {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.Sub("db"), &raw).ok());
    db.reset(raw);
    REQUIRE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "views", &views).ok());
  }
  ~Database() { (void)db->DestroyColumnFamilyHandle(views); }
  // What a group would write: its batch, then (when it is durable) the memory learns it.
  void Write(Txn& txn) {
    REQUIRE(db->Write(rocksdb::WriteOptions(), &txn.batch()).ok());
    txn.Durable();
  }
  void Commit(CommittedMemory& memory, const std::string& key, const std::string& value) {
    Txn txn(db.get(), /*coalesce=*/false, &memory);
    txn.Put(views, key, value);
    Write(txn);
  }
  std::optional<std::string> Remembered(CommittedMemory& memory, const std::string& key) {
    Txn txn(db.get(), /*coalesce=*/false, &memory);
    auto value = txn.Get(views, key, /*remember=*/true);
    REQUIRE(value.ok());
    return *value;
  }
};

TEST_CASE("ARememberedRecordReadsBackWhatTheNextDurableGroupWroteOrDeleted") {
  Database d;
  CommittedMemory memory(1 << 20);
  d.Commit(memory, "tenant/acme", "v1");
  CHECK(d.Remembered(memory, "tenant/acme") == "v1");
  CHECK(d.Remembered(memory, "contact/k1") == std::nullopt);  // a miss is remembered too
  {
    Txn second(d.db.get(), false, &memory);
    second.Put(d.views, "tenant/acme", "v2");
    second.Put(d.views, "contact/k1", "created");
    d.Write(second);
  }
  CHECK(d.Remembered(memory, "tenant/acme") == "v2");
  CHECK(d.Remembered(memory, "contact/k1") == "created");
  {
    Txn third(d.db.get(), false, &memory);
    third.Delete(d.views, "contact/k1");
    d.Write(third);
  }
  CHECK(d.Remembered(memory, "contact/k1") == std::nullopt);
}

TEST_CASE("AGroupThatNeverBecameDurableLeavesTheRememberedRecordsAsTheDatabaseHoldsThem") {
  Database d;
  CommittedMemory memory(1 << 20);
  d.Commit(memory, "email/a@example.com", "k1");
  CHECK(d.Remembered(memory, "email/a@example.com") == "k1");
  {
    // Staged (and read back inside the group), then refused: never written.
    Txn refused(d.db.get(), false, &memory);
    refused.Delete(d.views, "email/a@example.com");
    refused.Put(d.views, "email/b@example.com", "k2");
    auto inside = refused.Get(d.views, "email/a@example.com", /*remember=*/true);
    REQUIRE(inside.ok());
    CHECK(*inside == std::nullopt);
  }
  CHECK(d.Remembered(memory, "email/a@example.com") == "k1");
  CHECK(d.Remembered(memory, "email/b@example.com") == std::nullopt);
}

TEST_CASE("AMemoryPastItsBudgetStillAnswersWhatTheDatabaseHolds") {
  Database d;
  CommittedMemory memory(/*budget_per_family=*/300);  // a few records at a time
  for (int round = 0; round < 3; ++round) {
    Txn txn(d.db.get(), false, &memory);
    for (int i = 0; i < 20; ++i) {
      txn.Put(d.views, "contact/" + std::to_string(i), std::to_string(round));
    }
    d.Write(txn);
    for (int i = 0; i < 20; ++i) {
      CAPTURE(i);
      CHECK(d.Remembered(memory, "contact/" + std::to_string(i)) == std::to_string(round));
    }
  }
}

TEST_CASE("ForgettingEverythingMakesTheNextReadGoToTheDatabase") {
  Database d;
  CommittedMemory memory(1 << 20);
  d.Commit(memory, "tenant/acme", "v1");
  CHECK(d.Remembered(memory, "tenant/acme") == "v1");
  // Written by someone else (as a swap or a replicated group does), then forgotten.
  REQUIRE(d.db->Put(rocksdb::WriteOptions(), d.views, "tenant/acme", "v9").ok());
  CHECK(d.Remembered(memory, "tenant/acme") == "v1");  // why others' writes must clear it
  memory.Clear();
  CHECK(d.Remembered(memory, "tenant/acme") == "v9");
}

}  // namespace
}  // namespace cledger::store
