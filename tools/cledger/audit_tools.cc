// Offline tools for auditors and migrations, each on a data directory it has to itself:
//   history       a contact or customer as it was then, with its audit trail up to then
//   audit export  one row per field change, as RFC 4180 CSV or JSON lines
//   import        JSON-lines commands: validated line by line, idempotent and resumable
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/api/json_mapping.h"
#include "events/hash.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/progress.h"

namespace cledger::cli {
namespace {

namespace json = boost::json;

constexpr const char* kOpenFailure =
    "3 the data directory could not be opened (is a server running on it?).";

// ---- Shared ------------------------------------------------------------------------------

// "message (reason, field)": the message for people, the stable reason for scripts and the
// offending field when there is one.
std::string Describe(const Status& s) {
  std::string out = s.message() + " (" + s.reason();
  if (!s.field().empty()) out += ", " + s.field();
  return out + ")";
}

int Fail(const Status& s) {
  std::cerr << "cledger: " << Describe(s) << "\n";
  return kExitFailed;
}

// Offline readers act as an auditor: allowed to read the whole tenant, never to change it.
Principal Auditor(const std::string& tenant) { return Principal{tenant, {"cli", "auditor"}}; }

// An RFC 3339 option value, or nullopt after saying on stderr why it is not one.
std::optional<int64_t> TimeOption(const char* name, const std::string& text) {
  auto parsed = api::ParseRfc3339(text);
  if (parsed.ok()) return *parsed;
  std::cerr << "cledger: " << name << ": " << parsed.status().message()
            << "; use RFC 3339, e.g. 2026-01-31T09:00:00Z\n";
  return std::nullopt;
}

// The work of a subcommand; a storage read that fails by exception ends it with exit 1 and a
// message rather than an abort.
void SetRunner(Runner& run, std::function<int()> work) {
  run = [work = std::move(work)] {
    try {
      return work();
    } catch (const std::exception& e) {
      std::cerr << "cledger: " << e.what() << "\n";
      return kExitFailed;
    }
  };
}

// True for a C1 control character (U+0080..U+009F) at `i`: some terminals obey them as
// escape sequences just like ESC.
bool IsC1At(std::string_view s, size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xC2 && i + 1 < s.size() &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9F;
}

// Text for a terminal: control characters are shown escaped, so a stored value can neither
// forge a line of the report nor drive the auditor's terminal.
std::string Printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 = IsC1At(s, i);
    if (c >= 0x20 && c != 0x7F && !c1) {
      out.push_back(s[i]);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x",
                    c1 ? static_cast<unsigned>(static_cast<unsigned char>(s[++i])) : c);
      out += buffer;
    }
  }
  return out;
}

// ---- history -----------------------------------------------------------------------------

struct HistoryArgs {
  std::string data_dir = "./data";
  std::string tenant;
  std::string contact;
  std::string customer;
  std::string as_of;
  uint64_t at = 0;
  bool json = false;
  CLI::Option* at_option = nullptr;
  CLI::Option* as_of_option = nullptr;
};

// The moment asked for, and how the report names it.
struct Moment {
  AsOf as_of;
  std::string caption;
};

std::optional<Moment> ResolveMoment(const HistoryArgs& a) {
  if (a.at_option->count() > 0) {
    if (a.at == 0) {
      std::cerr << "cledger: --at: positions start at 1\n";
      return std::nullopt;
    }
    return Moment{AsOf{a.at, std::nullopt}, "as of position " + std::to_string(a.at)};
  }
  if (a.as_of_option->count() > 0) {
    const std::optional<int64_t> t = TimeOption("--as-of", a.as_of);
    if (!t) return std::nullopt;
    return Moment{AsOf{std::nullopt, *t}, "as of " + api::Rfc3339Micros(*t)};
  }
  return Moment{AsOf{}, "now"};
}

// A contact or customer then: its view as JSON (the API's shape) and its trail up to then.
struct Record {
  std::string label;  // "Contact k1"
  json::object state;
  std::vector<AuditEntry> trail;
};

Result<Record> LoadRecord(Engine& engine, const HistoryArgs& a, const AsOf& as_of) {
  const Principal who = Auditor(a.tenant);
  if (!a.contact.empty()) {
    auto view = engine.GetContact(who, a.contact, as_of);
    if (!view.ok()) return view.status();
    auto trail = engine.ContactHistory(who, a.contact, as_of);
    if (!trail.ok()) return trail.status();
    return Record{"Contact " + a.contact, api::ToJson(*view), std::move(trail).value()};
  }
  auto view = engine.GetCustomer(who, a.customer, as_of);
  if (!view.ok()) return view.status();
  auto trail = engine.CustomerHistory(who, a.customer, as_of);
  if (!trail.ok()) return trail.status();
  return Record{"Customer " + a.customer, api::ToJson(*view), std::move(trail).value()};
}

// A JSON value as one readable line: strings bare, lists comma-separated, an object's values
// joined by spaces (a phone reads "work +44 20 7946 0000").
std::string Plain(const json::value& v) {
  const auto join = [](auto begin, auto end, const char* separator, auto value_of) {
    std::string out;
    for (auto it = begin; it != end; ++it) {
      const std::string part = Plain(value_of(*it));
      if (!part.empty()) out += (out.empty() ? "" : separator) + part;
    }
    return out;
  };
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::bool_:
      return v.get_bool() ? "yes" : "no";
    case json::kind::null:
      return "";
    case json::kind::array: {
      const json::array& a = v.get_array();
      return join(a.begin(), a.end(), ", ",
                  [](const json::value& e) -> const json::value& { return e; });
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      return join(o.begin(), o.end(), " ",
                  [](const json::key_value_pair& kv) -> const json::value& { return kv.value(); });
    }
    default:
      return json::serialize(v);
  }
}

using Rows = std::vector<std::pair<std::string, std::string>>;

// The record's own fields, nested objects flattened to "address.country" so the names match
// the audit trail's; empty ones are left out.
void CollectFields(const json::object& o, const std::string& prefix, Rows& out) {
  static constexpr std::array<std::string_view, 10> kNotFields = {
      "id",       "kind",    "profile",       "status",  "customers",
      "password", "created", "last_modified", "deleted", "version"};
  for (const auto& kv : o) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (prefix.empty() && std::ranges::find(kNotFields, key) != kNotFields.end()) continue;
    const std::string name = prefix + std::string(key);
    if (kv.value().is_object()) {
      CollectFields(kv.value().get_object(), name + ".", out);
    } else if (std::string text = Plain(kv.value()); !text.empty()) {
      out.emplace_back(name, std::move(text));
    }
  }
}

// Kind, status, links and password state: what the record is, beside what it holds.
Rows StatusRows(const json::object& s) {
  Rows rows;
  if (const json::value* kind = s.if_contains("kind")) {
    const json::value* profile = s.if_contains("profile");
    const bool is_profile = profile != nullptr && profile->is_bool() && profile->get_bool();
    rows.emplace_back("kind", Plain(*kind) + (is_profile ? " (profile contact, read-only)" : ""));
  }
  rows.emplace_back("status", Plain(s.at("status")));
  if (const json::value* customers = s.if_contains("customers")) {
    std::string links;
    for (const json::value& link : customers->get_array()) {
      const std::string roles = Plain(link.at("roles"));
      links += (links.empty() ? "" : " · ") + Plain(link.at("id")) +
               (roles.empty() ? "" : " (" + roles + ")");
    }
    rows.emplace_back("customers", links.empty() ? "none" : links);
  }
  if (const json::value* password = s.if_contains("password");
      password != nullptr && password->at("set").as_bool()) {
    rows.emplace_back("password", password->at("must_change").as_bool()
                                      ? "set, to be changed at next sign-in"
                                      : "set");
  }
  return rows;
}

Rows SystemRows(const json::object& s) {
  const json::value& deleted = s.at("deleted");
  return {{"created", Plain(s.at("created"))},
          {"last modified", Plain(s.at("last_modified"))},
          {"deleted", deleted.is_null() ? "—" : Plain(deleted)},
          {"version", Plain(s.at("version"))}};
}

void PrintTable(std::ostream& out, const Rows& rows) {
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, key.size());
  for (const auto& [key, value] : rows) {
    out << "  " << Printable(key) << std::string(width - key.size() + 2, ' ') << Printable(value)
        << "\n";
  }
}

// A trail value for people: "(empty)" rather than nothing, and the deletion time (which the
// trail keeps in microseconds) as RFC 3339 like every other time on the screen.
std::string Shown(const FieldChange& change, const std::string& value) {
  if (value.empty()) return "(empty)";
  if (change.field == "deleted" &&
      std::ranges::all_of(value, [](char c) { return c >= '0' && c <= '9'; }) &&
      value.size() <= 18) {
    return api::Rfc3339Micros(std::stoll(value));
  }
  return Printable(value);
}

void PrintTrail(std::ostream& out, const std::vector<AuditEntry>& trail) {
  out << "\nAudit trail (" << trail.size() << (trail.size() == 1 ? " entry" : " entries") << ")\n";
  for (const AuditEntry& e : trail) {
    out << "#" << e.position << "  " << api::Rfc3339Micros(e.recorded_at_us) << "  "
        << Printable(e.actor.id) << "(" << Printable(e.actor.role) << ")  "
        << Printable(e.operation) << "\n";
    for (const FieldChange& c : e.changes) {
      out << "    " << Printable(c.field) << ": " << Shown(c, c.before) << " → "
          << Shown(c, c.after) << "\n";
    }
  }
}

void PrintRecord(std::ostream& out, const Record& r, const std::string& caption) {
  out << r.label << " — " << caption << "\n\n";
  Rows fields;
  CollectFields(r.state, "", fields);
  PrintTable(out, fields);
  if (!fields.empty()) out << "\n";
  PrintTable(out, StatusRows(r.state));
  out << "\nSystem Information\n";
  PrintTable(out, SystemRows(r.state));
  PrintTrail(out, r.trail);
}

int RunHistory(const HistoryArgs& a) {
  const std::optional<Moment> moment = ResolveMoment(a);
  if (!moment) return kExitUsage;
  auto engine = OpenOrExplain(a.data_dir);
  if (!engine) return kExitUnavailable;
  auto record = LoadRecord(*engine, a, moment->as_of);
  if (!record.ok()) {
    std::cerr << "cledger: " << Describe(record.status()) << " in tenant '" << a.tenant << "'"
              << (a.as_of_option->count() + a.at_option->count() > 0 ? " " + moment->caption : "")
              << "\n";
    return kExitFailed;
  }
  if (a.json) {
    json::array history;
    for (const AuditEntry& e : record->trail) history.push_back(api::ToJson(e));
    std::cout << json::serialize(json::object{{"state", std::move(record->state)},
                                              {"history", std::move(history)}})
              << "\n";
  } else {
    PrintRecord(std::cout, *record, moment->caption);
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitFailed;
}

void AddHistory(CLI::App& app, Runner& run) {
  auto a = std::make_shared<HistoryArgs>();
  auto* cmd = app.add_subcommand(
      "history", "A contact or customer as it was, and its audit trail up to then (offline)");
  cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--tenant", a->tenant, "Tenant")->required();
  auto* which = cmd->add_option_group("record", "Which record (exactly one)");
  which->add_option("--contact", a->contact, "Contact id");
  which->add_option("--customer", a->customer, "Customer id");
  which->require_option(1);
  a->as_of_option = cmd->add_option("--as-of", a->as_of, "As of an RFC 3339 time");
  a->at_option = cmd->add_option("--at", a->at, "As of a ledger position");
  a->at_option->excludes(a->as_of_option);
  cmd->add_flag("--json", a->json, R"(Print {"state": ..., "history": [...]} for scripts)");
  cmd->footer(
      "Shows the record's fields, kind, status and links and its System Information (created,\n"
      "last modified, deleted, version) as they were then, and every audit-trail entry up to\n"
      "then: \"#position time actor(role) Operation\" with each changed field, before → after.\n"
      "Without --as-of or --at: as it is now. --as-of takes the last event at or before the "
      "time.\n\n"
      "Examples:\n"
      "  cledger history --data ./data --tenant acme --contact k-42\n"
      "  cledger history --data ./data --tenant acme --customer c1 --as-of 2026-01-31T09:00:00Z\n"
      "  cledger history --data ./data --tenant acme --contact k-42 --at 1200 --json\n\n"
      "Exit codes: 0 shown · 1 no such record then (or a storage error) · 2 bad arguments ·\n" +
      std::string(kOpenFailure));
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunHistory(*a); }); });
}

// ---- audit export ------------------------------------------------------------------------

struct ExportArgs {
  std::string data_dir = "./data";
  std::string tenant;
  std::string from;
  std::string to;
  std::string actor;
  std::string format;
  std::string output;
  bool bom = false;
};

constexpr std::array<std::string_view, 9> kColumns = {
    "position", "recorded_at", "actor", "role", "stream", "operation", "field", "before", "after"};
using ExportRow = std::array<std::string, kColumns.size()>;

// One row per field change; an entry that changed no field still gets one, so every event of
// the period is accounted for.
std::vector<ExportRow> RowsOf(const AuditEntry& e) {
  const ExportRow base{std::to_string(e.position),
                       api::Rfc3339Micros(e.recorded_at_us),
                       e.actor.id,
                       e.actor.role,
                       e.stream,
                       e.operation,
                       "",
                       "",
                       ""};
  if (e.changes.empty()) return {base};
  std::vector<ExportRow> rows;
  for (const FieldChange& c : e.changes) {
    ExportRow row = base;
    row[6] = c.field;
    row[7] = c.before;
    row[8] = c.after;
    rows.push_back(std::move(row));
  }
  return rows;
}

// RFC 4180 with one addition: a spreadsheet runs a cell that starts with = + - @ (or a tab or
// CR, which some strip first) as a formula, so such a cell gets a leading single quote, which
// they show as text (OWASP's advice against CSV injection).
std::string CsvCell(std::string_view value) {
  std::string cell;
  if (!value.empty() && std::string_view("=+-@\t\r").find(value.front()) != std::string::npos) {
    cell = "'";
  }
  cell += value;
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

template <typename Cells>
void WriteCsvRow(std::ostream& out, const Cells& cells) {
  bool first = true;
  for (const auto& cell : cells) {
    out << (first ? "" : ",") << CsvCell(cell);
    first = false;
  }
  out << "\r\n";
}

// JSON lines keep every value exactly (no formula guard: no spreadsheet reads them).
void WriteJsonRow(std::ostream& out, const ExportRow& row) {
  json::object o;
  for (size_t i = 0; i < kColumns.size(); ++i) {
    const json::string_view key(kColumns[i].data(), kColumns[i].size());
    if (i == 0) {
      o[key] = std::stoull(row[0]);
    } else {
      o[key] = row[i];
    }
  }
  out << json::serialize(o) << "\n";
}

// Writes the export; returns the number of data rows.
uint64_t WriteRows(std::ostream& out, const ExportArgs& a, const std::vector<AuditEntry>& entries) {
  const bool csv = a.format == "csv";
  if (csv && a.bom) out << "\xEF\xBB\xBF";
  if (csv) WriteCsvRow(out, kColumns);
  uint64_t count = 0;
  for (const AuditEntry& e : entries) {
    for (const ExportRow& row : RowsOf(e)) {
      csv ? WriteCsvRow(out, row) : WriteJsonRow(out, row);
      ++count;
    }
  }
  return count;
}

// To a file, through "FILE.partial" renamed at the end, so a FILE that exists is complete.
int WriteExportFile(const ExportArgs& a, const std::vector<AuditEntry>& entries) {
  const std::string partial = a.output + ".partial";
  std::ofstream file(partial, std::ios::binary | std::ios::trunc);
  uint64_t rows = 0;
  if (file) rows = WriteRows(file, a, entries);
  file.close();
  std::error_code ec;
  if (file) std::filesystem::rename(partial, a.output, ec);
  if (!file || ec) {
    std::cerr << "cledger: cannot write " << a.output << ": "
              << (ec ? ec.message() : std::strerror(errno)) << "\n";
    std::filesystem::remove(partial, ec);
    return kExitFailed;
  }
  std::cout << rows << (rows == 1 ? " row" : " rows") << " written to " << a.output << "\n";
  return kExitOk;
}

int RunExport(const ExportArgs& a) {
  int64_t from = std::numeric_limits<int64_t>::min();
  int64_t to = std::numeric_limits<int64_t>::max();
  for (auto [name, text, out] : {std::tuple{"--from", &a.from, &from}, {"--to", &a.to, &to}}) {
    if (text->empty()) continue;
    const std::optional<int64_t> t = TimeOption(name, *text);
    if (!t) return kExitUsage;
    *out = *t;
  }
  if (from > to) {
    std::cerr << "cledger: --from is after --to\n";
    return kExitUsage;
  }
  auto engine = OpenOrExplain(a.data_dir);
  if (!engine) return kExitUnavailable;
  const Principal who = Auditor(a.tenant);
  auto entries = a.actor.empty() ? engine->TenantAudit(who, from, to)
                                 : engine->ActorHistory(who, a.actor, from, to);
  if (!entries.ok()) return Fail(entries.status());
  if (entries->empty()) {  // most often a mistyped tenant or actor: say so, off stdout
    std::cerr << "cledger: no audit entries for tenant '" << a.tenant << "'"
              << (a.actor.empty() ? "" : " and actor '" + a.actor + "'")
              << (a.from.empty() && a.to.empty() ? "" : " in that period") << "\n";
  }
  if (!a.output.empty()) return WriteExportFile(a, *entries);
  WriteRows(std::cout, a, *entries);
  std::cout.flush();
  return std::cout ? kExitOk : kExitFailed;
}

void AddAuditExport(CLI::App& app, Runner& run) {
  auto a = std::make_shared<ExportArgs>();
  auto* audit = app.add_subcommand("audit", "Audit trails for auditors (offline)");
  audit->require_subcommand(1);
  audit->footer("Example:\n  cledger audit export --data ./data --tenant acme --format csv");
  auto* cmd = audit->add_subcommand("export", "One row per field change, as CSV or JSON lines");
  cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--tenant", a->tenant, "Tenant")->required();
  cmd->add_option("--format", a->format, "csv | jsonl")
      ->required()
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--from", a->from, "Only entries recorded at or after this RFC 3339 time");
  cmd->add_option("--to", a->to, "Only entries recorded at or before this RFC 3339 time");
  cmd->add_option("--actor", a->actor, "Only what this actor did");
  cmd->add_option("--output", a->output, "Write to FILE instead of stdout");
  cmd->add_flag("--bom", a->bom, "Start the CSV with a UTF-8 byte-order mark (for Excel)");
  cmd->footer(
      "Columns: position, recorded_at, actor, role, stream, operation, field, before, after.\n"
      "One row per field change; an event that changed no field has one row with the last\n"
      "three empty. Times are RFC 3339 UTC; --from and --to are inclusive.\n\n"
      "CSV follows RFC 4180: a header row, CRLF line endings, UTF-8, and a cell holding a\n"
      "comma, a double quote, CR or LF is quoted, its quotes doubled. So that a spreadsheet\n"
      "never runs a cell as a formula, a cell starting with = + - @, a tab or CR is written\n"
      "with a leading single quote ('); programs should strip it, or read --format jsonl,\n"
      "which keeps every value exactly. Excel needs --bom to read UTF-8.\n\n"
      "Examples:\n"
      "  cledger audit export --data ./data --tenant acme --format csv > audit.csv\n"
      "  cledger audit export --data ./data --tenant acme --actor alice --format jsonl \\\n"
      "      --from 2026-01-01T00:00:00Z --to 2026-01-31T23:59:59Z\n"
      "  cledger audit export --data ./data --tenant acme --format csv --bom --output a.csv\n\n"
      "Exit codes: 0 written · 1 reading or writing failed · 2 bad arguments ·\n" +
      std::string(kOpenFailure));
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunExport(*a); }); });
}

// ---- import: one line into a command ----------------------------------------------------

constexpr size_t kLineMax = size_t{1} << 20;

Status Invalid(std::string reason, std::string message, std::string field = {}) {
  return Status(Code::kInvalidArgument, std::move(reason), std::move(message), std::move(field));
}

// A caller's key as a message may quote it: short, and without control characters.
std::string SafeKey(std::string_view key) {
  std::string out = Printable(key.substr(0, 40));
  return key.size() > 40 ? out + "..." : out;
}

// Moves the string `key` out of `o` into `out`; an absent key is an error when `required`.
Status Take(json::object& o, std::string_view key, std::string& out, bool required = true) {
  const std::string name(key);
  auto it = o.find(json::string_view(key.data(), key.size()));
  if (it == o.end()) {
    return required ? Invalid("required", name + " is required", name) : Status::Ok();
  }
  if (!it->value().is_string()) return Invalid("invalid_type", name + " must be a string", name);
  out = std::string(it->value().get_string());
  o.erase(it);
  return Status::Ok();
}

// The first key of `o` not in `allowed` is an unknown field.
Status OnlyKeys(const json::object& o, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (std::ranges::find(allowed, key) == allowed.end()) {
      return Invalid("unknown_field", "unknown field \"" + SafeKey(key) + "\"", SafeKey(key));
    }
  }
  return Status::Ok();
}

template <typename T>
Result<Command> AsCommand(Result<T> parsed) {
  if (!parsed.ok()) return parsed.status();
  return Command(std::move(parsed).value());
}

Result<Command> BuildUpdateCustomer(json::object& o) {
  std::string id;
  if (Status s = Take(o, "id", id); !s.ok()) return s;
  auto update = api::UpdateCustomerFromJson(o);
  if (update.ok()) update->id = id;
  return AsCommand(std::move(update));
}

Result<Command> BuildCreateContact(json::object& o) {
  if (o.contains("password")) {
    return Status(Code::kInvalidArgument, "not_importable",
                  "passwords are not importable; set them through the API after the import",
                  "password");
  }
  std::string customer_id;
  if (Status s = Take(o, "customer_id", customer_id, false); !s.ok()) return s;
  return AsCommand(api::CreateContactFromJson(o, customer_id));
}

Result<Command> BuildEditContact(json::object& o) {
  std::string id;
  if (Status s = Take(o, "id", id); !s.ok()) return s;
  auto patch = api::ContactPatchFromJson(o);
  if (!patch.ok()) return patch.status();
  return Command(EditContact{id, std::move(patch).value()});
}

// {id}: DeleteCustomer, ConvertToShared, DeleteContact, RestoreContact.
template <typename T>
Result<Command> BuildById(json::object& o) {
  std::string id;
  Status s = OnlyKeys(o, {"id"});
  if (s.ok()) s = Take(o, "id", id);
  if (!s.ok()) return s;
  return Command(T{id});
}

// {id, customer_id}: ShareContact, UnlinkContact.
template <typename T>
Result<Command> BuildLink(json::object& o) {
  std::string id;
  std::string customer_id;
  Status s = OnlyKeys(o, {"id", "customer_id"});
  if (s.ok()) s = Take(o, "id", id);
  if (s.ok()) s = Take(o, "customer_id", customer_id);
  if (!s.ok()) return s;
  return Command(T{id, customer_id});
}

Result<Command> BuildSetRoles(json::object& o) {
  std::string customer_id;
  std::string contact_id;
  Status s = OnlyKeys(o, {"customer_id", "contact_id", "roles"});
  if (s.ok()) s = Take(o, "customer_id", customer_id);
  if (s.ok()) s = Take(o, "contact_id", contact_id);
  if (!s.ok()) return s;
  auto roles = api::RolesFromJson(o);
  if (!roles.ok()) return roles.status();
  return Command(SetLinkRoles{customer_id, contact_id, std::move(roles).value()});
}

struct Importable {
  std::string_view name;
  Result<Command> (*build)(json::object&);
};

constexpr std::array<Importable, 11> kImportable = {{
    {"create_customer", [](json::object& o) { return AsCommand(api::CreateCustomerFromJson(o)); }},
    {"update_customer", BuildUpdateCustomer},
    {"delete_customer", BuildById<DeleteCustomer>},
    {"create_contact", BuildCreateContact},
    {"edit_contact", BuildEditContact},
    {"share_contact", BuildLink<ShareContact>},
    {"unlink_contact", BuildLink<UnlinkContact>},
    {"convert_to_shared", BuildById<ConvertToShared>},
    {"set_roles", BuildSetRoles},
    {"delete_contact", BuildById<DeleteContact>},
    {"restore_contact", BuildById<RestoreContact>},
}};

// Commands that exist but have no place in a migration file: a password would sit in it in
// plain text, and tenants and tokens are ops work with commands of their own.
Status NotImportable(std::string_view name) {
  const std::string why = name.find("password") != std::string_view::npos
                              ? "password resets are not importable; reset them through the API"
                              : "ops commands are not importable; use cledger tenant or token";
  return Status(Code::kInvalidArgument, "not_importable", why, "command");
}

Result<Command> CommandFromJson(const std::string& name, json::object& o) {
  for (const Importable& known : kImportable) {
    if (known.name == name) return known.build(o);
  }
  for (std::string_view never : {"reset_password", "password_reset", "set_password",
                                 "create_tenant", "issue_token", "revoke_token"}) {
    if (never == name) return NotImportable(name);
  }
  std::string names;
  for (const Importable& known : kImportable) {
    names += (names.empty() ? "" : ", ") + std::string(known.name);
  }
  return Invalid("unknown_command", "unknown command \"" + SafeKey(name) + "\"; one of " + names,
                 "command");
}

struct ImportCommand {
  Command command;
  std::string idempotency_key;
};

// The command on one line. Without an idempotency_key the line's own bytes name it, so the
// same line run again, in this file or a re-run of it, is recognised and appends nothing.
Result<ImportCommand> ParseLine(std::string_view line) {
  auto o = api::ParseObject(line);
  if (!o.ok()) {  // the parser speaks of request bodies
    std::string message = o.status().message();
    if (message.starts_with("the body")) message.replace(0, 8, "the line");
    return Status(o.status().code(), o.status().reason(), message, o.status().field());
  }
  std::string name;
  std::string key;
  const bool keyed = o->contains("idempotency_key");
  Status s = Take(*o, "command", name);
  if (s.ok()) s = Take(*o, "idempotency_key", key, false);
  if (s.ok() && keyed && key.empty()) {
    s = Invalid("invalid_value", "idempotency_key must not be empty; leave it out to derive one",
                "idempotency_key");
  }
  if (!s.ok()) return s;
  auto command = CommandFromJson(name, *o);
  if (!command.ok()) return command.status();
  if (key.empty()) key = "import-" + events::Sha256Hex(line).substr(0, 32);
  return ImportCommand{std::move(command).value(), std::move(key)};
}

// ---- import: reading and running ---------------------------------------------------------

struct ImportArgs {
  std::string file;
  std::string data_dir = "./data";
  std::string tenant;
  std::string actor = "import";
  std::string role = "owner";
  bool dry_run = false;
  bool json = false;
  bool verbose = false;
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
    engine = OpenOrExplain(a.data_dir);
    if (!engine) return kExitUnavailable;
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

void AddImport(CLI::App& app, Runner& run) {
  auto a = std::make_shared<ImportArgs>();
  auto* cmd = app.add_subcommand(
      "import", "Run the commands of a JSON-lines file, for migrations (offline, resumable)");
  cmd->add_option("file", a->file, "FILE.jsonl, or - for stdin")->required();
  cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--tenant", a->tenant, "Tenant the commands are for")->required();
  cmd->add_option("--actor", a->actor, "Actor recorded on every event")
      ->capture_default_str()
      ->check(CLI::Validator(CheckActor, ""));
  cmd->add_option("--role", a->role, "owner | admin | manager")
      ->capture_default_str()
      ->check(CLI::IsMember({"owner", "admin", "manager"}));
  cmd->add_flag("--dry-run", a->dry_run, "Validate every line; append nothing");
  cmd->add_flag("--json", a->json, "Print the summary (and --verbose results) as JSON");
  cmd->add_flag("-v,--verbose", a->verbose, "Print each line's result as it lands");
  cmd->footer(std::string(kImportHelp) + kOpenFailure);
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunImport(*a); }); });
}

}  // namespace

void AddAuditTools(CLI::App& app, Runner& run) {
  AddHistory(app, run);
  AddAuditExport(app, run);
  AddImport(app, run);
}

}  // namespace cledger::cli
