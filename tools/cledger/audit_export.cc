// cledger audit export: one row per field change, as RFC 4180 CSV or JSON lines.
#include <array>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/time.h"
#include "cledger/json.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/output_file.h"

namespace cledger::cli::audit_tools {
namespace {

int Fail(const Status& s) {
  std::cerr << "cledger: " << Describe(s) << "\n";
  return kExitFailed;
}

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
                       base::Rfc3339Micros(e.recorded_at_us),
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

// To --output: complete or not at all (see WriteOutputFile).
int WriteExportFile(const ExportArgs& a, const std::vector<AuditEntry>& entries) {
  uint64_t rows = 0;
  const Status written = WriteOutputFile(a.output, [&](std::ostream& out) {
    rows = WriteRows(out, a, entries);
    return static_cast<bool>(out.flush());
  });
  if (!written.ok()) {
    std::cerr << "cledger: " << written.message() << "\n";
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
  if (!engine) return OpenFailureExit(a.data_dir);
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

}  // namespace

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
  cmd->add_option("--output", a->output,
                  "Write to FILE instead of stdout: a file is replaced whole once written, a "
                  "device or FIFO written through, a symlink's target written");
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

}  // namespace cledger::cli::audit_tools
