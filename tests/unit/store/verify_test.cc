#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include "engine/store/keys.h"
#include "tests/support/ledger_fixture.h"

namespace cledger {
namespace {

using testing::LedgerFixture;
using testing::OneEventCommit;

// Applies `tamper` to the stored value at `position`, straight in RocksDB.
void TamperStoredEvent(const std::string& path, uint64_t position,
                       const std::function<void(std::string&)>& tamper) {
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path, descriptors, &handles, &db).ok());
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == store::kCfLog) log = handles[i];
  }
  std::string value;
  REQUIRE(db->Get(rocksdb::ReadOptions(), log, store::LogKey(position), &value).ok());
  tamper(value);
  if (value.empty()) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), log, store::LogKey(position)).ok());
  } else {
    REQUIRE(db->Put(rocksdb::WriteOptions(), log, store::LogKey(position), value).ok());
  }
  for (auto* handle : handles) REQUIRE(db->DestroyColumnFamilyHandle(handle).ok());
  delete db;
}

void AppendTen(LedgerFixture& f) {
  for (int i = 1; i <= 10; ++i) {
    f.MustAppend(OneEventCommit(
        "customer-c" + std::to_string(i),
        CustomerCreated{"c" + std::to_string(i), "Customer number " + std::to_string(i)}));
  }
}

TEST_CASE("AnUntouchedLedgerVerifies") {
  LedgerFixture f;
  AppendTen(f);
  const VerifyReport report = f.ledger->VerifyChain();
  CHECK(report.ok);
  CHECK(report.events_checked == 10);
  CHECK(report.head.position == 10);
}

TEST_CASE("AFlippedByteInAStoredEventIsCaughtAtItsPosition") {
  LedgerFixture f;
  AppendTen(f);
  f.ledger.reset();
  TamperStoredEvent(f.dir.Sub("data"), 5, [](std::string& bytes) {
    const size_t at = bytes.find("number 5");
    REQUIRE(at != std::string::npos);
    bytes[at + 7] = '6';  // the FlatBuffer stays well-formed; only the hash can tell
  });
  f.Reopen();
  const VerifyReport report = f.ledger->VerifyChain();
  CHECK_FALSE(report.ok);
  CHECK(report.first_broken_position == 5);
  CHECK(report.problem.find("hash") != std::string::npos);
}

TEST_CASE("GarbledBytesAreCaughtByTheVerifierAndReadsRefuseThem") {
  LedgerFixture f;
  AppendTen(f);
  f.ledger.reset();
  TamperStoredEvent(f.dir.Sub("data"), 3, [](std::string& bytes) { bytes.resize(10); });
  f.Reopen();
  const VerifyReport report = f.ledger->VerifyChain();
  CHECK(report.first_broken_position == 3);
  CHECK(f.ledger->Read(1, 10).status().code() == Code::kCorruption);
}

TEST_CASE("ARemovedEventIsCaughtAsMissing") {
  LedgerFixture f;
  AppendTen(f);
  f.ledger.reset();
  TamperStoredEvent(f.dir.Sub("data"), 7, [](std::string& bytes) { bytes.clear(); });
  f.Reopen();
  const VerifyReport report = f.ledger->VerifyChain();
  CHECK(report.first_broken_position == 7);
  CHECK(report.problem == "event missing");
}

}  // namespace
}  // namespace cledger
