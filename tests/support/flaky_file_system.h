// A RocksDB file system whose write-ahead log fails on demand, as a full or broken disk
// would: appends answer NoSpace and syncs IOError while `failing` is set. Counts the
// failures it injected.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>
#include <string>

namespace cledger::testing {

class FlakyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FlakyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FlakyFileSystem"; }

  std::atomic<bool> failing{false};
  std::atomic<uint64_t> injected{0};  // failed appends and syncs

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && name.ends_with(".log")) *result = std::make_unique<File>(std::move(*result), *this);
    return s;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> file, FlakyFileSystem& fs)
        : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_.Fail()) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_.Fail()) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (fs_.Fail()) return rocksdb::IOStatus::IOError("injected: sync failed");
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
      if (fs_.Fail()) return rocksdb::IOStatus::IOError("injected: sync failed");
      return target()->Fsync(options, dbg);
    }

   private:
    FlakyFileSystem& fs_;
  };

  bool Fail() {
    if (!failing) return false;
    ++injected;
    return true;
  }
};

}  // namespace cledger::testing
