// A reopen after a storage fault on a disk that takes no table either, so that closing the
// database cannot flush its memtables: what the audit follower had folded must still be
// there, or be folded again, before a query is answered from it, with nothing committed
// after the fault to wake the follower.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/engine_internal.h"
#include "tests/support/engine_fixture.h"
#include "tests/unit/store/flaky_fs.h"

namespace cledger {
namespace {

using testing::As;
using testing::Person;
using testing::Reader;

TEST_CASE("TheAuditTrailIsWholeAfterAReopenOnADiskThatTookNoTable") {
  testing::TempDir dir;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<testing::FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  LedgerOptions options;
  options.path = dir.Sub("data");
  options.on_storage_fault = [](const Status&) {};
  auto opened = OpenEngineOnEnv(options, env.get());
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::unique_ptr<Engine> engine = std::move(opened).value();
  const CommandContext owner = As("acme", "owner");
  REQUIRE(engine->Execute(As("", "ops", "root"), CreateTenant{"acme", "standard"}).ok());
  REQUIRE(engine->Execute(owner, CreateCustomer{"c1", "Acme", "ap@acme.test", ""}).ok());
  REQUIRE(engine->Execute(owner, CreateContact{"k1", "c1", Person("Ann")}).ok());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(engine
                ->Execute(owner, EditContact{"k1",
                                             [i](ContactFields& f) {
                                               f.first_name = "Ann " + std::to_string(i);
                                             }})
                .ok());
  }
  auto trail = engine->ContactHistory(Reader(), "k1");
  REQUIRE(trail.ok());
  REQUIRE(trail->size() == 21);

  // A failed write on a disk that takes no table either. The store reopens by itself once
  // the disk heals, and nothing is committed after it.
  failing = true;
  fs->tables_failing = true;
  CHECK_FALSE(engine->Execute(owner, CreateCustomer{"c2", "Other", "o@acme.test", ""}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a reopen tried meanwhile
  fs->tables_failing = false;
  failing = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (engine->ledger().Stats().reopens == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(engine->ledger().Stats().reopens >= 1);

  trail = engine->ContactHistory(Reader(), "k1");
  REQUIRE(trail.ok());
  CHECK(trail->size() == 21);
  auto mismatches = engine->VerifyProjections();
  REQUIRE(mismatches.ok());
  for (const ProjectionMismatch& m : *mismatches) {
    FAIL_CHECK(m.projection << " differs at " << m.key);
  }
}

}  // namespace
}  // namespace cledger
