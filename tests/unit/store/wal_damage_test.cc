// A write-ahead log damaged before its end must not open silently minus the commits after
// the damage (RocksDB's default point-in-time recovery did: head 406 → 356, and new commits
// took the lost positions). A torn last record, what a crash leaves, still opens.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/store/log_store.h"
#include "tests/support/ledger_fixture.h"
#include "tests/support/sample_events.h"

namespace cledger {
namespace {

constexpr int kCommits = 200;

// Appends in a child that then dies without closing, as kill -9 would: every acknowledged
// commit is in the write-ahead log only.
void WriteAndDie(const std::string& path) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    store::StoreOptions options;
    options.ledger.path = path;
    auto opened = store::LogStore::Open(options);
    if (!opened.ok()) _exit(2);
    for (int i = 0; i < kCommits; ++i) {
      const std::string id = "k" + std::to_string(i);
      auto commit = testing::OneEventCommit("contact-" + id,
                                            ContactCreated{id, "", testing::FullContactFields()});
      if (!(*opened)->Append(commit).ok()) _exit(3);
    }
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

std::string NewestWal(const std::string& dir) {
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log" && entry.path().string() > newest) {
      newest = entry.path().string();
    }
  }
  return newest;
}

// Flips 16 bytes in the middle of the newest write-ahead log; returns its file name.
std::string DamageWalMidway(const std::string& path) {
  const std::string wal = NewestWal(path);
  REQUIRE_FALSE(wal.empty());
  const auto size = std::filesystem::file_size(wal);
  REQUIRE(size > 100'000);
  std::fstream file(wal, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(size / 2));
  for (int i = 0; i < 16; ++i) file.put('\x5a');
  return std::filesystem::path(wal).filename().string();
}

TEST_CASE("AWalDamagedMidwayRefusesToOpenAndNamesTheFile") {
  testing::TempDir dir;
  const std::string path = dir.Sub("data");
  WriteAndDie(path);
  const std::string wal = DamageWalMidway(path);
  store::StoreOptions options;
  options.ledger.path = path;
  auto opened = store::LogStore::Open(options);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.status().code() == Code::kCorruption);
  CHECK(opened.status().reason() == "wal_damaged");
  CHECK(opened.status().message().find(wal) != std::string::npos);
}

TEST_CASE("AnAcceptedWalLossKeepsTheCommitsBeforeItAndNeverReusesTheirPositions") {
  testing::TempDir dir;
  const std::string path = dir.Sub("data");
  WriteAndDie(path);
  const std::string wal = DamageWalMidway(path);
  store::StoreOptions options;
  options.ledger.path = path;
  options.ledger.accept_wal_loss = "000001.log";  // not the file the refusal named
  REQUIRE_FALSE(store::LogStore::Open(options).ok());

  options.ledger.accept_wal_loss = wal;
  uint64_t kept = 0, lost_head = 0;
  {
    auto opened = store::LogStore::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    const VerifyReport report = (*opened)->VerifyChain();
    CHECK_MESSAGE(report.ok, report.problem);
    kept = report.events_checked;
    lost_head = report.head.position;
    CHECK(kept > 0);
    CHECK(kept < kCommits);  // the damage dropped the commits after it
    // Every position a lost commit may have taken, up to the reservation, is a gap.
    CHECK(lost_head >= kCommits);
    CHECK(report.lost_positions == lost_head - kept);
    auto next = (*opened)->Append(testing::OneEventCommit(
        "contact-after", ContactCreated{"after", "", testing::FullContactFields()}));
    REQUIRE(next.ok());
    CHECK(next->first_position == lost_head + 1);
  }
  options.ledger.accept_wal_loss.clear();  // the log is whole again: a plain open
  auto reopened = store::LogStore::Open(options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
  const VerifyReport report = (*reopened)->VerifyChain();
  CHECK_MESSAGE(report.ok, report.problem);
  CHECK(report.events_checked == kept + 1);
  CHECK(report.head.position == lost_head + 1);
  auto events = (*reopened)->Read(kept, 10);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);  // the last kept event, then the first after the gap
  CHECK(events->back().position == lost_head + 1);
  CHECK(events->back().prev_hash == events->front().hash);
  // The tree has a leaf for every position, the lost ones empty: its root is the events'.
  CHECK(*(*reopened)->TreeRoot(lost_head + 1) == testing::ReferenceTreeRoot(**reopened));
}

TEST_CASE("AWalWithATornLastRecordStillOpensWithEveryWholeCommit") {
  testing::TempDir dir;
  const std::string path = dir.Sub("data");
  WriteAndDie(path);
  const std::string wal = NewestWal(path);
  std::filesystem::resize_file(wal, std::filesystem::file_size(wal) - 100);  // a torn write
  store::StoreOptions options;
  options.ledger.path = path;
  auto opened = store::LogStore::Open(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  CHECK((*opened)->GetHead().position == kCommits - 1);  // only the torn commit is gone
  CHECK((*opened)->VerifyChain().ok);
}

}  // namespace
}  // namespace cledger
