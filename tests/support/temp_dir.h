// A fresh directory under the system's temporary folder, removed when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace cledger::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs a shell command and returns its standard output; `status` receives its exit status.
std::string RunCommand(const std::string& command, int* status = nullptr);

}  // namespace cledger::testing
