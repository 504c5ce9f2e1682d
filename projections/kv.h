// The narrow key-value interface every projection folds into. A projection sees only its own
// keyspace; behind it is the commit's RocksDB batch (live), a fresh column family (rebuild)
// or a map in memory (time travel, tests).
//
// Errors are values: a read that fails returns its Status, and so does a scan. Writes go to
// a batch in memory; a write the batch cannot take (it is full) is kept by the batch as its
// first error and fails the whole group when it is written (see store::Txn::status()), so a
// fold never half-applies.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  // Put, for a key this keyspace's fold has never read or written (one made from the event's
  // position): a fold's memory of its records (CachedKv) need not look for it.
  virtual void PutNew(std::string_view key, std::string_view value) { Put(key, value); }
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

// The keys a fold wrote into a family it began empty: a key never written is absent there, so
// its read need not reach the database (most of a rebuild's reads look for a record or an
// index entry it is about to create, which RocksDB answers through every memtable and level).
// Bloom filters of 10 bits a key and 7 probes (about 1 % of absent keys are read anyway, per
// filter); when one is full, another twice its size is added. Past `kBytesMax` it gives up
// and answers "may hold" for every key: reads go to the database again, as without it.
class WrittenKeys {
 public:
  void Add(std::string_view key) {
    if (given_up_) return;
    const uint64_t hash = HashOf(key);
    // A key written again takes no more room: the newest filter holds it already.
    if (!filters_.empty() && Holds(filters_.back(), hash)) return;
    if (filters_.empty() || filters_.back().added == filters_.back().capacity) {
      const size_t capacity = filters_.empty() ? kFirstCapacity : 2 * filters_.back().capacity;
      bytes_ += capacity * kBitsPerKey / 8;
      if (bytes_ > kBytesMax) {
        given_up_ = true;
        filters_.clear();
        filters_.shrink_to_fit();
        return;
      }
      filters_.push_back({std::vector<uint64_t>(capacity * kBitsPerKey / 64), capacity, 0});
    }
    Filter& filter = filters_.back();
    for (int i = 0; i < kProbes; ++i) {
      const uint64_t at = BitOf(filter, hash, i);
      filter.words[at / 64] |= uint64_t{1} << (at % 64);
    }
    ++filter.added;
  }

  bool MayHold(std::string_view key) const {
    if (given_up_) return true;
    const uint64_t hash = HashOf(key);
    return std::any_of(filters_.begin(), filters_.end(),
                       [&](const Filter& filter) { return Holds(filter, hash); });
  }

 private:
  static constexpr size_t kFirstCapacity = size_t{1} << 16;
  static constexpr size_t kBitsPerKey = 10;
  static constexpr int kProbes = 7;
  static constexpr size_t kBytesMax = size_t{64} << 20;
  struct Filter {
    std::vector<uint64_t> words;
    size_t capacity;
    size_t added;
  };

  static uint64_t HashOf(std::string_view key) { return std::hash<std::string_view>()(key); }
  // The key's `i`th bit in `filter`: double hashing over one 64-bit hash (the step is odd, so
  // the probes differ).
  static uint64_t BitOf(const Filter& filter, uint64_t hash, int i) {
    const uint64_t step = ((hash >> 32) | (hash << 32)) | 1;
    return (hash + static_cast<uint64_t>(i) * step) % (filter.words.size() * 64);
  }
  static bool Holds(const Filter& filter, uint64_t hash) {
    for (int i = 0; i < kProbes; ++i) {
      const uint64_t at = BitOf(filter, hash, i);
      if ((filter.words[at / 64] & (uint64_t{1} << (at % 64))) == 0) return false;
    }
    return true;
  }

  std::vector<Filter> filters_;
  size_t bytes_ = 0;
  bool given_up_ = false;
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
    // Set when the family began empty and only this fold writes it: see WrittenKeys.
    std::optional<WrittenKeys> written;

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
    if (memory_.written && !memory_.written->MayHold(key)) {
      memory_.Remember(key, std::nullopt, budget_);
      return std::optional<std::string>();
    }
    auto value = base_.Get(key);
    if (value.ok()) memory_.Remember(key, *value, budget_);
    return value;
  }
  void Put(std::string_view key, std::string_view value) override {
    base_.Put(key, value);
    memory_.Update(key, value);
    if (memory_.written) memory_.written->Add(key);
  }
  void PutNew(std::string_view key, std::string_view value) override {
    base_.Put(key, value);
    if (memory_.written) memory_.written->Add(key);
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
