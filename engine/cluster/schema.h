// The cluster's tables in PostgreSQL (docs/CLUSTER.md, "Schema") and the placement of tenants.
#pragma once

#include <cstdint>
#include <string>

#include "cledger/status.h"
#include "engine/cluster/pg.h"

namespace cledger::cluster {

// Creates the schema for `partitions` partitions; a cluster already made with as many is
// left as it is, one with another count is refused.
Status InitSchema(Pg& pg, int partitions);
// The partition count the schema was made with; NotFound before InitSchema.
Result<int> PartitionCount(Pg& pg);
// Where a tenant's events live: the one pinned in cledger_tenants (an import pins its
// tenants to partition 0), else a stable hash of its name. The ops tenant "" lives in 0.
int PartitionOfTenant(const std::string& tenant, int partitions);

}  // namespace cledger::cluster
