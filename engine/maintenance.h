// Ops work on a whole engine: its statistics and its backups. Each runs while commits go on.
#pragma once

#include <string>

#include "cledger/engine.h"
#include "engine/projection_host.h"
#include "engine/store/log_store.h"

namespace cledger {

// The head, the ledger's counters, the records of every tenant and the bytes of `data_dir`.
Result<EngineStats> CollectStats(store::LogStore& store, ProjectionHost& host,
                                 const std::string& data_dir);

// As Engine::Backup.
Status CreateBackup(store::LogStore& store, const std::string& backup_dir);

}  // namespace cledger
