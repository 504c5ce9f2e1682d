// A closed ledger's RocksDB database opened directly, as someone with the disk would.
#pragma once

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace cledger::testing {

// A closed ledger's RocksDB database opened directly, with every column family.
struct ClosedLedgerDb {
  explicit ClosedLedgerDb(const std::string& path, bool writable = false) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    REQUIRE(rocksdb::DB::ListColumnFamilies({}, path, &names).ok());
    for (const std::string& name : names) families.push_back({name, {}});
    rocksdb::DB* raw = nullptr;
    REQUIRE((writable ? rocksdb::DB::Open({}, path, families, &handles, &raw)
                      : rocksdb::DB::OpenForReadOnly({}, path, families, &handles, &raw))
                .ok());
    db.reset(raw);
  }
  ~ClosedLedgerDb() {
    for (auto* handle : handles) (void)db->DestroyColumnFamilyHandle(handle);
  }
  rocksdb::ColumnFamilyHandle* Family(const std::string& name) const {
    const auto it = std::find(names.begin(), names.end(), name);
    REQUIRE(it != names.end());
    return handles[static_cast<size_t>(it - names.begin())];
  }
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  std::unique_ptr<rocksdb::DB> db;
};

}  // namespace cledger::testing
