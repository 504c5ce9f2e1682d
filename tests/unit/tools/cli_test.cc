#include <doctest/doctest.h>

#include <filesystem>

#include "base/hex.h"
#include "tests/support/ledger_fixture.h"

namespace cledger {
namespace {

TEST_CASE("HeadCommandPrintsThePositionAndHashOfADataDirectory") {
  testing::LedgerFixture f;
  f.MustAppend(testing::OneEventCommit("customer-c1", CustomerCreated{"c1"}));
  const Head head = f.ledger->GetHead();
  f.ledger.reset();
  int status = -1;
  const std::string out = testing::RunCommand(
      std::string(CLEDGER_BINARY) + " head --data " + f.dir.Sub("data"), &status);
  CHECK(status == 0);
  CHECK(out == "position 1\nhash " + base::Hex(head.hash) + "\n");
}

TEST_CASE("HeadOfADirectoryWithoutALedgerSaysSoAndMakesNone") {
  testing::TempDir dir;
  int status = -1;
  const std::string out = testing::RunCommand(
      std::string(CLEDGER_BINARY) + " head --data " + dir.Sub("fresh") + " 2>&1", &status);
  CHECK(status == 3);
  CHECK(out.find("no ledger in " + dir.Sub("fresh")) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Sub("fresh")));
}

}  // namespace
}  // namespace cledger
