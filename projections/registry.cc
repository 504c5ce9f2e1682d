#include <algorithm>

#include "base/keys.h"
#include "projections/views.h"

namespace cledger::projections {

const std::vector<const Projection*>& All() {
  static const std::vector<const Projection*> all = {&kTenants, &kCustomers, &kContacts,
                                                     &kLinks,   &kEmails,    &kAudit};
  return all;
}

const Projection* Find(std::string_view name) {
  for (const Projection* p : All()) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

std::string TenantKey(std::string_view tenant, std::string_view rest) {
  std::string key;
  base::AppendComponent(key, tenant);
  key.append(rest);
  return key;
}

void Touch(SystemInfo& system, const Event& event) {
  if (system.version == 0) system.created_us = event.recorded_at_us;
  system.last_modified_us = event.recorded_at_us;
  system.version = event.stream_version;
}

namespace {

// "\xfe" · lp(tenant) · lp(stream): after every record key (lp(tenant) starts with a byte below
// 0x81), before the applied marker ("\xff…").
std::string CheckpointPrefix(std::string_view tenant, std::string_view stream) {
  std::string key = "\xfe";
  base::AppendComponent(key, tenant);
  base::AppendComponent(key, stream);
  return key;
}

// Keeps the record (`key`, `value`) as a checkpoint when `event` is due one.
// Value: u64 version · u32 key length (big-endian) · key · value.
void KeepCheckpoint(Kv& kv, const Event& event, std::string_view key, std::string_view value) {
  if (event.stream_version % kCheckpointEvery != 0) return;
  std::string copy = base::U64Key(event.stream_version);
  for (int shift = 24; shift >= 0; shift -= 8) {
    copy.push_back(static_cast<char>((key.size() >> shift) & 0xFF));
  }
  copy.append(key);
  copy.append(value);
  kv.Put(CheckpointPrefix(event.tenant, event.stream) + base::U64Key(event.position), copy);
}

// An erasure leaves no earlier copy of the record: drops every checkpoint of its stream.
Status DropCheckpoints(Kv& kv, const Event& event) {
  std::vector<std::string> keys;
  const std::string prefix = CheckpointPrefix(event.tenant, event.stream);
  Status scanned = kv.Scan(prefix, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  for (const std::string& key : keys) kv.Delete(key);
  return scanned;
}

}  // namespace

Status StoreRecord(Kv& kv, const Event& event, std::string_view id, std::string_view value,
                   bool erasure) {
  if (erasure) {
    if (Status s = DropCheckpoints(kv, event); !s.ok()) return s;
  }
  const std::string key = TenantKey(event.tenant, id);
  kv.Put(key, value);
  KeepCheckpoint(kv, event, key, value);
  return Status::Ok();
}

Result<std::optional<Checkpoint>> LastCheckpoint(Kv& kv, std::string_view tenant,
                                                 std::string_view stream, uint64_t position) {
  std::optional<Checkpoint> last;
  bool intact = true;
  const std::string prefix = CheckpointPrefix(tenant, stream);
  Status scanned = kv.Scan(prefix, [&](std::string_view key, std::string_view value) {
    if (base::DecodeU64(key.substr(prefix.size())) > position) return false;
    size_t length = 0;
    intact = value.size() >= 12;
    for (size_t i = 8; intact && i < 12; ++i) length = length << 8 | static_cast<uint8_t>(value[i]);
    intact = intact && value.size() >= 12 + length;
    if (!intact) return false;
    last = Checkpoint{base::DecodeU64(value.substr(0, 8)), std::string(value.substr(12, length)),
                      std::string(value.substr(12 + length))};
    return true;
  });
  if (!scanned.ok()) return scanned;
  if (!intact) return Status::Corruption("corrupt_state", "a checkpoint does not decode");
  return last;
}

}  // namespace cledger::projections
