// What the engine's own tests and simulations may do and its users may not: open an engine on
// a given RocksDB environment (how fault tests make the disk fail on purpose under the whole
// engine), and append raw events past every rule (how a test builds a log the rules would
// never write). The public API (cledger/engine.h) carries neither, nor any RocksDB type.
#pragma once

#include <rocksdb/env.h>

#include <memory>

#include "cledger/engine.h"
#include "engine/store/raw_ledger.h"

namespace cledger {

// As Engine::Open, with every file of the data directory going through `env` (nullptr:
// RocksDB's default). REQUIRES: `env` outlives the engine.
Result<std::unique_ptr<Engine>> OpenEngineOnEnv(const LedgerOptions& options, rocksdb::Env* env);

// The engine's ledger with raw appends. REQUIRES: `engine` came from Engine::Open or
// OpenEngineOnEnv.
RawLedger& RawLedgerOf(Engine& engine);

}  // namespace cledger
