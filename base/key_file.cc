#include "base/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace cledger::base {

std::optional<std::vector<uint8_t>> ReadKeyFile(const std::string& path, size_t size,
                                                std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = std::strerror(errno);
    return std::nullopt;
  }
  std::vector<uint8_t> key(size + 1);  // one byte more: a longer file is refused too
  const ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(size)) {
    sodium_memzero(key.data(), key.size());
    why = "not a key file (expected " + std::to_string(size) + " bytes)";
    return std::nullopt;
  }
  key.resize(size);
  return key;
}

std::string CreateKeyFile(const std::string& path, std::span<const uint8_t> key) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::strerror(errno);
  bool ok =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  // The directory entry too: a key lost in a crash would strand what was recorded under it.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ok = ok && dir_fd >= 0 && ::fsync(dir_fd) == 0;
  if (dir_fd >= 0) ::close(dir_fd);
  if (ok) return "";
  ::unlink(path.c_str());
  return "could not be written";
}

std::string BesideDirectory(const std::string& dir, std::string_view suffix) {
  std::filesystem::path path(dir);
  if (!path.has_filename()) path = path.parent_path();  // "data/" is "data"
  // "." or "..": beside it is beside the directory they name, not a dot file inside it.
  if (path.empty() || path.filename() == "." || path.filename() == "..") {
    std::error_code ec;
    path = std::filesystem::absolute(path.empty() ? "." : path, ec).lexically_normal();
    if (!path.has_filename()) path = path.parent_path();
  }
  return path.string() + std::string(suffix);
}

bool KeyFileMissing(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) != 0 && errno == ENOENT;
}

}  // namespace cledger::base
