#include "engine/cluster/import.h"

#include <set>

#include "engine/cluster/schema.h"
#include "engine/domain/credentials.h"
#include "engine/store/export.h"

namespace cledger::cluster {
namespace {

constexpr size_t kEventsPerTransaction = 1000;

Status InsertGroup(Pg& pg, const ReplicaGroup& group, std::set<std::string>& tenants) {
  for (const ReplicaEvent& e : group.events) {
    auto event = DecodeEvent(e.bytes);
    if (!event.ok()) return event.status();
    if (!event->tenant.empty()) tenants.insert(event->tenant);
  }
  auto statements = AppendStatements(0, group);
  if (!statements.ok()) return statements.status();
  return pg.RunPipeline(*statements);  // one transaction
}

// The ledger's own master key, and the one the cluster's nodes share.
Status CheckMasterKey(Pg& pg, const ImportOptions& options) {
  auto recorded = store::RecordedMasterKeyId(options.data_dir);
  if (!recorded.ok()) return recorded.status();
  auto keys = domain::CredentialKeys::Load(options.master_key_file, /*create=*/false);
  if (!keys.ok()) return keys.status();
  if (!*keys || (!recorded->empty() && (*keys)->KeyId() != *recorded)) {
    return Status(Code::kConflict, "master_key_mismatch",
                  options.master_key_file + " is not the master key " + options.data_dir +
                      " was recorded under: give its own with --master-key-file");
  }
  return CheckSharedMasterKey(pg, options.master_key_file);
}

}  // namespace

Status ImportLedger(Pg& pg, const ImportOptions& options) {
  if (auto count = PartitionCount(pg); !count.ok()) return count.status();
  if (Status s = CheckMasterKey(pg, options); !s.ok()) return s;
  auto existing = pg.Exec("SELECT EXISTS (SELECT 1 FROM cledger_events)");
  if (!existing.ok()) return existing.status();
  if (existing->Bool(0, 0)) {
    return Status(Code::kConflict, "cluster_not_empty",
                  "the cluster already holds events: import into a new one");
  }
  // Held for the whole import, so no node starts appending to partition 0 meanwhile.
  auto lease = pg.Exec(
      "UPDATE cledger_leases SET owner = 'cledger-import', url = '', epoch = epoch + 1, "
      "expires_at = 'infinity' WHERE part = 0 AND (expires_at < clock_timestamp()) "
      "RETURNING epoch");
  if (!lease.ok()) return lease.status();
  if (lease->size() != 1) {
    return Status(Code::kConflict, "partition_owned",
                  "a node owns partition 0: import before starting the nodes");
  }
  std::set<std::string> tenants;
  Status imported = store::ExportLog(options.data_dir, options.key_store_dir, kEventsPerTransaction,
                                     [&](ReplicaGroup&& group) {
                                       if (Status s = pg.Run("BEGIN"); !s.ok()) return s;
                                       if (Status s = InsertGroup(pg, group, tenants); !s.ok()) {
                                         (void)pg.Run("ROLLBACK");
                                         return s;
                                       }
                                       if (Status s = pg.Run("COMMIT"); !s.ok()) return s;
                                       if (options.progress)
                                         options.progress(group.events.back().position);
                                       return Status::Ok();
                                     });
  for (const std::string& tenant : tenants) {
    if (!imported.ok()) break;
    imported = pg.Run("INSERT INTO cledger_tenants VALUES ($1::text, 0) ON CONFLICT DO NOTHING",
                      {PgParam::Bytes(tenant)});
  }
  Status released = pg.Run(
      "UPDATE cledger_leases SET owner = NULL, url = NULL, expires_at = '-infinity' WHERE "
      "part = 0 AND owner = 'cledger-import'");
  return imported.ok() ? released : imported;
}

}  // namespace cledger::cluster
