#include <rocksdb/db.h>

#include <memory>
#include <vector>

#include "engine/store/info_log.h"
#include "engine/store/log_store.h"

namespace cledger::store {

std::map<std::string, uint64_t> FamilySizesOnDisk(const std::string& path) {
  rocksdb::Options options;
  options.info_log = NoInfoLog();
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, path, &names).ok()) return {};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw).ok()) {
    return {};
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string past_every_key(64, '\xff');
  const rocksdb::Range everything("", past_every_key);
  rocksdb::SizeApproximationOptions approx;
  approx.include_memtables = true;
  std::map<std::string, uint64_t> sizes;
  for (size_t i = 0; i < handles.size(); ++i) {
    uint64_t size = 0;
    if (db->GetApproximateSizes(approx, handles[i], &everything, 1, &size).ok()) {
      sizes[names[i]] = size;
    }
    (void)db->DestroyColumnFamilyHandle(handles[i]);
  }
  return sizes;
}

}  // namespace cledger::store
