// The real `cledger` binary as ops and auditors use it day to day: tenants, tokens, history,
// audit exports and backups through a running server (--server) as well as offline, and the
// command line's own manners (no ledger made by a typo, a suggestion for a misspelt flag).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::RunCommand;
using testing::ServerFixture;

std::string Run(const std::string& args, int* status) {
  return RunCommand(std::string(CLEDGER_BINARY) + " " + args, status);
}
std::string RunBoth(const std::string& args, int* status) {
  return RunCommand(std::string(CLEDGER_BINARY) + " " + args + " 2>&1", status);
}
bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --server URL --token T for `who` of the fixture.
std::string Through(const ServerFixture& f, const std::string& who) {
  return " --server http://127.0.0.1:" + std::to_string(f.port) + " --token " + f.tokens.at(who);
}

void Populate(ServerFixture& f) {
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ann","email":"ann@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/admin", "PATCH", "/v1/contacts/k1", R"({"email":"ann.lee@acme.test"})",
                 {{"X-Request-ID", "ticket-4711"}})
              .status == 200);
}

TEST_CASE("OfflineCommandsRefuseADirectoryWithoutALedgerUnlessAskedToCreateOne") {
  testing::TempDir dir;
  const std::string typo = dir.Sub("dta");
  int status = -1;
  for (const std::string command :
       {"head", "token list", "tenant list", "tenant create acme", "stats", "verify",
        "token issue --actor a --role ops", "audit export --tenant acme --format csv",
        "history --tenant acme --contact k1"}) {
    CAPTURE(command);
    const std::string said = RunBoth(command + " --data " + typo, &status);
    CHECK(status == 3);
    CHECK(Has(said, "no ledger in " + typo));
    CHECK_FALSE(std::filesystem::exists(typo));
  }
  CHECK(Has(RunBoth("tenant create acme --create --data " + typo, &status), "created"));
  CHECK(status == 0);
  CHECK(Has(Run("tenant list --data " + typo, &status), "acme  standard"));
}

TEST_CASE("OpsManageTenantsAndTokensThroughARunningServer") {
  ServerFixture f;
  const std::string ops = Through(f, "ops");
  int status = -1;
  CHECK(Has(Run("tenant create initech --plan free" + ops, &status), "tenant initech (free)"));
  CHECK(status == 0);
  CHECK(Run("tenant list" + ops, &status) == "acme  standard\nglobex  standard\ninitech  free\n");
  const std::string token = Run(
      "token issue --tenant initech --actor audrey --role auditor --expires-in 1d" + ops, &status);
  REQUIRE(status == 0);
  REQUIRE(token.starts_with("clt_"));
  // The new token works at once.
  CHECK(testing::Http(f.port, "GET", "/v1/audit", "",
                      {{"Authorization", "Bearer " + token.substr(0, token.size() - 1)}})
            .status == 200);
  const std::string listed = Run("token list --tenant initech" + ops, &status);
  CHECK(Has(listed, "  initech  audrey  auditor  "));
  CHECK_FALSE(Has(listed, token.substr(0, token.size() - 1)));
  const std::string hash = listed.substr(0, listed.find(' '));
  CHECK(Has(Run("token revoke " + hash + ops, &status), "revoked"));
  CHECK(status == 0);
  CHECK(Run("token list --tenant initech" + ops, &status).empty());
  // --tenant '' names the ops tokens, as offline: not every token.
  const std::string ops_tokens = Run("token list --tenant ''" + ops, &status);
  CHECK(Has(ops_tokens, "  -  root  ops  "));
  CHECK_FALSE(Has(ops_tokens, "  acme  "));
  // The server's refusal comes through with its reason; a token is never revoked by value
  // online (only the ledger's key could hash it).
  CHECK(Has(RunBoth("tenant create initech" + ops, &status), "tenant_exists"));
  CHECK(status == 1);
  CHECK(Has(RunBoth("token revoke clt_abc" + ops, &status), "give the token's hash"));
  CHECK(status == 2);
  CHECK(Has(RunBoth("tenant list" + Through(f, "acme/owner"), &status), "forbidden"));
  CHECK(status == 1);
}

TEST_CASE("HistoryAndAuditExportThroughTheServerAreWhatTheDataDirectorySays") {
  ServerFixture f;
  Populate(f);
  const std::string auditor = Through(f, "acme/auditor");
  int status = -1;
  const std::string history = Run("history --contact k1" + auditor, &status);
  CHECK(status == 0);
  CHECK(Has(history, "email: ann@acme.test → ann.lee@acme.test"));
  CHECK(Has(history, "admin-1(admin)  ContactEdited"));
  CHECK(Has(history, "customers[c1].roles: (not linked) → linked, no roles"));
  // The token names the tenant online: another --tenant is refused, not silently ignored.
  CHECK(Has(RunBoth("history --contact k1 --tenant globex" + auditor, &status),
            "leave out --tenant"));
  CHECK(status == 2);
  const std::string before =
      Run("history --contact k1 --at " + std::to_string(f.Head() - 1) + auditor, &status);
  CHECK(Has(before, "email                     ann@acme.test"));

  const std::string filters = " --record k1 --field email --format csv";
  const std::string online = Run("audit export" + filters + auditor, &status);
  CHECK(status == 0);
  CHECK(Has(online,
            ",acme,admin-1,admin,contact-k1,ContactEdited,email,ann@acme.test,"
            "ann.lee@acme.test,"));
  CHECK(Has(online, ",ticket-4711\r\n"));
  const std::string everything = Run("audit export --format jsonl" + auditor, &status);
  f.Close();
  const std::string data = " --data " + f.dir.Sub("data");
  CHECK(Run("audit export --tenant acme" + filters + data, &status) == online);
  CHECK(Run("audit export --tenant acme --format jsonl" + data, &status) == everything);
  CHECK(Run("history --tenant acme --contact k1" + data, &status) == history);
}

TEST_CASE("AnAuditExportOfATenantThatDoesNotExistFailsAndSaysSo") {
  ServerFixture f;
  Populate(f);
  f.Close();
  int status = -1;
  const std::string said =
      RunBoth("audit export --tenant acmee --format csv --data " + f.dir.Sub("data"), &status);
  CHECK(status == 1);
  CHECK(Has(said, "no tenant 'acmee'"));
}

TEST_CASE("BackupsAreListedCheckedWithoutRestoringAndAChosenOneRestored") {
  ServerFixture f;
  Populate(f);
  const std::string ops = Through(f, "ops");
  const std::string backups = f.dir.Sub("backups");
  int status = -1;
  CHECK(Has(Run("backup create " + backups + ops, &status), "backup 1 holds at least position"));
  REQUIRE(status == 0);
  const uint64_t first_head = f.Head();
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"department":"Billing"})").status ==
          200);
  Run("backup create " + backups + ops, &status);
  REQUIRE(status == 0);
  const std::string listed = Run("backup list " + backups + ops, &status);
  CHECK(status == 0);
  CHECK(Has(listed, "backup 1  "));
  CHECK(Has(listed, "backup 2  "));
  CHECK(Has(Run("backup verify " + backups + " --id 2" + ops, &status),
            "every file matches its checksum"));
  CHECK(status == 0);
  CHECK(Has(RunBoth("backup verify " + backups + " --id 7", &status), "no backup 7 in " + backups));
  CHECK(status == 1);
  // Without --id, every backup in the directory is checked, one line each.
  const std::string every = Run("backup verify " + backups + ops, &status);
  CHECK(Has(every, "backup 1 in " + backups + ": every file matches its checksum\n"));
  CHECK(Has(every, "backup 2 in " + backups + ": every file matches its checksum\n"));
  CHECK(status == 0);
  std::filesystem::create_directory(f.dir.Sub("no-backups"));
  CHECK(Has(RunBoth("backup verify " + f.dir.Sub("no-backups"), &status), "no backups in"));
  CHECK(status == 1);
  // Listing a directory no backup was made in yet is no failure: it lists none.
  CHECK(json::parse(Run("backup list --json " + f.dir.Sub("no-backups"), &status))
            .at("items")
            .as_array()
            .empty());
  CHECK(status == 0);
  f.Close();

  // The first backup, chosen by id, restores the head it was taken at.
  const std::string restored = f.dir.Sub("restored");
  CHECK(Has(Run("backup restore " + backups + " --id 1 --data " + restored, &status),
            "restored position " + std::to_string(first_head)));
  CHECK(status == 0);
  // A damaged backup is found without restoring it, and is not restored.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(backups + "/private/2")) {
    if (!entry.is_regular_file() || entry.file_size() < 70) continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(64);
    file.write("damage", 6);
  }
  CHECK(Has(Run("backup verify " + backups + " --id 2", &status), "is damaged"));
  CHECK(status == 1);
  const std::string both = Run("backup verify " + backups + " --json", &status);
  CHECK(status == 1);
  const json::array checked = json::parse(both).at("items").as_array();
  REQUIRE(checked.size() == 2);
  CHECK(checked.at(0).at("ok") == true);
  CHECK(checked.at(1).at("ok") == false);
  CHECK(checked.at(1).as_object().contains("problem"));
  RunBoth("backup restore " + backups + " --id 2 --data " + f.dir.Sub("restored-2"), &status);
  CHECK(status == 1);
}

TEST_CASE("TheCommandLineSuggestsTheOptionAMistypedFlagMeantAndShowsExamples") {
  int status = -1;
  CHECK(Has(RunBoth("history --tenat acme --contact k1", &status), "did you mean --tenant?"));
  CHECK(status == 2);
  CHECK(Has(RunBoth("audit export --fromat csv", &status), "did you mean --format?"));
  // A mistyped option of a group one of which is required: the typo, not only "required".
  CHECK(Has(RunBoth("history --tenant acme --contcat k1", &status), "did you mean --contact?"));
  CHECK(status == 2);
  // What was typed is quoted escaped: a control character in it cannot drive the terminal.
  const std::string typed = RunBoth(
      "history '--contact\x1b"
      "c' k1",
      &status);
  CHECK(Has(typed, "--contact\\x1bc is not an option here; did you mean --contact?"));
  CHECK_FALSE(Has(typed, "\x1b"));
  const std::string unexpected = RunBoth("verify --data d 'x\x1by'", &status);
  CHECK(Has(unexpected, "not expected: x\\x1by"));
  CHECK_FALSE(Has(unexpected, "\x1b"));
  CHECK(Has(RunBoth("bakup list /tmp", &status), "did you mean backup?"));
  CHECK(status == 2);
  // A group without its subcommand names the ones it has, once, not CLI11's bare complaint.
  const std::string group = RunBoth("projections stauts", &status);
  CHECK(Has(group, "did you mean status?\nRun 'cledger projections --help' for what each does."));
  CHECK_FALSE(Has(group, "A subcommand is required"));
  CHECK(Has(RunBoth("projections", &status),
            "cledger projections: give a subcommand: status, rebuild."));
  CHECK(status == 2);
  CHECK(Has(RunBoth("verify --data ''", &status), "--data: an empty path"));
  CHECK(status == 2);
  const std::string help = Run("--help", &status);
  CHECK(status == 0);
  CHECK(Has(help, "Examples:"));
  CHECK(Has(help, "/console"));
}

TEST_CASE("RebuildingAProjectionThatDoesNotExistNamesTheOnesThatDo") {
  ServerFixture f;
  int status = -1;
  const std::string said = RunBoth("projections rebuild contactz" + Through(f, "ops"), &status);
  CHECK(status == 2);
  CHECK(Has(said, "the projections are tenants, customers, contacts, links, emails, audit"));
}

}  // namespace
}  // namespace cledger
