// Every limit of the engine, in one place. Exceeding one is a clear error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cledger::limits {

inline constexpr size_t kEventBytesMax = 64 * 1024;       // one encoded event
inline constexpr size_t kEventsPerCommitMax = 1024;       // one command's events
inline constexpr size_t kIdBytesMax = 128;                // tenant, stream, ids, keys
inline constexpr size_t kReadBatchMax = 10'000;           // events returned by one read
inline constexpr size_t kCommitsPerGroupMax = 512;        // commits sharing one WAL sync
inline constexpr size_t kGroupBytesMax = 8 * 1024 * 1024; // bytes sharing one WAL sync
inline constexpr size_t kPendingCommitsMax = 16 * 1024;   // commits queued for the writer
inline constexpr size_t kCachedStreamsMax = 1 << 20;      // stream versions kept in memory
// Contacts one customer holds: its direct contacts that are not deleted and every shared
// contact linked to it. Deleting a customer appends one event for each and one for itself, in
// one commit, so that commit always fits.
inline constexpr size_t kContactsPerCustomerMax = 1000;
static_assert(kContactsPerCustomerMax + 1 <= kEventsPerCommitMax);

}  // namespace cledger::limits
