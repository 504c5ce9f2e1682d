// cledger import: runs the commands of a JSON-lines file, idempotent and resumable.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/domain/roles.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/import_commands.h"
#include "tools/cledger/progress.h"

namespace cledger::cli::audit_tools {
namespace {

constexpr size_t kLineMax = size_t{1} << 20;

struct ImportArgs {
  std::string file;
  std::string data_dir = "./data";
  std::string tenant;
  std::string actor = "import";
  std::string role = "owner";
  bool dry_run = false;
  bool json = false;
  bool verbose = false;
  std::string master_key_file;  // empty: beside the data directory
};

// Reads lines without ever holding more than kLineMax bytes of one, so a file with a huge
// line cannot exhaust memory; counts the bytes read for the progress bar.
class LineReader {
 public:
  explicit LineReader(std::FILE* file) : file_(file) {}

  // The next line without its "\n" or "\r\n" (so a file keeps its keys whatever its line
  // endings); false at the end. `too_long` when the line is over kLineMax bytes: `line` then
  // holds only its beginning.
  bool Next(std::string& line, bool& too_long) {
    line.clear();
    too_long = false;
    bool any = false;
    int c = 0;
    while ((c = getc_unlocked(file_)) != EOF) {
      any = true;
      ++bytes_;
      if (c == '\n') break;
      if (line.size() <= kLineMax) {
        line.push_back(static_cast<char>(c));
      } else {
        too_long = true;
      }
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    too_long = too_long || line.size() > kLineMax;
    return any;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::FILE* file_;
  uint64_t bytes_ = 0;
};

struct Tally {
  uint64_t lines = 0;  // command lines: blank lines and comments do not count
  uint64_t appended = 0;
  uint64_t already = 0;
  uint64_t rejected = 0;
  uint64_t valid = 0;  // in a dry run
};

bool IsSkipped(std::string_view line) {
  const size_t start = line.find_first_not_of(" \t");
  return start == std::string_view::npos || line[start] == '#';
}

// Failures of the storage rather than of the line: going on would only fail again.
bool IsStorageFailure(const Status& s) {
  return s.code() == Code::kIoError || s.code() == Code::kCorruption ||
         s.code() == Code::kUnavailable;
}

// Runs the lines of one file, in order, each as one command; keeps the tally.
class Importer {
 public:
  Importer(const ImportArgs& args, Engine* engine) : args_(args), engine_(engine) {}

  // Runs one line; false when the import has to stop (the storage failed).
  bool Line(uint64_t number, std::string_view text, bool too_long) {
    if (IsSkipped(text)) return true;
    ++tally_.lines;
    if (too_long) {
      Reject(number, Status(Code::kLimitExceeded, "line_too_long", "the line is over 1 MiB"));
      return true;
    }
    auto parsed = ParseLine(text);
    if (!parsed.ok()) {
      Reject(number, parsed.status());
      return true;
    }
    if (engine_ == nullptr) {
      ++tally_.valid;
      Done(number, "valid", nullptr);
      return true;
    }
    return Execute(number, std::move(parsed).value());
  }
  const Tally& tally() const { return tally_; }

  // Waits for every command still in flight; false when one failed in storage.
  bool Drain() {
    bool ok = true;
    while (!in_flight_.empty()) ok = Settle() && ok;
    return ok;
  }

 private:
  // Commands in flight at once. The engine decides them in the order they were queued, so
  // a line still sees every line before it, while one durable sync serves many lines.
  static constexpr size_t kWindow = 256;

  bool Execute(uint64_t number, ImportCommand parsed) {
    const CommandContext context{args_.tenant,
                                 {args_.actor, args_.role},
                                 std::move(parsed.idempotency_key),
                                 std::nullopt,
                                 {}};
    in_flight_.emplace_back(number, engine_->ExecuteAsync(context, std::move(parsed.command)));
    while (in_flight_.size() > kWindow) {
      if (!Settle()) return false;
    }
    return true;
  }

  // Reports the oldest command in flight; false when it failed in storage.
  bool Settle() {
    auto [number, future] = std::move(in_flight_.front());
    in_flight_.pop_front();
    Result<CommandOutcome> outcome = future.get();
    if (outcome.ok()) {
      ++(outcome->replayed ? tally_.already : tally_.appended);
      Done(number, outcome->replayed ? "already_imported" : "appended", &*outcome);
      return true;
    }
    if (!IsStorageFailure(outcome.status())) {
      Reject(number, outcome.status());
      return true;
    }
    std::cerr << Where(number) << Printable(Describe(outcome.status()))
              << "\ncledger: import stopped; run the same command again to resume\n";
    return false;
  }

  // "FILE:LINE: ", after clearing the progress line so a report starts at the margin.
  std::string Where(uint64_t number) const {
    return std::string(tty_ ? "\r\033[K" : "") + Printable(args_.file) + ":" +
           std::to_string(number) + ": ";
  }

  void Reject(uint64_t number, const Status& s) {
    ++tally_.rejected;
    std::cerr << Where(number) << Printable(Describe(s)) << "\n";
    if (args_.verbose && args_.json) {
      std::cout << json::serialize(json::object{{"line", number},
                                                {"result", "rejected"},
                                                {"code", s.reason()},
                                                {"field", s.field()},
                                                {"message", s.message()}})
                << std::endl;
    }
  }

  // With --verbose, each line's result as it lands (flushed, for whoever watches the pipe).
  void Done(uint64_t number, const char* result, const CommandOutcome* outcome) {
    if (!args_.verbose) return;
    if (args_.json) {
      json::object o{{"line", number}, {"result", result}};
      if (outcome != nullptr) {
        o["id"] = outcome->id;
        o["first_position"] = outcome->first_position;
        o["last_position"] = outcome->last_position;
      }
      std::cout << json::serialize(o) << std::endl;
      return;
    }
    std::cout << Printable(args_.file) << ":" << number << ": ";
    if (outcome == nullptr) {
      std::cout << result << std::endl;
      return;
    }
    std::cout << (outcome->replayed ? "already imported" : "appended") << " at position "
              << outcome->first_position;
    if (outcome->last_position != outcome->first_position) {
      std::cout << "-" << outcome->last_position;
    }
    std::cout << " (id " << Printable(outcome->id) << ")" << std::endl;
  }

  const ImportArgs& args_;
  Engine* engine_;  // null in a dry run
  Tally tally_;
  std::deque<std::pair<uint64_t, std::future<Result<CommandOutcome>>>> in_flight_;
  const bool tty_ = isatty(STDERR_FILENO) != 0;
};

// The file's size, for the progress bar; 0 when it has none (a pipe).
uint64_t SizeOf(std::FILE* file) {
  struct stat st {};
  if (fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<uint64_t>(st.st_size);
}

// Feeds every line to `importer`; false when it stopped early.
bool ImportAll(std::FILE* file, const ImportArgs& a, Importer& importer) {
  const uint64_t total = SizeOf(file);
  std::optional<ProgressBar> bar;  // --verbose on a terminal is progress enough
  if (total > 0 && !(a.verbose && isatty(STDOUT_FILENO))) bar.emplace("import");
  LineReader reader(file);
  std::string line;
  bool too_long = false;
  for (uint64_t number = 1; reader.Next(line, too_long); ++number) {
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // an editor's BOM
    if (!importer.Line(number, line, too_long)) {
      importer.Drain();
      return false;
    }
    if (bar) bar->Update(reader.bytes(), total);
  }
  if (!importer.Drain()) return false;
  if (std::ferror(file)) {
    if (bar) bar->Finish();
    std::cerr << "cledger: reading " << a.file << " failed: " << std::strerror(errno) << "\n";
    return false;
  }
  return true;
}

void PrintSummary(const ImportArgs& a, const Tally& t, uint64_t head, bool finished) {
  if (a.json) {
    json::object o{
        {"file", a.file}, {"dry_run", a.dry_run}, {"completed", finished}, {"lines", t.lines}};
    if (a.dry_run) {
      o["valid"] = t.valid;
    } else {
      o["appended"] = t.appended;
      o["already_imported"] = t.already;
    }
    o["rejected"] = t.rejected;
    if (!a.dry_run) o["head"] = head;
    std::cout << json::serialize(o) << "\n";
  } else {
    std::cout << t.lines << (t.lines == 1 ? " line: " : " lines: ");
    if (a.dry_run) {
      std::cout << t.valid << " valid, " << t.rejected << " rejected (dry run: nothing appended)\n";
    } else {
      std::cout << t.appended << " appended, " << t.already << " already imported, " << t.rejected
                << " rejected\n";
    }
  }
  if (t.rejected > 0) {
    std::cerr << "cledger: fix or remove the rejected lines and run the same command again; "
                 "lines already imported are skipped\n";
  }
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

int RunImport(const ImportArgs& a) {
  std::FILE* file = a.file == "-" ? stdin : std::fopen(a.file.c_str(), "rb");
  if (file == nullptr) {
    std::cerr << "cledger: cannot read " << a.file << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  const std::unique_ptr<std::FILE, FileCloser> closer(file == stdin ? nullptr : file);
  std::unique_ptr<Engine> engine;
  if (!a.dry_run) {
    LedgerOptions options;  // imported contacts may carry passwords: the master key seals them
    options.path = a.data_dir;
    options.master_key_file = a.master_key_file;
    options.create_if_missing = false;  // a mistyped --data: no new, empty ledger
    engine = OpenOrExplain(options);
    if (!engine) return OpenFailureExit(a.data_dir);
    // Checked once: otherwise every line would be rejected for it.
    if (Status s = TenantExists(*engine, a.tenant); !s.ok()) {
      std::cerr << "cledger: " << s.message() << " in " << a.data_dir << " [" << s.reason()
                << "]; cledger tenant list --data " << a.data_dir << " lists them\n";
      return kExitFailed;
    }
  }
  Importer importer(a, engine.get());
  bool finished = ImportAll(file, a, importer);
  const uint64_t head = engine ? engine->ledger().GetHead().position : 0;
  engine.reset();  // closes the data directory
  PrintSummary(a, importer.tally(), head, finished);
  std::cout.flush();
  return finished && importer.tally().rejected == 0 ? kExitOk : kExitFailed;
}

// Actors are recorded on every event: printable and within the ledger's id limit.
std::string CheckActor(const std::string& actor) {
  if (actor.empty() || actor.size() > 128) return "the actor is 1 to 128 bytes";
  for (const char c : actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return "the actor must be printable";
  }
  return {};
}

// Every line is a command on customers and contacts: the role must be one that may run them.
std::string RolesThatManage() {
  std::string out;
  for (const domain::Role role : domain::kRoles) {
    if (!domain::Can(role, domain::Action::kManageRecords)) continue;
    out += (out.empty() ? "" : " | ") + std::string(domain::RoleName(role));
  }
  return out;
}
std::string CheckRole(const std::string& role) {
  if (domain::Can(role, domain::Action::kManageRecords)) return {};
  return "the role is one of " + RolesThatManage();
}

constexpr const char* kImportHelp =
    "Each line of FILE is one JSON object {\"command\": NAME, ...}; NAME and its keys:\n"
    "  create_customer    {id?, name, email, bill_format?}\n"
    "  update_customer    {id, name?, email?, bill_format?}\n"
    "  delete_customer    {id}\n"
    "  create_contact     {customer_id? (none: a shared contact), id?, contact fields...}\n"
    "  edit_contact       {id, the contact fields to change (null resets one)}\n"
    "  share_contact      {id, customer_id}\n"
    "  unlink_contact     {id, customer_id}\n"
    "  convert_to_shared  {id}\n"
    "  set_roles          {customer_id, contact_id, roles: [primary|billing|order|shipment]}\n"
    "  delete_contact     {id}\n"
    "  restore_contact    {id}\n"
    "Any line may add \"idempotency_key\". Blank lines and lines starting with # are skipped.\n"
    "Lines run in order, each one atomic commit by --actor with --role. Passwords are not\n"
    "importable (no password reset, no password on create_contact): a migration file must\n"
    "not hold them; set them through the API afterwards.\n\n"
    "Every line is validated. A bad line appends nothing and is reported on stderr as\n"
    "FILE:LINE: reason (code, field); the import goes on with the next line. Lines over\n"
    "1 MiB are rejected.\n\n"
    "Idempotent and resumable: a line without an idempotency_key gets one derived from its\n"
    "bytes (\"import-\" + the first 32 hex digits of the SHA-256 of the line without its line\n"
    "ending), so a line already committed reads \"already imported\" the next time and appends\n"
    "nothing. Running a file again is always safe, and an import interrupted anywhere (Ctrl-C,\n"
    "kill, crash, power loss) resumes when the same command is run again. Identical lines are\n"
    "one command: give them distinct idempotency_key values to run a command twice.\n\n"
    "Lines run in file order, each seeing the ones before it, up to 256 in flight at once so\n"
    "that one disk sync makes many lines durable; a line is reported only once durable.\n\n"
    "Prints \"N lines: A appended, S already imported, B rejected\" (--json: an object), and\n"
    "with --verbose each line's result. A progress bar with rate and ETA shows on a terminal,\n"
    "never when stderr is piped.\n\n"
    "Examples:\n"
    "  cledger import customers.jsonl --data ./data --tenant acme --dry-run\n"
    "  cledger import customers.jsonl --data ./data --tenant acme --actor migration-2026\n"
    "  gunzip -c legacy.jsonl.gz | cledger import - --data ./data --tenant acme --json\n"
    "  echo '{\"command\": \"delete_contact\", \"id\": \"k-42\"}' \\\n"
    "      | cledger import - --data ./data --tenant acme\n\n"
    "Exit codes: 0 every line imported now or before · 1 a line was rejected or the storage\n"
    "failed (fix, then run it again) · 2 bad arguments or FILE unreadable ·\n";

}  // namespace

void AddImport(CLI::App& app, Runner& run) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand(
      "import", "Run the commands of a JSON-lines file, for migrations (offline, resumable)");
  cmd->add_option("file", a->file, "FILE.jsonl, or - for stdin")->required();
  cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--master-key-file", a->master_key_file,
                  "The master key the server uses; default: <data>.master-key beside the data")
      ->type_name("FILE");
  cmd->add_option("--tenant", a->tenant, "Tenant the commands are for")->required();
  cmd->add_option("--actor", a->actor, "Actor recorded on every event")
      ->capture_default_str()
      ->check(CLI::Validator(CheckActor, ""));
  cmd->add_option("--role", a->role, RolesThatManage())
      ->capture_default_str()
      ->check(CLI::Validator(CheckRole, ""));
  cmd->add_flag("--dry-run", a->dry_run, "Validate every line; append nothing");
  cmd->add_flag("--json", a->json, "Print the summary (and --verbose results) as JSON");
  cmd->add_flag("-v,--verbose", a->verbose, "Print each line's result as it lands");
  cmd->footer(std::string(kImportHelp) + kOpenFailure);
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunImport(*a); }); });
}

}  // namespace cledger::cli::audit_tools
