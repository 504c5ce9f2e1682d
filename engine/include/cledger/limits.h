// Every limit of the engine, in one place. Exceeding one is a clear error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cledger::limits {

inline constexpr size_t kEventBytesMax = 64 * 1024;        // one encoded event
inline constexpr size_t kEventsPerCommitMax = 1024;        // one command's events
inline constexpr size_t kIdBytesMax = 128;                 // tenant, stream, ids, keys
inline constexpr size_t kReadBatchMax = 10'000;            // events returned by one read
inline constexpr size_t kCommitsPerGroupMax = 512;         // commits sharing one WAL sync
inline constexpr size_t kGroupBytesMax = 8 * 1024 * 1024;  // bytes sharing one WAL sync
inline constexpr size_t kPendingCommitsMax = 16 * 1024;    // commits queued for the writer
inline constexpr size_t kCachedStreamsMax = 1 << 16;       // stream versions kept in memory
// Records of each inline projection the writer remembers for the rules (CommittedMemory).
inline constexpr size_t kWriterMemoryPerProjectionBytes = 16u << 20;
// The newest events, decoded once and shared by the readers that follow the head.
inline constexpr uint64_t kRecentEventsWindow = 8192;       // positions behind the head
inline constexpr size_t kRecentEventsBytesMax = 16u << 20;  // what they may weigh
// RocksDB's memory, shared by every column family however many projections there are:
// table blocks, their indexes and filters in one LRU cache (without it every table's index
// stays in memory, growing with the data), memtables under one budget.
inline constexpr size_t kBlockCacheBytes = 64u << 20;
inline constexpr size_t kMemtableBytesMax = 128u << 20;
// Contacts one customer holds: its direct contacts that are not deleted and every shared
// contact linked to it. Deleting a customer appends one event for each and one for itself, in
// one commit, so that commit always fits.
inline constexpr size_t kContactsPerCustomerMax = 1000;
static_assert(kContactsPerCustomerMax + 1 <= kEventsPerCommitMax);

// The longest lifetime a token may be issued with (10 years); without one it never expires.
inline constexpr int64_t kTokenLifetimeMaxSeconds = 10ll * 366 * 24 * 3600;

// Storage faults. After a failed write nothing is written until the ledger has reopened its
// database, tried once per kRecoveryPollMs; meanwhile writes answer 503 with Retry-After.
inline constexpr int64_t kRecoveryPollMs = 1'000;
inline constexpr int64_t kReopenWaitMs = 200;          // a reopen waits this long for readers
inline constexpr int64_t kReleaseDroppedWaitMs = 100;  // so does freeing dropped families
inline constexpr uint32_t kRetryAfterSeconds = 1;      // told to clients refused meanwhile
// A group is written only while the data directory keeps this much free beyond the group's
// own bytes: room for the memtable flushes and compactions the write will cause, so RocksDB
// itself never meets a full disk. `cledger serve --min-free-mb` overrides it.
inline constexpr uint64_t kMinFreeBytesDefault = 64ull << 20;
// RocksDB's info log (LOG) grows across opens up to this, then is kept once as LOG.old.
inline constexpr uint64_t kInfoLogBytesMax = 64ull << 20;

// Positions reserved on disk ahead of the head (one fsync per this many commits): an
// accepted loss of the WAL's end can lose at most these, and never reuses them.
inline constexpr uint64_t kPositionsReservedAhead = 65536;

}  // namespace cledger::limits
