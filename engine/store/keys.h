// Key encodings of the RocksDB column families; FORMAT.md is their specification.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cledger::store {

// Column family names. Never renamed: they are part of the on-disk format.
inline constexpr char kCfMeta[] = "default";
inline constexpr char kCfLog[] = "log";
inline constexpr char kCfStreams[] = "streams";
inline constexpr char kCfIdempotency[] = "idempotency";

inline constexpr char kMetaHead[] = "head";
inline constexpr char kMetaFormat[] = "format";
inline constexpr char kFormatVersion[] = "1";

// 8 bytes, big-endian, so that byte order is numeric order.
std::string U64Key(uint64_t value);
// REQUIRES: bytes.size() >= 8.
uint64_t DecodeU64(std::string_view bytes);
// A length-prefixed component: one byte of length, then the bytes. REQUIRES: size < 256.
void AppendComponent(std::string& key, std::string_view part);

std::string LogKey(uint64_t position);
std::string StreamHeadKey(std::string_view tenant, std::string_view stream);
std::string StreamEventKey(std::string_view tenant, std::string_view stream, uint64_t version);
std::string IdempotencyKey(std::string_view tenant, std::string_view key);

}  // namespace cledger::store
