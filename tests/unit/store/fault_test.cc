// Storage faults: a failing disk fails the commit with an I/O error, appends nothing partial,
// and the ledger carries on, gapless, once the fault clears.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/store/info_log.h"
#include "engine/store/log_store.h"
#include "tests/support/ledger_fixture.h"
#include "tests/unit/store/flaky_fs.h"

namespace cledger {
namespace {

using testing::FlakyFileSystem;

// A ledger whose write-ahead log fails while `failing` is set.
struct FlakyLedger {
  FlakyLedger() {
    options.ledger.path = dir.Sub("data");
    options.ledger.on_storage_fault = [](const Status&) {};
    options.env = env.get();
    opened = store::LogStore::Open(options);
    REQUIRE(opened.ok());
  }
  testing::TempDir dir;
  std::atomic<bool> failing{false};
  std::shared_ptr<FlakyFileSystem> fs = std::make_shared<FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  store::StoreOptions options;
  Result<std::unique_ptr<store::LogStore>> opened = Status::Unavailable("", "not opened yet");
};

TEST_CASE("AStorageFaultFailsTheCommitAppendsNothingAndTheLedgerRecovers") {
  FlakyLedger f;
  std::atomic<bool>& failing = f.failing;
  store::StoreOptions& options = f.options;
  auto& opened = f.opened;
  store::LogStore& ledger = **opened;
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c1", CustomerCreated{"c1"})).ok());

  failing = true;
  auto failed = ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"}));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == Code::kIoError);
  CHECK(ledger.GetHead().position == 1);

  failing = false;
  Result<CommitResult> recovered = Status(Code::kIoError, "", "");
  // The ledger reopens its database by itself (a failed WAL sync that RocksDB calls fatal
  // included); until then each attempt is refused.
  for (int attempt = 0; attempt < 100 && !recovered.ok(); ++attempt) {
    recovered = ledger.Append(testing::OneEventCommit("customer-c3", CustomerCreated{"c3"}));
    if (!recovered.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(recovered.ok(), recovered.status().ToString());
  CHECK(recovered->first_position == 2);  // the failed commit left no gap
  CHECK((*opened)->VerifyChain().ok);
  opened->reset();

  // What a restart finds: the two good commits, nothing of the failed one.
  auto reopened = store::LogStore::Open(options);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->GetHead().position == 2);
  CHECK((*reopened)->VerifyChain().ok);
  auto events = (*reopened)->Read(1, 10);
  REQUIRE(events->size() == 2);
  CHECK(std::get<CustomerCreated>(events->at(1).body).customer_id == "c3");
}

// RocksDB's info log (LOG, in the data directory) is written as the disk allows: a line the
// disk cannot take is lost, never the process (Debian's librocksdb asserts on the line after
// a failed one; a full disk under background flushes met it).
TEST_CASE("AnInfoLogTheDiskCannotTakeCostsLinesNeverTheLedger") {
  FlakyLedger f;
  REQUIRE(f.opened.ok());
  REQUIRE((*f.opened)->Append(testing::OneEventCommit("customer-c1", CustomerCreated{"c1"})).ok());
  f.opened->reset();  // closing logs many lines

  f.fs->info_log_failing = true;
  f.opened = store::LogStore::Open(f.options);  // so does an open
  REQUIRE_MESSAGE(f.opened.ok(), f.opened.status().ToString());
  store::LogStore& ledger = **f.opened;
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"})).ok());
  REQUIRE(ledger.PurgeOverwritten().ok());  // flushes and compactions log too
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c3", CustomerCreated{"c3"})).ok());

  f.fs->info_log_failing = false;
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c4", CustomerCreated{"c4"})).ok());
  f.opened->reset();
  auto reopened = store::LogStore::Open(f.options);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->GetHead().position == 4);
  CHECK((*reopened)->VerifyChain().ok);
}

// A server that runs for months writes its info log all that time: it rolls to LOG.old as an
// open would, so the directory never holds more than two.
TEST_CASE("AnInfoLogRollsToLogOldWhileItIsWritten") {
  testing::TempDir dir;
  constexpr uint64_t kMax = 4096;
  auto log = store::OpenInfoLog(nullptr, dir.Sub("data"), /*create=*/true, kMax);
  for (int i = 0; i < 200; ++i) {
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "line %03d of a long-running server", i);
  }
  const std::string path = dir.Sub("data") + "/LOG";
  REQUIRE(std::filesystem::exists(path));
  REQUIRE(std::filesystem::exists(path + ".old"));
  CHECK(std::filesystem::file_size(path) <= kMax + 100);
  CHECK(std::filesystem::file_size(path + ".old") >= kMax);
  CHECK(std::filesystem::file_size(path + ".old") <= kMax + 100);
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("line 199 of a long-running server\n") != std::string::npos);
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.Sub("data"))) {
    ++files;
  }
  CHECK(files == 2);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The roll renamed LOG but could not open a new one: lines are lost meanwhile, and the log is
// written again as soon as it can be opened.
TEST_CASE("AnInfoLogThatCouldNotBeOpenedAfterARollIsOpenedAgainLater") {
  testing::TempDir dir;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  auto log = store::OpenInfoLog(env.get(), dir.Sub("data"), /*create=*/true, 4096);
  fs->info_log_unopenable = true;
  for (int i = 0; i < 100; ++i)
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "line %03d", i);
  fs->info_log_unopenable = false;
  rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "once it can be opened again");
  CHECK(ReadAll(dir.Sub("data") + "/LOG").find("once it can be opened again\n") !=
        std::string::npos);
}

// LOG.old cannot be replaced (here a directory is in its place): LOG grows on, no line is lost.
TEST_CASE("AnInfoLogThatCannotBeRolledKeepsEveryLine") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("data") + "/LOG.old/in-the-way");
  auto log = store::OpenInfoLog(nullptr, dir.Sub("data"), /*create=*/true, 4096);
  for (int i = 0; i < 300; ++i)
    rocksdb::Log(rocksdb::InfoLogLevel::INFO_LEVEL, log, "line %03d", i);
  const std::string text = ReadAll(dir.Sub("data") + "/LOG");
  CHECK(text.find("line 000\n") != std::string::npos);
  CHECK(text.find("line 299\n") != std::string::npos);
  CHECK(std::filesystem::is_directory(dir.Sub("data") + "/LOG.old"));
}

}  // namespace
}  // namespace cledger

namespace cledger {
namespace {

// Debian's librocksdb asserts (SIGABRT) on a WAL write after a failed one, even once Resume()
// has succeeded: the store writes nothing more until it has reopened the database, and says
// why meanwhile.
TEST_CASE("AfterAFailedWriteNothingIsWrittenUntilTheDatabaseIsReopened") {
  FlakyLedger f;
  std::atomic<bool>& failing = f.failing;
  auto& opened = f.opened;
  store::LogStore& ledger = **opened;
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c1", CustomerCreated{"c1"})).ok());

  failing = true;
  auto failed = ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"}));
  REQUIRE_FALSE(failed.ok());
  CHECK(ledger.Stats().storage_state == "degraded");
  for (int i = 0; i < 20; ++i) {  // each would have been a write after a failed one
    auto refused = ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"}));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::kUnavailable);
    CHECK(refused.status().reason() == "storage_unavailable");
  }
  CHECK(ledger.GetHead().position == 1);
  CHECK(ledger.Read(1, 10)->size() == 1);  // reads go on

  failing = false;
  Result<CommitResult> recovered = Status::IoError("", "");
  for (int attempt = 0; attempt < 200 && !recovered.ok(); ++attempt) {
    recovered = ledger.Append(testing::OneEventCommit("customer-c3", CustomerCreated{"c3"}));
    if (!recovered.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(recovered.ok(), recovered.status().ToString());
  CHECK(ledger.Stats().storage_state == "ok");
  CHECK(ledger.Stats().reopens >= 1);  // the database was closed and opened again
  CHECK(ledger.VerifyChain().ok);
  CHECK(ledger.GetHead().position == recovered->last_position);
}

// A group is refused before RocksDB sees it when the disk is nearly full, and taken again
// once space returns.
TEST_CASE("UnderTheFreeSpaceThresholdWritesAreRefusedWith507AndResumeWhenSpaceReturns") {
  testing::TempDir dir;
  std::atomic<uint64_t> free_bytes{1ull << 30};
  store::StoreOptions options;
  options.ledger.path = dir.Sub("data");
  options.ledger.on_storage_fault = [](const Status&) {};
  options.free_bytes = [&](const std::string&) -> std::optional<uint64_t> { return free_bytes; };
  auto opened = store::LogStore::Open(options);
  REQUIRE(opened.ok());
  store::LogStore& ledger = **opened;
  REQUIRE(ledger.Append(testing::OneEventCommit("customer-c1", CustomerCreated{"c1"})).ok());

  free_bytes = 63ull << 20;  // under the 64 MiB threshold
  auto refused = ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"}));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Code::kNoSpace);
  CHECK(refused.status().reason() == "insufficient_storage");
  CHECK(ledger.Stats().storage_state == "no_space");
  CHECK(ledger.Stats().write_errors == 0);  // RocksDB never saw the write
  CHECK(ledger.Read(1, 10)->size() == 1);

  free_bytes = 1ull << 30;
  auto taken = ledger.Append(testing::OneEventCommit("customer-c2", CustomerCreated{"c2"}));
  REQUIRE(taken.ok());
  CHECK(taken->first_position == 2);
  CHECK(ledger.Stats().storage_state == "ok");
}

}  // namespace
}  // namespace cledger
