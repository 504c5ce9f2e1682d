#include "engine/cluster/schema.h"

#include "cledger/events.h"
#include "engine/domain/credentials.h"
#include "events/personal.h"

namespace cledger::cluster {

Status InitSchema(Pg& pg, int partitions) {
  if (partitions < 1 || partitions > 1024) {
    return Status::InvalidArgument("invalid_partitions", "a cluster has 1 to 1024 partitions");
  }
  static const char* kTables[] = {
      "CREATE TABLE IF NOT EXISTS cledger_settings (name text PRIMARY KEY, value text NOT NULL)",
      // The log of record: each partition's events as the owner chained and encoded them.
      "CREATE TABLE IF NOT EXISTS cledger_events (part int8 NOT NULL, position int8 NOT NULL, "
      "bytes bytea NOT NULL, commit_end bool NOT NULL, idem_key bytea, idem_value bytea, "
      "PRIMARY KEY (part, position))",
      // One writer per partition: the owner renews its lease; a successor takes an expired
      // one with the next epoch, and every append checks epoch and expiry in its transaction.
      "CREATE TABLE IF NOT EXISTS cledger_leases (part int8 PRIMARY KEY, owner text, "
      "url text, epoch int8 NOT NULL DEFAULT 0, "
      "expires_at timestamptz NOT NULL DEFAULT '-infinity')",
      "CREATE TABLE IF NOT EXISTS cledger_nodes (node text PRIMARY KEY, url text NOT NULL, "
      "seen_at timestamptz NOT NULL)",
      "CREATE TABLE IF NOT EXISTS cledger_tenants (tenant text PRIMARY KEY, part int8 NOT NULL)",
      // The data keys of personal data, wrapped under the master key the nodes share, from
      // the group that made each until the erasure that destroys it.
      "CREATE TABLE IF NOT EXISTS cledger_data_keys (part int8 NOT NULL, key_id text NOT NULL, "
      "position int8 NOT NULL, subject bytea NOT NULL, wrapped bytea NOT NULL, "
      "PRIMARY KEY (part, key_id))",
      "CREATE INDEX IF NOT EXISTS cledger_data_keys_position ON cledger_data_keys (part, "
      "position)",
  };
  if (Status s = pg.Run("BEGIN"); !s.ok()) return s;
  for (const char* sql : kTables) {
    if (Status s = pg.Run(sql); !s.ok()) return s;
  }
  auto existing = PartitionCount(pg);
  if (existing.ok() && *existing != partitions) {
    (void)pg.Run("ROLLBACK");
    return Status(Code::kConflict, "cluster_exists",
                  "this cluster was made with " + std::to_string(*existing) + " partitions");
  }
  if (!existing.ok()) {
    if (Status s = pg.Run("INSERT INTO cledger_settings VALUES ('partitions', $1::text)",
                          {PgParam::Bytes(std::to_string(partitions))});
        !s.ok()) {
      return s;
    }
    for (int p = 0; p < partitions; ++p) {
      if (Status s =
              pg.Run("INSERT INTO cledger_leases (part) VALUES ($1::int8)", {PgParam::Int(p)});
          !s.ok()) {
        return s;
      }
    }
  }
  return pg.Run("COMMIT");
}

Result<int> PartitionCount(Pg& pg) {
  auto rows = pg.Exec("SELECT value FROM cledger_settings WHERE name = 'partitions'");
  if (!rows.ok()) return rows.status();
  if (rows->size() == 0) {
    return Status::NotFound("cluster_not_initialised", "run `cledger cluster init` first");
  }
  return std::stoi(std::string(rows->Bytes(0, 0)));
}

Status CheckSharedMasterKey(Pg& pg, const std::string& path) {
  auto keys = domain::CredentialKeys::LoadOrCreate(path);
  if (!keys.ok()) return keys.status();
  const std::string id = keys->KeyId();
  auto recorded = pg.Exec(
      "INSERT INTO cledger_settings VALUES ('master_key_id', $1::text) ON CONFLICT (name) DO "
      "UPDATE SET value = cledger_settings.value RETURNING value",
      {PgParam::Bytes(id)});
  if (!recorded.ok()) return recorded.status();
  if (recorded->Bytes(0, 0) != id) {
    return Status(Code::kConflict, "master_key_mismatch",
                  "this cluster's nodes share the master key " +
                      std::string(recorded->Bytes(0, 0)) + "; " + path + " holds " + id +
                      ": give every node the same --master-key-file");
  }
  return Status::Ok();
}

namespace {

constexpr size_t kRowsPerInsert = 1000;  // 6 parameters a row, under libpq's 65,535

// The placeholders of row `row` of a multi-row VALUES, one per type: ($n::type, …).
std::string Placeholders(size_t row, const std::vector<const char*>& types) {
  std::string out = "(";
  for (size_t i = 0; i < types.size(); ++i) {
    out += "$" + std::to_string(row * types.size() + i + 1) + "::" + types[i];
    out += i + 1 < types.size() ? "," : ")";
  }
  return out;
}

}  // namespace

Result<std::vector<PgStatement>> AppendStatements(int part, const ReplicaGroup& group) {
  std::vector<PgStatement> out;
  const std::vector<const char*> event_types{"int8", "int8", "bytea", "bool", "bytea", "bytea"};
  for (size_t start = 0; start < group.events.size(); start += kRowsPerInsert) {
    PgStatement insert{
        "INSERT INTO cledger_events (part, position, bytes, commit_end, idem_key, idem_value) "
        "VALUES ",
        {}};
    const size_t end = std::min(group.events.size(), start + kRowsPerInsert);
    for (size_t i = start; i < end; ++i) {
      const ReplicaEvent& e = group.events[i];
      const bool record = !e.idempotency_key.empty();
      insert.sql += (i == start ? "" : ",") + Placeholders(i - start, event_types);
      insert.params.push_back(PgParam::Int(part));
      insert.params.push_back(PgParam::Int(static_cast<int64_t>(e.position)));
      insert.params.push_back(PgParam::Bytes(e.bytes));
      insert.params.push_back({std::string(1, e.commit_end ? '\1' : '\0')});
      insert.params.push_back(record ? PgParam::Bytes(e.idempotency_key) : PgParam::Null());
      insert.params.push_back(record ? PgParam::Bytes(e.idempotency_value) : PgParam::Null());
    }
    out.push_back(std::move(insert));
  }
  const std::vector<const char*> key_types{"int8", "text", "int8", "bytea", "bytea"};
  for (size_t start = 0; start < group.data_keys.size(); start += kRowsPerInsert) {
    PgStatement insert{
        "INSERT INTO cledger_data_keys (part, key_id, position, subject, wrapped) VALUES ", {}};
    const size_t end = std::min(group.data_keys.size(), start + kRowsPerInsert);
    for (size_t i = start; i < end; ++i) {
      const ReplicaDataKey& key = group.data_keys[i];
      insert.sql += (i == start ? "" : ",") + Placeholders(i - start, key_types);
      insert.params.push_back(PgParam::Int(part));
      insert.params.push_back(PgParam::Bytes(key.key_id));
      insert.params.push_back(PgParam::Int(static_cast<int64_t>(group.events.front().position)));
      insert.params.push_back(PgParam::Bytes(key.subject));
      insert.params.push_back(PgParam::Bytes(key.wrapped));
    }
    out.push_back(std::move(insert));
  }
  for (const ReplicaEvent& replica : group.events) {
    auto event = DecodeEvent(replica.bytes);
    if (!event.ok()) return event.status();
    const std::string* erased = events::ErasedKeyId(event->body);
    if (erased == nullptr || erased->empty()) continue;
    out.push_back({"DELETE FROM cledger_data_keys WHERE part = $1::int8 AND key_id = $2::text",
                   {PgParam::Int(part), PgParam::Bytes(*erased)}});
  }
  if (!group.forgotten_requests.empty()) {  // after the inserts: this group's may be among them
    std::string positions;
    for (uint64_t position : group.forgotten_requests) {
      positions += (positions.empty() ? "{" : ",") + std::to_string(position);
    }
    out.push_back(
        {"UPDATE cledger_events SET idem_key = NULL, idem_value = NULL "
         "WHERE part = $1::int8 AND position = ANY($2::text::int8[])",
         {PgParam::Int(part), PgParam::Bytes(positions + "}")}});
  }
  return out;
}

Result<std::map<std::string, int>> PinnedTenants(Pg& pg) {
  auto rows = pg.Exec("SELECT tenant, part FROM cledger_tenants");
  if (!rows.ok()) return rows.status();
  std::map<std::string, int> pinned;
  for (int r = 0; r < rows->size(); ++r) {
    pinned[std::string(rows->Bytes(r, 0))] = static_cast<int>(rows->Int(r, 1));
  }
  return pinned;
}

int PartitionOfTenant(const std::string& tenant, int partitions) {
  if (tenant.empty() || partitions <= 1) return 0;
  const std::string digest = Sha256Hex("cledger-partition\n" + tenant);
  return static_cast<int>(std::stoull(digest.substr(0, 12), nullptr, 16) %
                          static_cast<uint64_t>(partitions));
}

}  // namespace cledger::cluster
