// cledger cluster import: a single-node ledger pushed into partition 0 of a new cluster with
// the same positions, bytes and hashes (docs/CLUSTER.md, "Importing a ledger").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "cledger/status.h"
#include "engine/cluster/pg.h"

namespace cledger::cluster {

struct ImportOptions {
  std::string data_dir;         // the closed single-node ledger
  std::string key_store_dir;    // its key store
  std::string master_key_file;  // its master key, which the cluster's nodes will share
  std::function<void(uint64_t position)> progress;
};

// Refused unless the cluster holds no event yet and no node owns partition 0 (import before
// starting the nodes); the ledger's tenants are pinned to partition 0.
Status ImportLedger(Pg& pg, const ImportOptions& options);

}  // namespace cledger::cluster
