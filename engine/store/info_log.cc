#include "engine/store/info_log.h"

#include <rocksdb/file_system.h>
#include <sys/time.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "cledger/limits.h"

namespace cledger::store {
namespace {

class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(std::unique_ptr<rocksdb::FSWritableFile> file)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), file_(std::move(file)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    std::string line = Stamp();
    va_list measure;
    va_copy(measure, ap);
    const int length = std::vsnprintf(nullptr, 0, format, measure);
    va_end(measure);
    if (length < 0) return;
    const size_t at = line.size();
    line.resize(at + static_cast<size_t>(length) + 1);
    std::vsnprintf(line.data() + at, static_cast<size_t>(length) + 1, format, ap);
    line.resize(at + static_cast<size_t>(length));
    if (line.back() != '\n') line += '\n';
    std::lock_guard lock(mu_);
    // Written at once, unbuffered: a line the disk refuses is lost, the next is tried afresh.
    (void)file_->Append(line, rocksdb::IOOptions(), nullptr);
  }

 private:
  // As RocksDB stamps its lines: local time to the microsecond.
  static std::string Stamp() {
    timeval now{};
    gettimeofday(&now, nullptr);
    tm local{};
    localtime_r(&now.tv_sec, &local);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", local.tm_year + 1900,
                  local.tm_mon + 1, local.tm_mday, local.tm_hour, local.tm_min, local.tm_sec,
                  static_cast<long>(now.tv_usec));
    return stamp;
  }

  std::mutex mu_;
  std::unique_ptr<rocksdb::FSWritableFile> file_;
};

class NoLog final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

}  // namespace

std::shared_ptr<rocksdb::Logger> OpenInfoLog(rocksdb::Env* env, const std::string& dir,
                                             bool create) {
  rocksdb::FileSystem& fs = *(env != nullptr ? env : rocksdb::Env::Default())->GetFileSystem();
  const rocksdb::IOOptions io;
  if (create) (void)fs.CreateDirIfMissing(dir, io, nullptr);
  if (!fs.FileExists(dir, io, nullptr).ok()) return NoInfoLog();
  const std::string path = dir + "/LOG";
  uint64_t size = 0;
  if (fs.GetFileSize(path, io, &size, nullptr).ok() && size > limits::kInfoLogBytesMax) {
    (void)fs.RenameFile(path, path + ".old", io, nullptr);
  }
  std::unique_ptr<rocksdb::FSWritableFile> file;
  if (!fs.ReopenWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok()) {
    return NoInfoLog();  // a log nobody can write is no reason to refuse the ledger
  }
  return std::make_shared<InfoLog>(std::move(file));
}

std::shared_ptr<rocksdb::Logger> NoInfoLog() { return std::make_shared<NoLog>(); }

}  // namespace cledger::store
