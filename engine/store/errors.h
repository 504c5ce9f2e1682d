// RocksDB's statuses as the engine's: one mapping for every read and write of the store.
#pragma once

#include <rocksdb/status.h>

#include <string>
#include <string_view>

#include "cledger/status.h"

namespace cledger::store {

// REQUIRES: !s.ok(). Damaged bytes are Corruption (500: retrying cannot help), named by
// `corrupt_reason` ("corrupt_event" for the log); everything else is an I/O error (503: the
// fault may clear).
inline Status FromRocks(const rocksdb::Status& s, std::string_view what,
                        std::string corrupt_reason = "corrupt_state") {
  std::string message = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return Status::Corruption(std::move(corrupt_reason), std::move(message));
  return Status::IoError("storage_error", std::move(message));
}

// What a reader hears while the database is closed for a reopen after a fault.
// An id the ledger cannot key: refused before anything is done for its command.
inline Status IdTooLong() {
  return Status(Code::kLimitExceeded, "too_long", "tenant or idempotency key too long");
}

// A commit whose expected stream version is not the stream's (a stale If-Match). The message
// says what to do: the caller judged a version that is gone.
inline Status StaleVersion(std::string_view what, uint64_t actual, uint64_t expected) {
  const std::string now = std::to_string(actual);
  return Status(Code::kVersionMismatch, "version_mismatch",
                std::string(what) + " is at version " + now + ", not " + std::to_string(expected) +
                    ": read it again, then send If-Match: \"" + now +
                    "\" if the change still holds");
}

inline Status Reopening() {
  return Status::Unavailable("storage_unavailable",
                             "the database is being reopened after a storage fault");
}

}  // namespace cledger::store
