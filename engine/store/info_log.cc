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

// Opens `path` to append to, first renaming it LOG.old when it holds `max_bytes` or more;
// `size` is what it then holds. Null when it cannot be opened.
std::unique_ptr<rocksdb::FSWritableFile> AppendTo(rocksdb::FileSystem& fs, const std::string& path,
                                                  uint64_t max_bytes, uint64_t& size) {
  const rocksdb::IOOptions io;
  if (fs.GetFileSize(path, io, &size, nullptr).ok() && size >= max_bytes) {
    (void)fs.RenameFile(path, path + ".old", io, nullptr);
  }
  if (!fs.GetFileSize(path, io, &size, nullptr).ok()) size = 0;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  if (!fs.ReopenWritableFile(path, rocksdb::FileOptions(), &file, nullptr).ok()) return nullptr;
  return file;
}

class InfoLog final : public rocksdb::Logger {
 public:
  InfoLog(std::shared_ptr<rocksdb::FileSystem> fs, std::string path, uint64_t max_bytes,
          std::unique_ptr<rocksdb::FSWritableFile> file, uint64_t size)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        fs_(std::move(fs)),
        path_(std::move(path)),
        max_bytes_(max_bytes),
        file_(std::move(file)),
        size_(size),
        roll_at_(RollAt()) {}

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
    // A server that runs for months rolls its log as an open would; a LOG that could not be
    // opened again is tried at the next line.
    if (!file_ || size_ >= roll_at_) {
      if (file_) (void)file_->Close(rocksdb::IOOptions(), nullptr);
      file_ = AppendTo(*fs_, path_, max_bytes_, size_);
      roll_at_ = RollAt();
    }
    if (!file_) return;
    // Written at once, unbuffered: a line the disk refuses is lost, the next is tried afresh.
    if (file_->Append(line, rocksdb::IOOptions(), nullptr).ok()) size_ += line.size();
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

  // A LOG the rename could not move is still past the bound: tried again a bound later, so a
  // rename that keeps failing costs nothing per line.
  uint64_t RollAt() const { return size_ < max_bytes_ ? max_bytes_ : size_ + max_bytes_; }

  const std::shared_ptr<rocksdb::FileSystem> fs_;
  const std::string path_;
  const uint64_t max_bytes_;
  std::mutex mu_;
  std::unique_ptr<rocksdb::FSWritableFile> file_;  // null: it could not be opened again
  uint64_t size_;
  uint64_t roll_at_;
};

class NoLog final : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

}  // namespace

std::shared_ptr<rocksdb::Logger> OpenInfoLog(rocksdb::Env* env, const std::string& dir, bool create,
                                             uint64_t max_bytes) {
  std::shared_ptr<rocksdb::FileSystem> fs =
      (env != nullptr ? env : rocksdb::Env::Default())->GetFileSystem();
  const rocksdb::IOOptions io;
  if (create) (void)fs->CreateDirIfMissing(dir, io, nullptr);
  if (!fs->FileExists(dir, io, nullptr).ok()) return NoInfoLog();
  const std::string path = dir + "/LOG";
  uint64_t size = 0;
  auto file = AppendTo(*fs, path, max_bytes, size);
  if (!file) return NoInfoLog();  // a log nobody can write is no reason to refuse the ledger
  return std::make_shared<InfoLog>(std::move(fs), path, max_bytes, std::move(file), size);
}

std::shared_ptr<rocksdb::Logger> NoInfoLog() { return std::make_shared<NoLog>(); }

}  // namespace cledger::store
