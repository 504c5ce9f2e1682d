// Key encodings of the RocksDB column families; FORMAT.md is their specification. The
// encodings they are made of (u64, lp(s), the head record) are base/keys.h.
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
inline constexpr char kCfTree[] = "tree";
inline constexpr char kCfRequests[] = "requests";

inline constexpr char kMetaHead[] = "head";
inline constexpr char kMetaFormat[] = "format";
inline constexpr char kMetaMasterKeyId[] = "master-key-id";
inline constexpr char kMetaKeyStoreId[] = "key-store-id";
inline constexpr char kMetaRequestsIndexed[] = "requests-indexed";
inline constexpr char kMetaSubjectKeyPrefix[] = "data-key/";
inline constexpr char kFormatVersion[] = "1";

std::string LogKey(uint64_t position);
std::string StreamHeadKey(std::string_view tenant, std::string_view stream);
std::string StreamEventKey(std::string_view tenant, std::string_view stream, uint64_t version);
std::string IdempotencyKey(std::string_view tenant, std::string_view key);
// The `requests` family's key: an idempotency key under the stream its commit targets.
std::string RequestKey(std::string_view tenant, std::string_view stream, std::string_view key);
// The `default` family's record of a subject's data key; `subject` is lp(tenant) · stream.
std::string SubjectKeyIdKey(std::string_view subject);
// The Merkle tree's perfect subtree of leaves [index · 2^level, (index + 1) · 2^level).
std::string TreeKey(int level, uint64_t index);

}  // namespace cledger::store
