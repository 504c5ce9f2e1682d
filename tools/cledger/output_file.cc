#include "tools/cledger/output_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cledger::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kSymlinksMax = 40;  // as the kernel's MAXSYMLINKS: past it, a loop

Status CannotWrite(const std::string& path, const std::string& why) {
  return Status(Code::kIoError, "cannot_write", "cannot write " + path + ": " + why);
}

// `path` with every symlink of its last component followed (the target need not exist yet).
Result<fs::path> FollowLinks(const std::string& path) {
  fs::path at = path;
  for (int hops = 0;; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(at, ec))) return at;
    if (hops == kSymlinksMax) return CannotWrite(path, "too many levels of symbolic links");
    const fs::path target = fs::read_symlink(at, ec);
    if (ec) return CannotWrite(path, ec.message());
    at = target.is_absolute() ? target : at.parent_path() / target;
  }
}

Status WriteDirectly(const std::string& path, const fs::path& target,
                     const std::function<bool(std::ostream&)>& write) {
  std::ofstream out(target, std::ios::binary);
  const bool produced = out && write(out);
  out.close();
  if (!out) return CannotWrite(path, std::strerror(errno));
  if (!produced) return CannotWrite(path, "the output could not be produced");
  return Status::Ok();
}

// Beside the target, then renamed over it: a reader of the target sees the old file or the new
// one, never a part. The new file keeps the permissions of the one it replaces.
Status WriteAndRename(const std::string& path, const fs::path& target,
                      const std::function<bool(std::ostream&)>& write) {
  const fs::path partial = target.string() + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  const bool produced = out && write(out);
  out.close();
  std::error_code ec;
  if (!out || !produced) {
    const std::string why = !out ? std::strerror(errno) : "the output could not be produced";
    fs::remove(partial, ec);
    return CannotWrite(path, why);
  }
  const fs::file_status old = fs::status(target, ec);
  if (fs::is_regular_file(old)) fs::permissions(partial, old.permissions(), ec);
  fs::rename(partial, target, ec);
  if (ec) {
    fs::remove(partial, ec);
    return CannotWrite(path, ec.message());
  }
  return Status::Ok();
}

}  // namespace

Status WriteOutputFile(const std::string& path, const std::function<bool(std::ostream&)>& write) {
  auto target = FollowLinks(path);
  if (!target.ok()) return target.status();
  std::error_code ec;
  const fs::file_status st = fs::status(*target, ec);
  if (fs::is_directory(st)) return CannotWrite(path, "it is a directory");
  if (!fs::exists(st) || fs::is_regular_file(st)) return WriteAndRename(path, *target, write);
  return WriteDirectly(path, *target, write);  // a device, a FIFO or a socket
}

}  // namespace cledger::cli
