// Time travel: a record as it was at a past position or time, folded from its own stream by
// the very fold that keeps its projection current; no second code path derives past state.
//
// Thread-safety: any number of threads at once.
#pragma once

#include <string>
#include <utility>

#include "cledger/engine.h"
#include "engine/projection_host.h"
#include "engine/snapshot.h"
#include "engine/store/log_store.h"
#include "projections/projection.h"

namespace cledger {

// The last position at `as_of`: its position (refused with position_not_reached past the
// head), or the position of the last event recorded at or before its time (0 when none was).
// REQUIRES: TimeTravel::InThePast.
Result<uint64_t> PositionAt(Ledger& log, const AsOf& as_of);

class TimeTravel {
 public:
  TimeTravel(store::LogStore& store, ProjectionHost& host) : store_(store), host_(host) {}

  // Whether `as_of` names a moment in the past at all; when not, reads are of now.
  static bool InThePast(const AsOf& as_of) { return as_of.position || as_of.time_us; }

  // `query` over `projection` as of `as_of`: now, straight from the projection (one record:
  // no snapshot); in the past, over the tenant's `stream` folded up to that position.
  template <typename Query>
  auto Read(const projections::Projection& projection, const std::string& tenant,
            const std::string& stream, const AsOf& as_of, Query query)
      -> decltype(query(std::declval<projections::Kv&>())) {
    if (!InThePast(as_of)) {
      Snapshot snap(store_, host_, /*consistent=*/false);
      return query(snap.Kv(projection));
    }
    projections::MemKv past;
    if (Status s = Replay(projection, tenant, stream, as_of, past); !s.ok()) return s;
    return query(past);
  }

 private:
  // Folds the tenant's `stream` into `past`, up to the position `as_of` names.
  Status Replay(const projections::Projection& projection, const std::string& tenant,
                const std::string& stream, const AsOf& as_of, projections::Kv& past);

  store::LogStore& store_;
  ProjectionHost& host_;
};

}  // namespace cledger
