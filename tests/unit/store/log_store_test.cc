#include <doctest/doctest.h>

#include <map>
#include <thread>
#include <vector>

#include "cledger/limits.h"
#include "tests/support/ledger_fixture.h"

namespace cledger {
namespace {

using testing::LedgerFixture;
using testing::OneEventCommit;

class SteppingClock final : public Clock {
 public:
  int64_t NowMicros() override { return now_us; }
  int64_t now_us = 1'000'000;
};

TEST_CASE("PositionsAndStreamVersionsStayGaplessWithEightConcurrentAppenders") {
  LedgerFixture f;
  constexpr int kThreads = 8;
  constexpr int kCommitsPerThread = 250;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCommitsPerThread; ++i) {
        Commit commit = OneEventCommit("contact-" + std::to_string(i % 7), ContactRestored{"x"});
        if (i % 3 == 0)
          commit.events.push_back({"customer-" + std::to_string(t), CustomerDeleted{}});
        if (!f.ledger->Append(std::move(commit)).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);

  std::vector<Event> all;
  for (uint64_t from = 1;;) {
    auto batch = f.ledger->Read(from, 1000);
    REQUIRE(batch.ok());
    if (batch->empty()) break;
    all.insert(all.end(), batch->begin(), batch->end());
    from = all.back().position + 1;
  }
  REQUIRE(all.size() == f.ledger->GetHead().position);
  std::map<std::string, uint64_t> stream_versions;
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].position == i + 1);
    CHECK(all[i].stream_version == ++stream_versions[all[i].stream]);
    if (i > 0) CHECK(all[i].prev_hash == all[i - 1].hash);
  }
  CHECK(f.ledger->VerifyChain().ok);
}

TEST_CASE("OneCommitsEventsAreContiguousAndShareACorrelationId") {
  LedgerFixture f;
  Commit commit = OneEventCommit("customer-c1", CustomerDeleted{"c1"});
  commit.events.push_back({"contact-k1", ContactDeleted{"k1"}});
  commit.events.push_back({"contact-k2", ContactUnlinked{"k2", "c1"}});
  const CommitResult result = f.MustAppend(commit);
  CHECK(result.first_position == 1);
  CHECK(result.last_position == 3);
  auto events = f.ledger->Read(1, 10);
  REQUIRE(events->size() == 3);
  CHECK(events->at(0).correlation_id == events->at(2).correlation_id);
  CHECK(events->at(0).recorded_at_us == events->at(2).recorded_at_us);
}

TEST_CASE("RetriedIdempotencyKeyAppendsNothingAndReturnsTheFirstPositions") {
  LedgerFixture f;
  f.MustAppend(OneEventCommit("customer-c0", CustomerCreated{"c0"}));
  const CommitResult first =
      f.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1"));
  CHECK_FALSE(first.replayed);

  const CommitResult retry =
      f.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1"));
  CHECK(retry.replayed);
  CHECK(retry.first_position == first.first_position);
  CHECK(retry.last_position == first.last_position);
  CHECK(f.ledger->GetHead().position == 2);

  SUBCASE("also after a restart") {
    f.Reopen();
    const CommitResult again =
        f.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1"));
    CHECK(again.replayed);
    CHECK(again.first_position == first.first_position);
    CHECK(f.ledger->GetHead().position == 2);
  }
  SUBCASE("keys are scoped to their tenant") {
    Commit other = OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1");
    other.tenant = "globex";
    CHECK_FALSE(f.MustAppend(other).replayed);
  }
}

TEST_CASE("ConcurrentRetriesOfOneIdempotencyKeyAppendOnce") {
  LedgerFixture f;
  std::vector<std::thread> threads;
  std::vector<CommitResult> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      results[t] = *f.ledger->Append(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "k"));
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(f.ledger->GetHead().position == 1);
  for (const auto& r : results) CHECK(r.first_position == 1);
}

TEST_CASE("EventIdsDeriveFromTheIdempotencyKey") {
  LedgerFixture f;
  f.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1"));
  f.MustAppend(OneEventCommit("customer-c2", CustomerCreated{"c2"}));
  testing::LedgerFixture g;
  g.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}, "key-1"));
  auto mine = f.ledger->Read(1, 2);
  auto theirs = g.ledger->Read(1, 1);
  CHECK(mine->at(0).event_id == theirs->at(0).event_id);
  CHECK(mine->at(0).event_id.size() == 36);
  CHECK(mine->at(1).event_id != mine->at(0).event_id);
}

TEST_CASE("VersionMismatchRejectsTheWholeCommitAndAppendsNothing") {
  LedgerFixture f;
  f.MustAppend(OneEventCommit("contact-k1", ContactCreated{"k1"}));
  Commit stale = OneEventCommit("contact-k1", ContactDeleted{"k1"});
  stale.events.push_back({"contact-k2", ContactCreated{"k2"}});
  stale.expected = {{"contact-k1", 0}};
  auto result = f.ledger->Append(stale);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kVersionMismatch);
  CHECK(result.status().reason() == "version_mismatch");
  CHECK(f.ledger->GetHead().position == 1);
  CHECK(*f.ledger->StreamVersion("acme", "contact-k2") == 0);

  stale.expected = {{"contact-k1", 1}};
  CHECK(f.ledger->Append(stale).ok());
  CHECK(*f.ledger->StreamVersion("acme", "contact-k1") == 2);
}

TEST_CASE("AReopenedLedgerKeepsEverythingAndTheChainContinues") {
  LedgerFixture f;
  for (int i = 0; i < 20; ++i) f.MustAppend(OneEventCommit("contact-k1", ContactEdited{"k1"}));
  const Head before = f.ledger->GetHead();
  f.Reopen();
  CHECK(f.ledger->GetHead().position == before.position);
  CHECK(f.ledger->GetHead().hash == before.hash);
  CHECK(f.ledger->Stats().total_commits == 20);  // kept in the head record
  CHECK(f.ledger->Stats().commits == 0);         // since this open
  f.MustAppend(OneEventCommit("contact-k1", ContactDeleted{"k1"}));
  CHECK(f.ledger->Stats().total_commits == 21);
  auto last = f.ledger->Read(21, 1);
  REQUIRE(last->size() == 1);
  CHECK(last->at(0).prev_hash == before.hash);
  CHECK(last->at(0).stream_version == 21);
  CHECK(f.ledger->VerifyChain().ok);
}

TEST_CASE("RecordedAtNeverDecreasesEvenWhenTheClockGoesBack") {
  auto clock = std::make_shared<SteppingClock>();
  LedgerOptions options;
  options.clock = clock;
  LedgerFixture f(options);
  f.MustAppend(OneEventCommit("customer-c1", CustomerCreated{"c1"}));
  clock->now_us = 5;  // the wall clock jumped back
  f.MustAppend(OneEventCommit("customer-c1", CustomerDeleted{"c1"}));
  auto events = f.ledger->Read(1, 2);
  CHECK(events->at(0).recorded_at_us == 1'000'000);
  CHECK(events->at(1).recorded_at_us == 1'000'000);
}

TEST_CASE("ReadStreamReturnsOnlyThatStreamsEventsInVersionOrder") {
  LedgerFixture f;
  for (int i = 0; i < 5; ++i) {
    f.MustAppend(OneEventCommit("contact-a", ContactEdited{"a"}));
    f.MustAppend(OneEventCommit("contact-b", ContactEdited{"b"}));
  }
  auto events = f.ledger->ReadStream("acme", "contact-b", 2, 100);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 4);
  CHECK(events->front().stream_version == 2);
  CHECK(events->front().position == 4);
  for (const Event& e : *events) CHECK(e.stream == "contact-b");
  CHECK(f.ledger->ReadStream("globex", "contact-b", 1, 100)->empty());
}

TEST_CASE("LimitsRejectOversizedEventsAndCommitsWithClearReasons") {
  LedgerFixture f;
  ContactFields huge;
  huge.first_name = std::string(limits::kEventBytesMax, 'x');
  auto too_big = f.ledger->Append(OneEventCommit("contact-k1", ContactCreated{"k1", "", huge}));
  CHECK(too_big.status().reason() == "event_too_large");

  Commit too_many = OneEventCommit("contact-k1", ContactEdited{"k1"});
  too_many.events.resize(limits::kEventsPerCommitMax + 1, too_many.events[0]);
  CHECK(f.ledger->Append(too_many).status().reason() == "too_many_events");

  Commit empty = OneEventCommit("contact-k1", ContactEdited{"k1"});
  empty.events.clear();
  CHECK(f.ledger->Append(empty).status().reason() == "empty_commit");

  CHECK(f.ledger->Append(OneEventCommit(std::string(200, 's'), ContactEdited{})).status().field() ==
        "stream");
  CHECK(f.ledger->GetHead().position == 0);
}

}  // namespace
}  // namespace cledger
