#include <filesystem>
#include <map>

#include "engine/maintenance.h"
#include "engine/snapshot.h"
#include "projections/views.h"

namespace cledger {

Result<EngineStats> CollectStats(store::LogStore& store, ProjectionHost& host,
                                 const std::string& data_dir) {
  namespace pj = projections;
  EngineStats stats;
  stats.head = store.GetHead();
  stats.ledger = store.Stats();
  Snapshot snap(store, host);
  Status scanned = snap.Kv(pj::kTenants).Scan("t", [&](std::string_view, std::string_view) {
    ++stats.tenants;
    return true;
  });
  if (!scanned.ok()) return scanned;
  auto count = [&](const pj::Projection& p, uint64_t& n) {
    // Record keys start with lp(tenant): a length byte, never the applied marker's 0xff.
    return snap.Kv(p).Scan("", [&](std::string_view key, std::string_view) {
      n += static_cast<uint8_t>(key[0]) < 0x80;
      return true;
    });
  };
  if (Status s = count(pj::kCustomers, stats.customers); !s.ok()) return s;
  if (Status s = count(pj::kContacts, stats.contacts); !s.ok()) return s;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data_dir, ec)) {
    if (entry.is_regular_file(ec)) stats.size_bytes += entry.file_size(ec);
  }
  return stats;
}

bool Engine::MeasureProjections(const std::string& data_dir,
                                std::vector<ProjectionStatus>& statuses) {
  const std::map<std::string, uint64_t> sizes = store::FamilySizesOnDisk(data_dir);
  if (sizes.empty()) return false;
  for (ProjectionStatus& p : statuses) {
    auto size = sizes.find(ProjectionHost::FamilyName(p.name, p.generation));
    if (size != sizes.end()) p.size_bytes = size->second;
  }
  return true;
}

}  // namespace cledger
