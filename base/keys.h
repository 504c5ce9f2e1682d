// The encodings engine/store/FORMAT.md specifies, shared by the store's keys, the projections'
// keys and the head record. They are part of the on-disk format: never change one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cledger::base {

// `u64`: 8 bytes, big-endian, so that byte order is numeric order.
std::string U64Key(uint64_t value);
// REQUIRES: bytes.size() >= 8.
uint64_t DecodeU64(std::string_view bytes);
// `lp(s)`: one byte of length, then the bytes. REQUIRES: part.size() < 256.
void AppendComponent(std::string& key, std::string_view part);
// A key for people: its text, components and trailing number apart, e.g.
// "e\x04acme" + U64Key(12) → "e · acme · 12"; a byte that is neither is shown as \xNN.
std::string ReadableKey(std::string_view key);

// The value of `"head"` in the `default` family: u64 position · 32-byte hash · u64
// recorded_at_us of the last event · u64 commits in the ledger.
struct HeadRecord {
  uint64_t position = 0;
  std::array<uint8_t, 32> hash{};
  int64_t last_recorded_at_us = 0;
  uint64_t commits = 0;
};
inline constexpr size_t kHeadRecordBytes = 8 + 32 + 8 + 8;

std::string EncodeHeadRecord(const HeadRecord& head);
// nullopt unless `bytes` is exactly kHeadRecordBytes long.
std::optional<HeadRecord> DecodeHeadRecord(std::string_view bytes);

}  // namespace cledger::base
