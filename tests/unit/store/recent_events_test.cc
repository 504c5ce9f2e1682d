// The decoded events shared by the readers that follow the head (engine/store/recent_events.h):
// bounded in bytes and by the window, and never serving what an older key generation decoded.
#include "engine/store/recent_events.h"

#include <doctest/doctest.h>

#include <vector>

namespace cledger::store {
namespace {

// Events at positions first … last, each weighing `bytes` on disk.
struct Read {
  std::vector<Event> events;
  std::vector<size_t> bytes;
};

Read Events(uint64_t first, uint64_t last, size_t bytes = 100,
            Personal personal = Personal::kInBody) {
  Read read;
  for (uint64_t p = first; p <= last; ++p) {
    Event e;
    e.position = p;
    e.stream = "contact-k" + std::to_string(p);
    e.personal = personal;
    read.events.push_back(e);
    read.bytes.push_back(bytes);
  }
  return read;
}

void Keep(RecentEvents& recent, const Read& read, uint64_t head, uint64_t keys = 0,
          uint64_t keys_now = 0) {
  recent.Keep(read.events, read.bytes, head, keys, keys_now);
}

// The positions Take serves from `from` on, up to `head`.
std::vector<uint64_t> Served(RecentEvents& recent, uint64_t from, uint64_t head, uint64_t keys = 0,
                             size_t limit = 100) {
  std::vector<Event> out;
  recent.Take(from, head, limit, keys, out);
  std::vector<uint64_t> positions;
  for (const Event& e : out) positions.push_back(e.position);
  return positions;
}

TEST_CASE("RecentEventsKeepOnlyTheNewestThatFitTheirByteBound") {
  RecentEvents recent(/*window=*/1000, /*bytes_max=*/1000);
  Keep(recent, Events(1, 10), 10);  // each counted twice its 100 stored bytes
  CHECK(Served(recent, 1, 10).empty());
  CHECK(Served(recent, 5, 10).empty());
  CHECK(Served(recent, 6, 10) == std::vector<uint64_t>{6, 7, 8, 9, 10});
}

TEST_CASE("RecentEventsKeepOnlyPositionsWithinTheWindowOfTheHead") {
  RecentEvents recent(/*window=*/4, /*bytes_max=*/1 << 20);
  Keep(recent, Events(1, 10), 10);
  CHECK(Served(recent, 6, 10).empty());
  CHECK(Served(recent, 7, 10) == std::vector<uint64_t>{7, 8, 9, 10});
}

TEST_CASE("RecentEventsServeNothingPastTheHeadNorAcrossAGap") {
  RecentEvents recent(1000, 1 << 20);
  Keep(recent, Events(1, 3), 10);
  Keep(recent, Events(5, 6), 10);
  CHECK(Served(recent, 1, 2) == std::vector<uint64_t>{1, 2});
  CHECK(Served(recent, 1, 10) == std::vector<uint64_t>{1, 2, 3});
  CHECK(Served(recent, 5, 10, 0, /*limit=*/1) == std::vector<uint64_t>{5});
}

TEST_CASE("AnEventDecodedUnderADestroyedKeysGenerationIsNeverServed") {
  RecentEvents recent(1000, 1 << 20);
  Keep(recent, Events(1, 3), 3, /*keys=*/1, /*keys_now=*/1);
  CHECK(Served(recent, 1, 3, /*keys=*/1).size() == 3);
  // A key was destroyed: generation 2. Nothing decoded under 1 is served to a reader of 2 …
  CHECK(Served(recent, 1, 3, /*keys=*/2).empty());
  // … nor kept from a read that ended before the destruction but is kept after it.
  Keep(recent, Events(5, 5), 5, /*keys=*/1, /*keys_now=*/1);
  CHECK(Served(recent, 5, 5, 2).empty());
  CHECK(Served(recent, 5, 5, 1).empty());  // a reader still on the old generation gets none
}

TEST_CASE("AReadDuringWhichAKeyWasDestroyedKeepsNothing") {
  RecentEvents recent(1000, 1 << 20);
  // Started under generation 1, ended under 2: some of its events may have been opened with
  // the destroyed key. Nothing is kept, for a reader of either generation.
  Keep(recent, Events(1, 2), 2, /*keys=*/1, /*keys_now=*/2);
  CHECK(Served(recent, 1, 2, 1).empty());
  CHECK(Served(recent, 1, 2, 2).empty());
}

TEST_CASE("AnEventWhosePersonalFieldsCouldNotBeOpenedIsNotKept") {
  RecentEvents recent(1000, 1 << 20);
  Keep(recent, Events(1, 1, 100, Personal::kUnreadable), 1);
  Keep(recent, Events(2, 2, 100, Personal::kErased), 2);
  CHECK(Served(recent, 1, 2).empty());
  CHECK(Served(recent, 2, 2) == std::vector<uint64_t>{2});
}

TEST_CASE("ClearedRecentEventsServeNothing") {
  RecentEvents recent(1000, 1 << 20);
  Keep(recent, Events(1, 3), 3);
  recent.Clear();
  CHECK(Served(recent, 1, 3).empty());
}

}  // namespace
}  // namespace cledger::store
