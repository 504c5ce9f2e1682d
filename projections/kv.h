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
#include <unordered_map>

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

// What a fold read and wrote through `base`, remembered for its next reads: a rebuild's fold
// reads back records it wrote batches ago, which RocksDB would look for through memtables and
// tables. Only for a keyspace nothing else writes while the memory is kept (a family being
// rebuilt or verified), else it would answer with values since overwritten. Past `budget`
// bytes it forgets everything and starts again.
class CachedKv final : public Kv {
 public:
  struct Memory {
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key); }
    };
    std::unordered_map<std::string, std::optional<std::string>, Hash, std::equal_to<>> records;
    size_t bytes = 0;

    // What a record read; past `budget` bytes everything is forgotten first.
    void Remember(std::string_view key, const std::optional<std::string>& value, size_t budget) {
      if (bytes + Size(key, value) > budget) {
        records.clear();
        bytes = 0;
      }
      records.emplace(std::string(key), value);
      bytes += Size(key, value);
    }
    // Only a record read before is remembered: most keys a fold writes it never reads back,
    // and nothing is copied for them. `value`: nullopt for a deletion.
    void Update(std::string_view key, std::optional<std::string_view> value) {
      auto it = records.find(key);
      if (it == records.end()) return;
      bytes -= Size(key, it->second);
      if (!value) {
        it->second.reset();
      } else if (it->second) {
        it->second->assign(*value);  // reuses the buffer of the value it replaces
      } else {
        it->second.emplace(*value);
      }
      bytes += Size(key, it->second);
    }

   private:
    static size_t Size(std::string_view key, const std::optional<std::string>& value) {
      return key.size() + (value ? value->size() : 0) + 64;  // 64: the entry's own overhead
    }
  };

  CachedKv(Kv& base, Memory& memory, size_t budget)
      : base_(base), memory_(memory), budget_(budget) {}
  Result<std::optional<std::string>> Get(std::string_view key) override {
    if (auto it = memory_.records.find(key); it != memory_.records.end()) return it->second;
    auto value = base_.Get(key);
    if (value.ok()) memory_.Remember(key, *value, budget_);
    return value;
  }
  void Put(std::string_view key, std::string_view value) override {
    base_.Put(key, value);
    memory_.Update(key, value);
  }
  void Delete(std::string_view key) override {
    base_.Delete(key);
    memory_.Update(key, std::nullopt);
  }
  Status Scan(std::string_view prefix, const ScanFn& fn) override {
    return base_.Scan(prefix, fn);  // every write went through
  }

 private:
  Kv& base_;
  Memory& memory_;
  size_t budget_;
};

}  // namespace cledger::projections
