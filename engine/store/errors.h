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

}  // namespace cledger::store
