// The cluster's tables in PostgreSQL (docs/CLUSTER.md, "Schema") and the placement of tenants.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cledger/ledger.h"
#include "cledger/status.h"
#include "engine/cluster/pg.h"

namespace cledger::cluster {

// Creates the schema for `partitions` partitions; a cluster already made with as many is
// left as it is, one with another count is refused.
Status InitSchema(Pg& pg, int partitions);
// The partition count the schema was made with; NotFound before InitSchema.
Result<int> PartitionCount(Pg& pg);
// Where a tenant's events live when it is not pinned (PinnedTenants): a stable hash of its
// name. The ops tenant "" lives in 0.
int PartitionOfTenant(const std::string& tenant, int partitions);
// The statements that append `group` to partition `part` of the log of record, to run in one
// transaction: its events at their positions (with the commits' idempotency records), the
// data keys it made, and the deletion of the keys its erasures destroyed. A data key lives in
// PostgreSQL wrapped under the shared master key, from the group that made it (a follower
// fetches it with the events from that position on) until the erasure that destroys it.
Result<std::vector<PgStatement>> AppendStatements(int part, const ReplicaGroup& group);
// The tenants pinned to a partition (cledger_tenants).
Result<std::map<std::string, int>> PinnedTenants(Pg& pg);
// Every node keys its idempotency fingerprints and token digests with the master key, and
// reads what other nodes recorded under it: they must share it. The first to ask records the
// key's id (the key file at `path`, created when missing); another key is refused
// (kConflict "master_key_mismatch").
Status CheckSharedMasterKey(Pg& pg, const std::string& path);

}  // namespace cledger::cluster
