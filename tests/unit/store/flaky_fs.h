// A file system that fails on purpose, as a full or broken disk would: writes and syncs of
// the write-ahead log while `failing` is set (and of the table files too while
// `tables_failing` is: no flush can save a memtable then; and of RocksDB's info log, LOG,
// while `info_log_failing` is; opening it fails while `info_log_unopenable` is), and reads of the
// table files named in `unreadable` (a bad sector under one column family's data).
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>

namespace cledger::testing {

class FlakyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FlakyFileSystem(std::atomic<bool>& failing)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), failing_(failing) {}
  const char* Name() const override { return "FlakyFileSystem"; }
  std::atomic<bool> tables_failing{false};
  std::atomic<bool> info_log_failing{false};
  std::atomic<bool> info_log_unopenable{false};  // LOG cannot be opened (again) while set

  // Reads of table files whose name ends with one of `names` fail from now on.
  void MakeUnreadable(std::set<std::string> names) {
    std::lock_guard lock(mu_);
    unreadable_ = std::move(names);
  }
  bool Unreadable(const std::string& file) {
    std::lock_guard lock(mu_);
    for (const std::string& name : unreadable_) {
      if (file.ends_with(name)) return true;
    }
    return false;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, result, dbg);
    if (s.ok() && name.ends_with(".log")) {
      *result = std::make_unique<FlakyFile>(std::move(*result), failing_);
    }
    if (s.ok() && name.ends_with(".sst")) {
      *result = std::make_unique<FlakyFile>(std::move(*result), tables_failing);
    }
    if (s.ok() && name.ends_with("/LOG")) {
      *result = std::make_unique<FlakyFile>(std::move(*result), info_log_failing);
    }
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    if (info_log_unopenable && name.ends_with("/LOG")) {
      return rocksdb::IOStatus::IOError("injected: cannot open " + name);
    }
    rocksdb::IOStatus s = target()->ReopenWritableFile(name, options, result, dbg);
    if (s.ok() && name.ends_with("/LOG")) {
      *result = std::make_unique<FlakyFile>(std::move(*result), info_log_failing);
    }
    return s;
  }
  // RocksDB's own info log made over this file system's files: the wrapper would hand the
  // call to the default file system, whose LOG never fails.
  rocksdb::IOStatus NewLogger(const std::string& name, const rocksdb::IOOptions& options,
                              std::shared_ptr<rocksdb::Logger>* result,
                              rocksdb::IODebugContext* dbg) override {
    return rocksdb::FileSystem::NewLogger(name, options, result, dbg);
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewRandomAccessFile(name, options, result, dbg);
    if (s.ok() && name.ends_with(".sst")) {
      *result = std::make_unique<FlakyTable>(std::move(*result), *this, name);
    }
    return s;
  }

 private:
  class FlakyFile final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    FlakyFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::atomic<bool>& failing)
        : FSWritableFileOwnerWrapper(std::move(file)), failing_(failing) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
      if (failing_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, options, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* dbg) override {
      if (failing_) return rocksdb::IOStatus::NoSpace("injected: disk full");
      return target()->Append(data, options, info, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
      if (failing_) return rocksdb::IOStatus::IOError("injected: sync failed");
      return target()->Sync(options, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* dbg) override {
      if (failing_) return rocksdb::IOStatus::IOError("injected: sync failed");
      return target()->Fsync(options, dbg);
    }

   private:
    std::atomic<bool>& failing_;
  };

  class FlakyTable final : public rocksdb::FSRandomAccessFileOwnerWrapper {
   public:
    FlakyTable(std::unique_ptr<rocksdb::FSRandomAccessFile> file, FlakyFileSystem& fs,
               std::string name)
        : FSRandomAccessFileOwnerWrapper(std::move(file)), fs_(fs), name_(std::move(name)) {}
    rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& options,
                           rocksdb::Slice* result, char* scratch,
                           rocksdb::IODebugContext* dbg) const override {
      if (fs_.Unreadable(name_)) return rocksdb::IOStatus::IOError("injected: bad sector");
      return target()->Read(offset, n, options, result, scratch, dbg);
    }
    rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                                const rocksdb::IOOptions& options,
                                rocksdb::IODebugContext* dbg) override {
      if (fs_.Unreadable(name_)) return rocksdb::IOStatus::IOError("injected: bad sector");
      return target()->MultiRead(reqs, num_reqs, options, dbg);
    }

   private:
    FlakyFileSystem& fs_;
    std::string name_;
  };

  std::atomic<bool>& failing_;
  std::mutex mu_;
  std::set<std::string> unreadable_;
};

}  // namespace cledger::testing
