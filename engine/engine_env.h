// Opening an engine on a given RocksDB environment: how simulations and fault tests make the
// disk fail on purpose under the whole engine. Private to the engine and its tests; the
// public API (cledger/engine.h) carries no RocksDB type.
#pragma once

#include <rocksdb/env.h>

#include <memory>

#include "cledger/engine.h"

namespace cledger {

// As Engine::Open, with every file of the data directory going through `env` (nullptr:
// RocksDB's default). REQUIRES: `env` outlives the engine.
Result<std::unique_ptr<Engine>> OpenEngineOnEnv(const LedgerOptions& options, rocksdb::Env* env);

}  // namespace cledger
