// Backups are taken while commits go on, restore into a new directory, and verify.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "tests/support/engine_fixture.h"

namespace cledger {
namespace {

using testing::EngineFixture;
using testing::Person;

TEST_CASE("ABackupTakenWhileWritingRestoresToALedgerThatVerifies") {
  EngineFixture f;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; writing; ++i) {
      (void)f.engine->Execute(f.owner, CreateContact{"k" + std::to_string(i), "c1", Person("W")});
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(f.engine->Backup(f.dir.Sub("backup")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  writing = false;
  writer.join();

  CHECK(Engine::RestoreBackup(f.dir.Sub("backup"), f.dir.Sub("data")).code() == Code::kConflict);
  REQUIRE(Engine::RestoreBackup(f.dir.Sub("backup"), f.dir.Sub("restored")).ok());
  LedgerOptions options;
  options.path = f.dir.Sub("restored");
  options.master_key_file = f.dir.Sub("data.master-key");  // a restore comes with the keys
  options.key_store_dir = f.dir.Sub("data.keys");
  options.create_master_key = false;  // read-only: the running ledger holds its key store
  auto restored = Engine::Open(options);
  REQUIRE_MESSAGE(restored.ok(), restored.status().ToString());
  const Head head = (*restored)->ledger().GetHead();
  CHECK(head.position > 3);
  CHECK(head.position <= f.engine->ledger().GetHead().position);
  CHECK((*restored)->ledger().VerifyChain().ok);
  CHECK((*restored)->VerifyProjections()->empty());
  // The backup is a prefix of the live ledger: the same event at its head.
  CHECK(f.engine->ledger().ReadRaw(head.position).value() ==
        (*restored)->ledger().ReadRaw(head.position).value());
}

TEST_CASE("ABackupHoldsEveryCommitAcknowledgedBeforeItStarted") {
  EngineFixture f;
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; writing; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        (void)f.engine->Execute(f.owner, CreateContact{id, "c1", Person("W")});
      }
    });
  }
  std::vector<uint64_t> before;
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    before.push_back(f.engine->ledger().GetHead().position);
    REQUIRE(f.engine->Backup(f.dir.Sub("backup-" + std::to_string(round))).ok());
  }
  writing = false;
  for (auto& writer : writers) writer.join();
  for (int round = 0; round < 5; ++round) {
    const std::string restored = f.dir.Sub("restored-" + std::to_string(round));
    REQUIRE(Engine::RestoreBackup(f.dir.Sub("backup-" + std::to_string(round)), restored).ok());
    LedgerOptions options;
    options.path = restored;
    options.master_key_file = f.dir.Sub("data.master-key");
    options.key_store_dir = f.dir.Sub("data.keys");
    options.create_master_key = false;  // read-only: the running ledger holds its key store
    auto opened = Engine::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    CAPTURE(round);
    CHECK((*opened)->ledger().GetHead().position >= before[round]);
  }
}

TEST_CASE("StatsCountTenantsCustomersContactsAndBytes") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann")});
  auto stats = f.engine->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->tenants == 1);
  CHECK(stats->customers == 2);
  CHECK(stats->contacts == 1);
  CHECK(stats->size_bytes > 0);
  CHECK(stats->head.position == f.engine->ledger().GetHead().position);
}

// Restoring the latest backup checks it as a chosen one is: a damaged file is named, and the
// new directory is left without a half-restored ledger in it.
TEST_CASE("RestoringADamagedLatestBackupNamesTheFileAndLeavesNoHalfLedger") {
  EngineFixture f;
  REQUIRE(f.engine->Backup(f.dir.Sub("backup")).ok());
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(f.dir.Sub("backup") + "/private/1")) {
    if (!entry.is_regular_file() || !entry.path().filename().string().starts_with("MANIFEST")) {
      continue;
    }
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.write("damage", 6);
  }
  const Status refused = Engine::RestoreBackup(f.dir.Sub("backup"), f.dir.Sub("restored"));
  CHECK(refused.code() == Code::kCorruption);
  CHECK(refused.message().find("MANIFEST") != std::string::npos);
  CHECK((!std::filesystem::exists(f.dir.Sub("restored")) ||
         std::filesystem::is_empty(f.dir.Sub("restored"))));
}

}  // namespace
}  // namespace cledger
