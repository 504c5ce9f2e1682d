// The auditors' subcommands as they meet them: the real `cledger` binary on real data
// directories. Data is prepared in-process, and the engine released before the binary runs:
// RocksDB lets one process at a time open a directory.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/time.h"
#include "cledger/json.h"
#include "tests/support/child_process.h"
#include "tests/support/engine_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

struct Run {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `cledger ARGS` (shell words); stdout and stderr come back apart, neither a terminal.
Run Cledger(const testing::TempDir& dir, const std::string& args) {
  const std::string err_path = dir.Sub("stderr.txt");
  Run run;
  run.out =
      testing::RunCommand(std::string(CLEDGER_BINARY) + " " + args + " 2>" + err_path, &run.status);
  run.err = ReadFile(err_path);
  return run;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A strict RFC 4180 reader: records end in CRLF; a bare CR or LF is allowed only inside a
// quoted field; a quoted field's quotes are doubled.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> records(1, std::vector<std::string>(1));
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    std::string& cell = records.back().back();
    if (quoted) {
      if (c != '"') {
        cell += c;
      } else if (i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"') {
      REQUIRE_MESSAGE(cell.empty(), "a quote inside an unquoted cell at byte ", i);
      quoted = true;
    } else if (c == ',') {
      records.back().emplace_back();
    } else if (c == '\r') {
      const bool crlf = i + 1 < text.size() && text[i + 1] == '\n';
      REQUIRE_MESSAGE(crlf, "a bare CR at byte ", i);
      ++i;
      records.emplace_back(1);
    } else {
      REQUIRE_MESSAGE(c != '\n', "a bare LF ends a record at byte ", i);
      cell += c;
    }
  }
  REQUIRE_FALSE(quoted);
  REQUIRE(records.back() == std::vector<std::string>(1));  // the last record ended in CRLF
  records.pop_back();
  return records;
}

// ---- history -----------------------------------------------------------------------------

// A value that is the text the trail shows for "nothing" is quoted: the two never read alike.
TEST_CASE("ATrailValueThatReadsLikeAnEmptyOneIsQuoted") {
  testing::EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", testing::Person("Ada", "ada@acme.test")});
  f.Must(f.owner, EditContact{"k1", [](ContactFields& x) { x.last_name = "(empty)"; }});
  f.engine.reset();
  const Run run =
      Cledger(f.dir, "history --data " + f.dir.Sub("data") + " --tenant acme --contact k1");
  CHECK(run.status == 0);
  CHECK(Contains(run.out, "    last_name: (empty) → \"(empty)\"\n"));
}

TEST_CASE("HistoryShowsTheRecordAsItWasThenAndItsTrailUpToThen") {
  testing::EngineFixture f;
  const CommandOutcome created =
      f.Must(f.owner, CreateContact{"k1", "c1", testing::Person("Ada", "ada@acme.test")});
  f.Must(f.owner, EditContact{"k1", [](ContactFields& x) { x.last_name = "Lovelace"; }});
  f.Must(f.owner, DeleteContact{"k1"});
  const ContactView now = f.Contact("k1");
  const ContactView then = f.Contact("k1", AsOf{created.last_position, std::nullopt});
  f.engine.reset();
  const std::string base = "history --data " + f.dir.Sub("data") + " --tenant acme --contact k1";

  const Run current = Cledger(f.dir, base);
  CHECK(current.status == 0);
  CHECK(Contains(current.out, "Contact k1 — now"));
  CHECK(Contains(current.out, "first_name"));
  CHECK(Contains(current.out, "Lovelace"));
  CHECK(Contains(current.out, "c1"));
  CHECK(Contains(current.out, "System Information"));
  CHECK(Contains(current.out, "version        3"));
  CHECK(Contains(current.out, "Audit trail (3 entries)"));
  CHECK(Contains(current.out, "#" + std::to_string(created.last_position) + "  " +
                                  base::Rfc3339Micros(then.system.created_us) +
                                  "  alice(owner)  ContactCreated"));
  CHECK(Contains(current.out, "    last_name: (empty) → Lovelace\n"));
  CHECK(Contains(current.out, "    status: active → deleted\n"));
  CHECK(Contains(current.out, "deleted: (empty) → " + base::Rfc3339Micros(*now.system.deleted_us)));

  // The past by position and by time: the state then, and only the trail up to then.
  const Run at =
      Cledger(f.dir, base + " --at " + std::to_string(created.last_position) + " --json");
  REQUIRE(at.status == 0);
  const json::object past = json::parse(at.out).as_object();
  CHECK(past.at("state").at("first_name") == "Ada");
  CHECK(past.at("state").at("last_name") == "");
  CHECK(past.at("state").at("status") == "active");
  CHECK(past.at("state").at("version") == 1);
  REQUIRE(past.at("history").as_array().size() == 1);
  CHECK(past.at("history").at(0).at("operation") == "ContactCreated");

  const Run as_of =
      Cledger(f.dir, base + " --as-of " + base::Rfc3339Micros(then.system.created_us));
  CHECK(as_of.status == 0);
  CHECK(Contains(as_of.out, "as of " + base::Rfc3339Micros(then.system.created_us)));
  CHECK_FALSE(Contains(as_of.out, "Lovelace"));
  CHECK(Contains(as_of.out, "Audit trail (1 entry)"));
}

TEST_CASE("HistoryOfACustomerAndItsFailures") {
  testing::EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", testing::Person("Ada", "ada@acme.test")});
  f.engine.reset();
  const std::string base = "history --data " + f.dir.Sub("data") + " --tenant acme ";

  const Run customer = Cledger(f.dir, base + "--customer c1 --json");
  CHECK(customer.status == 0);
  const json::object o = json::parse(customer.out).as_object();
  CHECK(o.at("state").at("name") == "Acme Corp");
  CHECK(o.at("history").at(0).at("operation") == "CustomerCreated");
  // Its trail holds its contacts' links too, each entry naming the contact's stream.
  const Run text = Cledger(f.dir, base + "--customer c1");
  CHECK(text.status == 0);
  CHECK(Contains(text.out, "  CustomerCreated\n"));
  CHECK(Contains(text.out, "  ContactCreated  on contact-k1\n"));

  const Run no_tenant =
      Cledger(f.dir, "history --data " + f.dir.Sub("data") + " --tenant acmee --customer c1");
  CHECK(no_tenant.status == 1);
  CHECK(Contains(no_tenant.err, "no tenant 'acmee'"));

  // A stream's name given for an id is told the id; what was typed is shown escaped, so a
  // control character in it cannot drive the terminal.
  const Run stream = Cledger(f.dir, base + "--contact 'contact-\x1b]0;T\x07k1'");
  CHECK(stream.status == 1);
  CHECK(Contains(stream.err, "give its id: \\x1b]0;T\\x07k1)"));
  CHECK_FALSE(Contains(stream.err, "\x1b"));

  const Run missing = Cledger(f.dir, base + "--contact nobody");
  CHECK(missing.status == 1);
  CHECK(missing.out.empty());
  CHECK(Contains(missing.err, "no contact 'nobody' [contact_not_found]"));

  const Run before = Cledger(f.dir, base + "--customer c1 --at 1");  // TenantCreated only
  CHECK(before.status == 1);
  CHECK(Contains(before.err, "as of position 1"));

  CHECK(Cledger(f.dir, base + "--customer c1 --at 2 --as-of 2026-01-01T00:00:00Z").status == 2);
  CHECK(Cledger(f.dir, base + "--customer c1 --contact k1").status == 2);
  CHECK(Cledger(f.dir, base).status == 2);
  const Run bad_time = Cledger(f.dir, base + "--customer c1 --as-of yesterday");
  CHECK(bad_time.status == 2);
  CHECK(Contains(bad_time.err, "RFC 3339"));

  f.Reopen();  // a directory another process holds cannot be opened
  const Run busy = Cledger(f.dir, base + "--customer c1");
  CHECK(busy.status == 3);
  CHECK(Contains(busy.err, "is in use by another process"));
}

// ---- audit export ------------------------------------------------------------------------

const std::vector<std::string> kHeader = {
    "position",  "recorded_at", "tenant", "actor", "role",       "record",
    "operation", "field",       "before", "after", "event_hash", "correlation_id"};

TEST_CASE("AuditExportCsvIsRfc4180AndKeepsSpreadsheetsFromRunningCells") {
  testing::EngineFixture f;
  const std::string odd_actor = "bob, \"the builder\"\nsenior";
  f.Must(CommandContext{"acme", {odd_actor, "manager"}, {}, {}, {}},
         CreateCustomer{"c3", "Smith, \"Jr\" & Sons", "c3@acme.test", ""});
  f.Must(f.owner, CreateCustomer{"c4", "=HYPERLINK(\"http://x.test\")", "c4@acme.test", ""});
  f.engine.reset();
  const std::string base = "audit export --data " + f.dir.Sub("data") + " --tenant acme ";

  const Run csv = Cledger(f.dir, base + "--format csv");
  REQUIRE(csv.status == 0);
  const auto records = ParseCsv(csv.out);
  REQUIRE(records.size() > 1);
  CHECK(records[0] == kHeader);
  bool odd_actor_found = false;
  bool odd_value_found = false;
  bool formula_guarded = false;
  for (size_t i = 1; i < records.size(); ++i) {
    REQUIRE(records[i].size() == kHeader.size());
    odd_actor_found = odd_actor_found || records[i][3] == odd_actor;
    odd_value_found = odd_value_found || records[i][9] == "Smith, \"Jr\" & Sons";
    formula_guarded = formula_guarded || records[i][9] == "'=HYPERLINK(\"http://x.test\")";
    CHECK_FALSE(records[i][9].starts_with("="));
  }
  CHECK(odd_actor_found);
  CHECK(odd_value_found);
  CHECK(formula_guarded);

  // JSON lines: the same rows, every value exactly as recorded.
  const Run jsonl = Cledger(f.dir, base + "--format jsonl");
  REQUIRE(jsonl.status == 0);
  const auto lines = Lines(jsonl.out);
  CHECK(lines.size() == records.size() - 1);
  bool raw_formula = false;
  for (const std::string& line : lines) {
    const json::object row = json::parse(line).as_object();
    CHECK(row.size() == kHeader.size());
    for (const std::string& key : kHeader) CHECK(row.contains(key));
    raw_formula = raw_formula || row.at("after") == "=HYPERLINK(\"http://x.test\")";
  }
  CHECK(raw_formula);
  CHECK(json::parse(lines.front()).at("position") == 1);
}

TEST_CASE("AuditExportFiltersByActorAndTimeAndWritesFiles") {
  testing::EngineFixture f;
  f.Must(testing::As("acme", "manager", "mallory"),
         CreateCustomer{"c3", "Globex", "g@acme.test", ""});
  f.engine.reset();
  const std::string base = "audit export --data " + f.dir.Sub("data") + " --tenant acme ";

  const Run mallory = Cledger(f.dir, base + "--format csv --actor mallory");
  REQUIRE(mallory.status == 0);
  const auto records = ParseCsv(mallory.out);
  CHECK(records.size() == 5);  // the header, then status, name, email, bill_format
  for (size_t i = 1; i < records.size(); ++i) CHECK(records[i][3] == "mallory");

  const Run future = Cledger(f.dir, base + "--format csv --from 2999-01-01T00:00:00Z");
  CHECK(future.status == 0);
  CHECK(ParseCsv(future.out).size() == 1);
  const Run past = Cledger(f.dir, base + "--format jsonl --to 2000-01-01T00:00:00+02:00");
  CHECK(past.status == 0);
  CHECK(past.out.empty());

  const Run to_file = Cledger(f.dir, base + "--format csv --output " + f.dir.Sub("audit.csv"));
  CHECK(to_file.status == 0);
  CHECK(Contains(to_file.out, "rows written to"));
  CHECK(ReadFile(f.dir.Sub("audit.csv")) == Cledger(f.dir, base + "--format csv").out);
  const Run bom = Cledger(f.dir, base + "--format csv --bom");
  CHECK(bom.out.starts_with("\xEF\xBB\xBFposition,"));

  CHECK(Cledger(f.dir, base + "--format xlsx").status == 2);
  CHECK(Cledger(f.dir, base + "--format csv --from soon").status == 2);
  const Run typo = Cledger(f.dir, base + "--format csv --field emial");
  CHECK(typo.status == 2);
  CHECK(typo.out.empty());
  CHECK(Contains(typo.err, "field names no field a trail records"));
  CHECK(Cledger(f.dir, base + "--format csv --from 2026-02-01T00:00:00Z --to 2026-01-01T00:00:00Z")
            .status == 2);
}

// A ledger with an audit trail, closed; and what `audit export --format csv` prints of it.
struct Exported : testing::EngineFixture {
  std::string base = "audit export --data " + dir.Sub("data") + " --tenant acme --format csv ";
  std::string csv;
  Exported() {
    engine.reset();
    csv = Cledger(dir, base).out;
    REQUIRE(ParseCsv(csv).size() > 2);
  }
};

bool IsA(const std::string& path, mode_t type) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && (st.st_mode & S_IFMT) == type;
}

TEST_CASE("AuditExportToACharacterDeviceWritesThroughItAndLeavesTheDeviceInPlace") {
  Exported f;
  // A device node of our own (as /dev/null: 1, 3) when allowed to make one, so the test never
  // risks the machine's /dev/null; /dev/null itself otherwise (then /dev is not writable).
  std::string device = f.dir.Sub("null");
  if (mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) device = "/dev/null";
  REQUIRE(IsA(device, S_IFCHR));
  const Run run = Cledger(f.dir, f.base + "--output " + device);
  CHECK(run.status == 0);
  CHECK(IsA(device, S_IFCHR));
  CHECK_FALSE(std::filesystem::exists(device + ".partial"));
}

TEST_CASE("AuditExportToAFifoFeedsItsReaderAndLeavesTheFifoInPlace") {
  Exported f;
  const std::string fifo = f.dir.Sub("fifo");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // The reader opens without blocking, so a writer that never opens the FIFO fails the test
  // instead of hanging it.
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(reader >= 0);
  const Run run = Cledger(f.dir, f.base + "--output " + fifo);
  CHECK(run.status == 0);
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = read(reader, buffer, sizeof buffer)) > 0;) {
    received.append(buffer, static_cast<size_t>(n));
  }
  close(reader);
  CHECK(received == f.csv);
  CHECK(IsA(fifo, S_IFIFO));
}

TEST_CASE("AuditExportThroughASymlinkReplacesItsTargetAndKeepsTheLink") {
  Exported f;
  std::filesystem::create_directory(f.dir.Sub("exports"));
  const std::string target = f.dir.Sub("exports/audit.csv");
  WriteFile(target, "an older export\n");
  const std::string link = f.dir.Sub("latest.csv");
  std::filesystem::create_symlink("exports/audit.csv", link);
  const Run run = Cledger(f.dir, f.base + "--output " + link);
  CHECK(run.status == 0);
  CHECK(IsA(link, S_IFLNK));
  CHECK(std::filesystem::read_symlink(link) == "exports/audit.csv");
  CHECK(ReadFile(target) == f.csv);
  CHECK_FALSE(std::filesystem::exists(link + ".partial"));
  CHECK_FALSE(std::filesystem::exists(target + ".partial"));

  // A link to a file not yet there: the file is made where the link points.
  const std::string dangling = f.dir.Sub("next.csv");
  std::filesystem::create_symlink("exports/next.csv", dangling);
  CHECK(Cledger(f.dir, f.base + "--output " + dangling).status == 0);
  CHECK(IsA(dangling, S_IFLNK));
  CHECK(ReadFile(f.dir.Sub("exports/next.csv")) == f.csv);
}

TEST_CASE("AuditExportToADirectoryFailsAndLeavesItAsItWas") {
  Exported f;
  std::filesystem::create_directory(f.dir.Sub("out"));
  const Run run = Cledger(f.dir, f.base + "--output " + f.dir.Sub("out"));
  CHECK(run.status == 1);
  CHECK(Contains(run.err, "cannot write"));
  CHECK(std::filesystem::is_directory(f.dir.Sub("out")));
  CHECK_FALSE(std::filesystem::exists(f.dir.Sub("out.partial")));
}

// ---- import ------------------------------------------------------------------------------

uint64_t HeadOf(testing::EngineFixture& f) {
  f.Reopen();
  const uint64_t head = f.engine->ledger().GetHead().position;
  f.engine.reset();
  return head;
}

// Good and bad lines, numbered as the import reports them; two end in CRLF.
std::string MixedImportFile() {
  const std::string huge((size_t{1} << 20) + 10, 'x');
  const std::vector<std::string> lines = {
      "# customers from the old CRM",
      R"({"command":"create_customer","id":"m1","name":"Migrated","email":"m1@x.test"})",
      R"({"command":"create_contact","customer_id":"m1","id":"mk1","first_name":"Mia",)"
      R"("email":"mia@x.test"})",
      "",
      R"({"command":"create_customer","id":"bad1","name":"B","email":"b@x.test","colour":"r"})",
      R"({"command":"create_contact","id":"bad2","first_name":"P","password":{"generate":true}})",
      R"({"command":"reset_password","id":"mk1"})",
      R"({"command":"create_customer", "id":)",
      R"({"command":"create_contact","customer_id":"m1","id":"bad3","email":"MIA@x.test"})"
      "\r",
      R"({"command":"edit_contact","id":"mk1","last_name":"Moss"})"
      "\r",
      R"({"command":"set_roles","customer_id":"m1","contact_id":"mk1","roles":["primary"]})",
      R"({"command":"create_customer","id":"bad4","name":")" + huge + R"(","email":"h@x.test"})",
  };
  std::string file;
  for (const std::string& line : lines) file += line + "\n";
  return file;
}

// A mistyped --data or --tenant is said once, before any line: no new, empty ledger is made
// for it, and no line is rejected for it.
TEST_CASE("ImportNamesAMistypedDataDirectoryOrTenantOnceAndCreatesNothing") {
  testing::EngineFixture f;
  f.engine.reset();
  const std::string file = f.dir.Sub("one.jsonl");
  WriteFile(file, R"({"command":"create_customer","id":"m1","name":"M","email":"m1@x.test"})"
                  "\n");
  const Run typo =
      Cledger(f.dir, "import " + file + " --data " + f.dir.Sub("dtaa") + " --tenant acme");
  CHECK(typo.status == 3);
  CHECK(Contains(typo.err, "no ledger in"));
  CHECK_FALSE(std::filesystem::exists(f.dir.Sub("dtaa")));
  const uint64_t before = HeadOf(f);
  const Run tenant =
      Cledger(f.dir, "import " + file + " --data " + f.dir.Sub("data") + " --tenant acmee");
  CHECK(tenant.status == 1);
  CHECK(Contains(tenant.err, "no tenant 'acmee'"));
  CHECK_FALSE(Contains(tenant.err + tenant.out, "one.jsonl:1"));
  CHECK(HeadOf(f) == before);
}

TEST_CASE("ImportReportsBadLinesAppendsNothingFromThemAndGoodLinesOnce") {
  testing::EngineFixture f;
  f.engine.reset();
  const std::string file = f.dir.Sub("mixed.jsonl");
  WriteFile(file, MixedImportFile());
  const std::string args = "import " + file + " --data " + f.dir.Sub("data") + " --tenant acme";
  const uint64_t before = HeadOf(f);

  const Run dry = Cledger(f.dir, args + " --dry-run");
  CHECK(dry.status == 1);
  CHECK(dry.out == "10 lines: 5 valid, 5 rejected (dry run: nothing appended)\n");
  CHECK(HeadOf(f) == before);

  const Run first = Cledger(f.dir, args);
  CHECK(first.status == 1);
  CHECK(first.out == "10 lines: 4 appended, 0 already imported, 6 rejected\n");
  CHECK(
      Contains(first.err, file + ":5: unknown field \"colour\" (field colour) [unknown_field]\n"));
  CHECK(Contains(first.err, file + ":6: passwords are not importable"));
  CHECK(Contains(first.err, "(field password) [not_importable]\n"));
  CHECK(Contains(first.err, file + ":7: password resets are not importable"));
  CHECK(Contains(first.err, file + ":8: the line is not valid JSON [malformed_json]\n"));
  CHECK(Contains(first.err, file + ":9: "));
  CHECK(Contains(first.err, "[email_taken]"));
  CHECK(Contains(first.err, file + ":12: the line is over 1 MiB [line_too_long]\n"));
  CHECK_FALSE(Contains(first.err, ":2:"));
  CHECK_FALSE(Contains(first.err, "ETA"));  // no progress bar when piped
  CHECK_FALSE(Contains(first.err, "\r"));
  const uint64_t after_first = HeadOf(f);
  CHECK(after_first == before + 4);

  f.Reopen();
  for (const char* bad : {"bad1", "bad4"}) {
    CHECK(f.engine->GetCustomer(testing::Reader(), bad).status().code() == Code::kNotFound);
  }
  for (const char* bad : {"bad2", "bad3"}) {
    CHECK(f.engine->GetContact(testing::Reader(), bad).status().code() == Code::kNotFound);
  }
  const ContactView mia = f.Contact("mk1");
  CHECK(mia.fields.last_name == "Moss");
  CHECK(mia.customers == std::vector<Link>{{"m1", {"primary"}}});
  f.engine.reset();

  const Run second = Cledger(f.dir, args + " --json");
  CHECK(second.status == 1);
  const json::object summary = json::parse(second.out).as_object();
  CHECK(summary.at("lines") == 10);
  CHECK(summary.at("appended") == 0);
  CHECK(summary.at("already_imported") == 4);
  CHECK(summary.at("rejected") == 6);
  CHECK(summary.at("head") == after_first);
  CHECK(HeadOf(f) == after_first);
}

TEST_CASE("ImportOfAGoodFileSucceedsFromStdinAndExplicitKeysAreHonoured") {
  testing::EngineFixture f;
  f.engine.reset();
  const std::string file = f.dir.Sub("good.jsonl");
  WriteFile(file,
            "\xEF\xBB\xBF"
            R"({"command":"create_contact","id":"s1","first_name":"Sam","idempotency_key":"k-1"})"
            "\n"
            R"({"command":"share_contact","id":"s1","customer_id":"c1"})"
            "\n"
            R"({"command":"share_contact","id":"s1","customer_id":"c2","idempotency_key":"k-2"})");
  const std::string args = " --data " + f.dir.Sub("data") + " --tenant acme --actor migration";
  const Run run = Cledger(f.dir, "import - --verbose" + args + " < " + file);
  CHECK(run.status == 0);
  CHECK(Contains(run.out, "-:1: appended at position"));
  CHECK(Contains(run.out, "3 lines: 3 appended, 0 already imported, 0 rejected\n"));
  CHECK(run.err.empty());

  // A line changed in every byte but its key is the same command: nothing new.
  WriteFile(file,
            R"({"idempotency_key":"k-1","command":"create_contact","id":"s1","first_name":"Sam"})");
  const Run again = Cledger(f.dir, "import " + file + args);
  CHECK(again.status == 0);
  CHECK(again.out == "1 line: 0 appended, 1 already imported, 0 rejected\n");

  f.Reopen();
  const ContactView sam = f.Contact("s1");
  CHECK(sam.shared);
  CHECK(sam.customers.size() == 2);
  auto trail = f.engine->ContactHistory(testing::Reader(), "s1");
  REQUIRE(trail.ok());
  for (const AuditEntry& e : *trail) CHECK(e.actor == Actor{"migration", "owner"});
}

using testing::Child;
using testing::Spawn;

// Reads the child's stdout until it has printed `count` lines holding `marker` (or 20 s pass).
size_t AwaitLines(int fd, const std::string& marker, size_t count) {
  std::string out;
  size_t seen = 0;
  while (seen < count) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 20'000) <= 0) break;
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    seen = 0;
    for (size_t at = out.find(marker); at != std::string::npos; at = out.find(marker, at + 1)) {
      ++seen;
    }
  }
  return seen;
}

TEST_CASE("AnImportKilledHalfwayResumesWhenRunAgain") {
  testing::EngineFixture f;
  const uint64_t base = f.engine->ledger().GetHead().position;
  f.engine.reset();
  constexpr int kCustomers = 3000;
  std::string lines;
  for (int i = 0; i < kCustomers; ++i) {
    const std::string n = std::to_string(i);
    lines += R"({"command":"create_customer","id":"m)" + n + R"(","name":"Customer )" + n +
             R"(","email":"m)" + n + "@x.test\"}\n";
  }
  const std::string file = f.dir.Sub("customers.jsonl");
  WriteFile(file, lines);

  // Killed without warning once it has reported some lines appended.
  Child child = Spawn({"import", file, "--data", f.dir.Sub("data"), "--tenant", "acme", "-v"});
  const size_t seen = AwaitLines(child.out, ": appended at position", 50);
  kill(child.pid, SIGKILL);
  const testing::Ended killed = testing::Wait(child);
  REQUIRE(seen >= 50);
  REQUIRE(killed.signal == SIGKILL);

  const Run resumed =
      Cledger(f.dir, "import " + file + " --data " + f.dir.Sub("data") + " --tenant acme --json");
  CHECK(resumed.status == 0);
  const json::object summary = json::parse(resumed.out).as_object();
  const uint64_t already = summary.at("already_imported").to_number<uint64_t>();
  const uint64_t appended = summary.at("appended").to_number<uint64_t>();
  CHECK(already >= seen);
  CHECK(appended > 0);
  CHECK(already + appended == kCustomers);
  CHECK(summary.at("rejected") == 0);
  CHECK(summary.at("head") == base + kCustomers);

  // Every customer exactly once: one event each, nothing else appended.
  f.Reopen();
  CHECK(f.engine->ledger().GetHead().position == base + kCustomers);
  auto events = f.engine->ledger().Read(base + 1, kCustomers + 10);
  REQUIRE(events.ok());
  std::set<std::string> streams;
  for (const Event& e : *events) streams.insert(e.stream);
  CHECK(events->size() == kCustomers);
  CHECK(streams.size() == kCustomers);
  for (int i = 0; i < kCustomers; i += 97) {
    CHECK(f.engine->GetCustomer(testing::Reader(), "m" + std::to_string(i)).ok());
  }
}

TEST_CASE("ImportShowsProgressWithRateAndEtaOnATerminal") {
  testing::EngineFixture f;
  f.engine.reset();
  std::string lines;
  for (int i = 0; i < 200; ++i) {
    lines += R"({"command":"create_customer","id":"p)" + std::to_string(i) +
             R"(","name":"P","email":"p@x.test"})" + "\n";
  }
  WriteFile(f.dir.Sub("p.jsonl"), lines);
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(grantpt(master) == 0);
  REQUIRE(unlockpt(master) == 0);
  const int terminal = open(ptsname(master), O_RDWR | O_NOCTTY);
  REQUIRE(terminal >= 0);
  Child child = Spawn(
      {"import", f.dir.Sub("p.jsonl"), "--data", f.dir.Sub("data"), "--tenant", "acme"}, terminal);
  close(terminal);
  std::string shown;
  char buffer[4096];
  for (ssize_t n; (n = read(master, buffer, sizeof buffer)) > 0;) {
    shown.append(buffer, static_cast<size_t>(n));
  }
  const testing::Ended ended = testing::Wait(child);
  close(master);
  CHECK(ended.Exited(0));
  CHECK(Contains(shown, "import ["));
  CHECK(Contains(shown, "100%"));
  CHECK(Contains(shown, "/s"));
  CHECK(Contains(shown, "ETA"));
}

TEST_CASE("EverySubcommandExplainsItselfWithExamplesAndExitCodes") {
  testing::TempDir dir;
  for (const char* command : {"history", "audit export", "import"}) {
    const Run help = Cledger(dir, std::string(command) + " --help");
    CHECK(help.status == 0);
    CHECK(Contains(help.out, "Examples:\n  cledger " + std::string(command)));
    CHECK(Contains(help.out, "Exit codes: 0"));
  }
  CHECK(Contains(Cledger(dir, "audit export --help").out, "single quote"));
  CHECK(Contains(Cledger(dir, "import --help").out, "resumes"));
  CHECK(Cledger(dir, "import " + dir.Sub("missing.jsonl") + " --tenant acme").status == 2);
}

}  // namespace
}  // namespace cledger
