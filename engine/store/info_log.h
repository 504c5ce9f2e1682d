// RocksDB's own log of what it does (each open's options, flushes, compactions, errors): LOG
// in the database's directory, written so that a line the disk cannot take is lost and
// nothing else. RocksDB's logger buffers lines and, once a flush of them has failed, asserts
// on the next line (Debian's build keeps assertions): a full disk under a background flush
// aborted the server that way.
#pragma once

#include <rocksdb/env.h>

#include <memory>
#include <string>

#include "cledger/limits.h"

namespace cledger::store {

// Appends to `dir`/LOG through `env`'s file system (RocksDB's default when null). A LOG that
// reaches `max_bytes`, at the open or while it is written, becomes LOG.old and a new LOG is
// started, so a ledger keeps at most two.
// `create`: the database is about to be created there, so is the directory (as RocksDB
// would: its last component only). Otherwise a directory that does not exist gets no log (its
// open fails anyway).
std::shared_ptr<rocksdb::Logger> OpenInfoLog(rocksdb::Env* env, const std::string& dir, bool create,
                                             uint64_t max_bytes = limits::kInfoLogBytesMax);

// For a read-only look at a directory a server may be writing: RocksDB would otherwise roll
// that server's LOG away to write its own.
std::shared_ptr<rocksdb::Logger> NoInfoLog();

}  // namespace cledger::store
