#include "engine/time_travel.h"

#include <algorithm>

namespace cledger {
namespace {

// A stream's events are read in batches that double up to the maximum: a point early in a
// long stream reads little more than it needs.
constexpr size_t kReplayBatchFirst = 32;
constexpr size_t kReplayBatchMax = 1024;

}  // namespace

// A time maps to the last position recorded at or before it; recorded_at never decreases
// along the log, so a binary search finds it. A position past the head has no state yet: what
// it would show changes as events are appended below it.
Result<uint64_t> PositionAt(Ledger& log, const AsOf& as_of) {
  const uint64_t head = log.GetHead().position;
  if (as_of.position && *as_of.position > head) {
    return Status::InvalidArgument("position_not_reached",
                                   "position " + std::to_string(*as_of.position) +
                                       " is past the ledger's head, " + std::to_string(head),
                                   "at");
  }
  if (as_of.position) return *as_of.position;
  uint64_t low = 0, high = head;  // invariant: event `low` is at or before the time
  while (low < high) {
    const uint64_t mid = low + (high - low + 1) / 2;
    auto event = log.Read(mid, 1);
    if (!event.ok() || event->empty())
      return Status(Code::kIoError, "storage_error", "read failed");
    if (event->front().recorded_at_us <= *as_of.time_us) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return low;
}

// From the stream's newest checkpoint at or before the position (projection.h), so a long
// stream costs at most kCheckpointEvery events of folding; from its first event without one.
Status TimeTravel::Replay(const projections::Projection& projection, const std::string& tenant,
                          const std::string& stream, const AsOf& as_of, projections::Kv& past) {
  auto position = PositionAt(store_, as_of);
  if (!position.ok()) return position.status();
  uint64_t version = 1;
  {
    Snapshot snap(store_, host_, /*consistent=*/false);
    auto checkpoint = projections::LastCheckpoint(snap.Kv(projection), tenant, stream, *position);
    if (!checkpoint.ok()) return checkpoint.status();
    if (*checkpoint) {
      past.Put((*checkpoint)->key, (*checkpoint)->value);
      version = (*checkpoint)->version + 1;
    }
  }
  for (size_t batch = kReplayBatchFirst;; batch = std::min(batch * 2, kReplayBatchMax)) {
    auto events = store_.ReadStream(tenant, stream, version, batch);
    if (!events.ok()) return events.status();
    for (const Event& e : *events) {
      if (e.position > *position) return Status::Ok();
      if (Status s = Foldable(e); !s.ok()) return s;
      if (Status s = projection.Apply(past, e); !s.ok()) return s;
    }
    if (events->size() < batch) return Status::Ok();
    version = events->back().stream_version + 1;
  }
}

}  // namespace cledger
