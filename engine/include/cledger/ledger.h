// The ledger: an append-only, hash-chained log of events in an embedded RocksDB directory.
//
// Thread-safety: every method may be called from any number of threads at once. Appends are
// serialised by one writer thread that group-commits them (one WAL sync serves many commits)
// and acknowledges each only once it is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cledger/events.h"
#include "cledger/status.h"
#include "cledger/world.h"

namespace cledger {

struct LedgerOptions {
  std::string path;             // the data directory; created when missing
  bool sync = true;             // fsync the WAL before acknowledging (off only in benchmarks)
  bool create_if_missing = true;
  std::shared_ptr<Clock> clock = SystemClock();
  std::shared_ptr<Random> random = SystemRandom();
};

// The stream version a commit requires before it is applied; 0 means "must not exist yet".
struct ExpectedVersion {
  std::string stream;
  uint64_t version = 0;
};

// One command's events, applied atomically or not at all.
struct Commit {
  std::string tenant;
  Actor actor;
  std::string idempotency_key;  // optional; a retry with the same key appends nothing
  std::string correlation_id;   // optional; generated when empty
  std::vector<NewEvent> events;
  std::vector<ExpectedVersion> expected;
};

struct CommitResult {
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  bool replayed = false;  // true when an earlier commit with the same idempotency key answered
  bool operator==(const CommitResult&) const = default;
};

struct Head {
  uint64_t position = 0;  // 0: the ledger is empty
  Hash hash{};
};

struct VerifyReport {
  bool ok = true;
  uint64_t events_checked = 0;
  uint64_t first_broken_position = 0;  // 0 when ok
  std::string problem;                 // what is wrong at that position
  Head head;
};

// Called now and then during long work with (done, total).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

class Ledger {
 public:
  virtual ~Ledger() = default;

  static Result<std::unique_ptr<Ledger>> Open(const LedgerOptions& options);

  // Appends the commit's events durably. Fails with kVersionMismatch when an expected version
  // differs, kLimitExceeded/kInvalidArgument for bad commits, kIoError on a storage fault;
  // in every failure nothing is appended.
  virtual Result<CommitResult> Append(Commit commit) = 0;

  // Up to `limit` events from position `from` on, in order.
  virtual Result<std::vector<Event>> Read(uint64_t from, size_t limit) = 0;
  // Up to `limit` events of one stream from `from_version` on.
  virtual Result<std::vector<Event>> ReadStream(const std::string& tenant,
                                                const std::string& stream,
                                                uint64_t from_version, size_t limit) = 0;
  // The event's bytes exactly as stored: a plain FlatBuffer with the "CLEV" identifier.
  virtual Result<std::string> ReadRaw(uint64_t position) = 0;
  // The current version of a stream (0 when it has no events).
  virtual Result<uint64_t> StreamVersion(const std::string& tenant, const std::string& stream) = 0;

  virtual Head GetHead() = 0;

  // Recomputes the hash chain from position 1 and reports the first broken position.
  virtual VerifyReport VerifyChain(const Progress& progress = {}) = 0;
};

}  // namespace cledger
