// A projection is one pure fold, `Apply(kv, event)`, over a keyspace of its own. The same
// fold runs live inside each commit's WriteBatch, for a rebuild from position 1, and over a
// map in memory for time travel. Nothing else derives the state it holds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cledger/events.h"
#include "cledger/views.h"
#include "projections/kv.h"

namespace cledger::projections {

class Projection {
 public:
  virtual ~Projection() = default;
  // Stable: names its column family ("p.<name>.<generation>", see engine/store/FORMAT.md)
  // and appears in `projections status`.
  virtual std::string_view name() const = 0;
  // REQUIRES: events arrive in position order, each exactly once.
  // Fails only when the keyspace cannot be read; the caller then drops the whole batch.
  [[nodiscard]] virtual Status Apply(Kv& kv, const Event& event) const = 0;
  // Whether commands validate against it, so it must be folded inside every commit. Others
  // are folded just after, off the commit path, and may lag (queries wait for them).
  virtual bool Inline() const { return true; }
  // Raised whenever the fold keeps something new for the same events (a key, a field): a
  // family an older fold wrote is folded afresh, once, when the ledger is opened.
  virtual uint32_t FoldVersion() const { return 1; }
};

// Every projection, in the order they are applied.
const std::vector<const Projection*>& All();
const Projection* Find(std::string_view name);

// A view of `base` restricted to keys under `prefix` (the prefix is invisible to the user).
class PrefixedKv final : public Kv {
 public:
  PrefixedKv(Kv& base, std::string prefix) : base_(base), prefix_(std::move(prefix)) {}
  Result<std::optional<std::string>> Get(std::string_view key) override {
    return base_.Get(Full(key));
  }
  void Put(std::string_view key, std::string_view value) override { base_.Put(Full(key), value); }
  void PutNew(std::string_view key, std::string_view value) override {
    base_.PutNew(Full(key), value);
  }
  void Delete(std::string_view key) override { base_.Delete(Full(key)); }
  Status Scan(std::string_view prefix, const ScanFn& fn) override {
    return base_.Scan(Full(prefix), [&](std::string_view key, std::string_view value) {
      return fn(key.substr(prefix_.size()), value);
    });
  }

 private:
  std::string Full(std::string_view key) const { return prefix_ + std::string(key); }
  Kv& base_;
  std::string prefix_;
};

// `lp(tenant)` · rest: every tenant's keys live under their own prefix.
std::string TenantKey(std::string_view tenant, std::string_view rest = {});

// The System Information every record's fold keeps the same way.
void Touch(SystemInfo& system, const Event& event);

// Checkpoints (engine/store/FORMAT.md): at every kCheckpointEvery-th event of a record's
// stream, the record's fold also keeps the record as that event left it, so that time travel
// folds at most that many events of a long stream instead of all of them. Part of the fold:
// rebuilt and verified with the rest.
inline constexpr uint64_t kCheckpointEvery = 128;

struct Checkpoint {
  uint64_t version = 0;  // the last event of the stream it holds
  std::string key;       // the record's key and value, as the fold keeps them
  std::string value;
};

// Writes the record `event` left, `value`, under lp(tenant) · `id`, with its checkpoint when
// one is due; `erasure`: the stream's earlier checkpoints go first.
Status StoreRecord(Kv& kv, const Event& event, std::string_view id, std::string_view value,
                   bool erasure);
// The stream's newest checkpoint at or before `position`, if any.
Result<std::optional<Checkpoint>> LastCheckpoint(Kv& kv, std::string_view tenant,
                                                 std::string_view stream, uint64_t position);

}  // namespace cledger::projections
