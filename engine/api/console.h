// The auditor's console (engine/api/console/): static files compiled into the binary by
// cmake/EmbedFiles.cmake and served at /console with no token. The page asks for a token and
// calls the API with it like any other client.
#pragma once

#include <string_view>
#include <vector>

namespace cledger::api {

struct ConsoleFile {
  std::string_view name;  // "index.html", "console.js", …
  std::string_view bytes;
};

const std::vector<ConsoleFile>& ConsoleFiles();

}  // namespace cledger::api
