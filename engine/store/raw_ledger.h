// The ledger with raw appends: a commit's events go into the log as given, checked only for
// the store's own invariants (limits, expected versions, idempotency keys), past every domain
// rule. Internal, and deliberately not in the public API: the engine's writer is built on it,
// and besides it only the store's own tests, tests that need a log the rules would never write
// (RawLedgerOf in engine/engine_internal.h) and the store benchmark append this way. Everything
// else appends through Engine::Execute.
//
// Thread-safety: as Ledger; appends are serialised by the store's single writer thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cledger/ledger.h"

namespace cledger {

// An event a commit appends; the ledger assigns everything else.
struct NewEvent {
  std::string stream;
  EventBody body;
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
  // The version the commit left its first event's stream at; 0 when replayed (read the log).
  uint64_t target_version = 0;
  bool operator==(const CommitResult&) const = default;
};

class RawLedger : public Ledger {
 public:
  static Result<std::unique_ptr<RawLedger>> Open(const LedgerOptions& options);

  // Appends the commit's events durably. Fails with kVersionMismatch when an expected version
  // differs, kLimitExceeded/kInvalidArgument for bad commits, kIoError on a storage fault;
  // in every failure nothing is appended.
  virtual Result<CommitResult> Append(Commit commit) = 0;
};

}  // namespace cledger
