// The narrow key-value interface every projection folds into. A projection sees only its own
// keyspace; behind it is the commit's RocksDB batch (live), a fresh column family (rebuild)
// or a map in memory (time travel, tests).
//
// Errors are values: a read that fails returns its Status, and so does a scan. Writes go to
// a batch in memory; a write the batch cannot take (it is full) is kept by the batch as its
// first error and fails the whole group when it is written (see store::Txn::status()), so a
// fold never half-applies.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cledger/status.h"

namespace cledger::projections {

// Called for each (key, value) under a prefix, in key order; returns false to stop.
using ScanFn = std::function<bool(std::string_view key, std::string_view value)>;

class Kv {
 public:
  virtual ~Kv() = default;
  // The value, nullopt when the key is absent, or the Status of a failed read.
  virtual Result<std::optional<std::string>> Get(std::string_view key) = 0;
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;
  // Ok once every key was visited (or `fn` stopped); else the read's failure.
  virtual Status Scan(std::string_view prefix, const ScanFn& fn) = 0;
};

class MemKv final : public Kv {
 public:
  Result<std::optional<std::string>> Get(std::string_view key) override {
    auto it = map_.find(key);
    return it == map_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void Put(std::string_view key, std::string_view value) override {
    map_.insert_or_assign(std::string(key), std::string(value));
  }
  void Delete(std::string_view key) override {
    if (auto it = map_.find(key); it != map_.end()) map_.erase(it);
  }
  Status Scan(std::string_view prefix, const ScanFn& fn) override {
    for (auto it = map_.lower_bound(prefix);
         it != map_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      if (!fn(it->first, it->second)) break;
    }
    return Status::Ok();
  }
  const std::map<std::string, std::string, std::less<>>& contents() const { return map_; }

 private:
  std::map<std::string, std::string, std::less<>> map_;
};

}  // namespace cledger::projections
