// schemas/openapi.yaml must document exactly the routes the server answers (engine/api/routes.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/api/routes.h"

namespace cledger::api {
namespace {

struct Operation {
  std::string method;  // upper case, as in kRoutes
  std::string path;
  bool has_operation_id = false;
  bool operator==(const Operation& o) const { return method == o.method && path == o.path; }
};

std::string ReadDocument() {
  std::ifstream in(CLEDGER_SOURCE_DIR "/schemas/openapi.yaml");
  REQUIRE_MESSAGE(in.good(), "cannot open schemas/openapi.yaml");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// The operations under `paths:`, read line by line: a path key is indented two spaces, a
// method key four, and an operation's own fields six.
std::vector<Operation> ParseOperations(const std::string& document) {
  static const std::regex kPath(R"(^  (/[^:]*):\s*$)");
  static const std::regex kMethod(R"(^    (get|post|put|patch|delete):.*$)");
  static const std::regex kOperationId(R"(^      operationId:\s*\S.*$)");
  std::vector<Operation> operations;
  std::istringstream lines(document);
  std::string line;
  bool in_paths = false;
  std::string path;
  bool in_operation = false;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != ' ' && line[0] != '#') {  // a top-level key
      in_paths = line.starts_with("paths:");
      path.clear();
      in_operation = false;
      continue;
    }
    if (!in_paths) continue;
    std::smatch m;
    if (std::regex_match(line, m, kPath)) {
      path = m[1];
      in_operation = false;
    } else if (line.starts_with("  ") && !line.starts_with("   ") && line.size() > 2 &&
               line[2] != '#') {
      path.clear();  // some other two-space key: not a path
      in_operation = false;
    } else if (!path.empty() && std::regex_match(line, m, kMethod)) {
      operations.push_back({Upper(m[1]), path, false});
      in_operation = true;
    } else if (line.starts_with("    ") && !line.starts_with("     ") && line.size() > 4 &&
               line[4] != '#') {
      in_operation = false;  // a path-level key such as `parameters:`
    } else if (in_operation && std::regex_match(line, kOperationId)) {
      operations.back().has_operation_id = true;
    }
  }
  return operations;
}

std::string Name(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path);
}

TEST_CASE("TheOpenApiDocumentDescribesExactlyTheServersRoutes") {
  const std::vector<Operation> documented = ParseOperations(ReadDocument());
  REQUIRE_FALSE(documented.empty());

  for (const Route& route : kRoutes) {
    const std::string missing = Name(route.method, route.path);
    CAPTURE(missing);
    const auto count = std::count(documented.begin(), documented.end(),
                                  Operation{std::string(route.method), std::string(route.path)});
    const std::string problem = count == 0 ? "does not document it" : "documents it twice";
    CHECK_MESSAGE(count == 1,
                  "routes.h has " << missing << " but schemas/openapi.yaml " << problem);
  }
  for (const Operation& op : documented) {
    const std::string extra = Name(op.method, op.path);
    CAPTURE(extra);
    const bool served = std::any_of(kRoutes.begin(), kRoutes.end(), [&](const Route& r) {
      return r.method == op.method && r.path == op.path;
    });
    CHECK_MESSAGE(served,
                  "schemas/openapi.yaml documents " << extra << " but routes.h has no such route");
  }
  CHECK(documented.size() == kRoutes.size());
}

TEST_CASE("EveryOperationInTheOpenApiDocumentHasAnOperationId") {
  const std::string document = ReadDocument();
  const std::vector<Operation> documented = ParseOperations(document);
  for (const Operation& op : documented) {
    const std::string operation = Name(op.method, op.path);
    CAPTURE(operation);
    CHECK_MESSAGE(op.has_operation_id, operation << " declares no operationId");
  }
  size_t operation_ids = 0;
  static const std::regex kAnyOperationId(R"(^\s+operationId:\s*\S.*$)");
  std::istringstream lines(document);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::regex_match(line, kAnyOperationId)) ++operation_ids;
  }
  CHECK(operation_ids == kRoutes.size());
}

}  // namespace
}  // namespace cledger::api
