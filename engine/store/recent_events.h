// The decoded events at the head of the log, shared by every reader that follows it: stream
// subscribers and projection followers decode (and open the personal fields of) each new
// event once, not once each.
//
// A decoded event holds personal fields in the clear, so what is kept must never be served
// after the key that opened them is gone: every destruction of a key has a new `keys`
// generation, and events decoded under an older one are dropped, never served. Events whose
// fields could not be opened are not kept: a key missing for a moment must not blank them for
// the next reader.
//
// Bounded: only events among the newest `window` positions, and in bytes (an event may weigh
// 64 KiB, twice that decoded) the newest that fit. A reader further behind reads the disk.
//
// Thread-safety: every member is safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "cledger/events.h"

namespace cledger::store {

class RecentEvents {
 public:
  RecentEvents(uint64_t window, size_t bytes_max) : window_(window), bytes_max_(bytes_max) {}

  // Appends the kept events at `from`, `from` + 1, … to `out`: at most `limit`, none past
  // `head`. Returns the position after the last appended (`from` when none was).
  uint64_t Take(uint64_t from, uint64_t head, size_t limit, uint64_t keys, std::vector<Event>& out);
  // Keeps the events of a read that decoded them all under `keys` (the generation before the
  // read) when it is still `keys_now`. `stored_bytes[i]` is what events[i] weighs on disk.
  void Keep(std::span<const Event> events, std::span<const size_t> stored_bytes, uint64_t head,
            uint64_t keys, uint64_t keys_now);
  void Clear();

 private:
  struct Kept {
    std::shared_ptr<const Event> event;
    size_t bytes = 0;
  };
  // REQUIRES: mu_ held. False when `keys` is older than what is kept; a newer one drops it.
  bool Current(uint64_t keys);

  const uint64_t window_;
  const size_t bytes_max_;
  std::mutex mu_;
  uint64_t keys_ = 0;
  size_t bytes_ = 0;
  std::map<uint64_t, Kept> events_;  // by position
};

}  // namespace cledger::store
