// cledger audit export: one row per field change, as RFC 4180 CSV or JSON lines.
#include "cledger/audit_export.h"

#include <algorithm>
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
#include "tools/cledger/remote.h"

namespace cledger::cli::audit_tools {
namespace {

int Fail(const Status& s) {
  std::cerr << "cledger: " << Describe(s) << "\n";
  // What the ledger refuses as invalid (a field no trail records, a time the server cannot
  // read) is a bad argument, as a bad option is.
  return s.code() == Code::kInvalidArgument ? kExitUsage : kExitFailed;
}

struct ExportArgs {
  std::string data_dir = "./data";
  RemoteServer server;
  std::string tenant;
  std::string from;
  std::string to;
  std::string actor;
  std::string record;
  std::string field;
  std::string format;
  std::string output;
  bool bom = false;
};

uint64_t CountRows(const std::string& exported, bool csv) {
  const auto lines = static_cast<uint64_t>(std::count(exported.begin(), exported.end(), '\n'));
  return csv && lines > 0 ? lines - 1 : lines;  // the CSV's header row is not a row
}

// Writes the export (after a byte-order mark when asked); returns the number of data rows.
uint64_t WriteRows(std::ostream& out, const ExportArgs& a, const std::string& exported) {
  const bool csv = a.format == "csv";
  if (csv && a.bom) out << "\xEF\xBB\xBF";
  out << exported;
  return CountRows(exported, csv);
}

// To --output: complete or not at all (see WriteOutputFile).
int WriteExportFile(const ExportArgs& a, const std::string& exported) {
  uint64_t rows = 0;
  const Status written = WriteOutputFile(a.output, [&](std::ostream& out) {
    rows = WriteRows(out, a, exported);
    return static_cast<bool>(out.flush());
  });
  if (!written.ok()) {
    std::cerr << "cledger: " << written.message() << "\n";
    return kExitFailed;
  }
  std::cout << rows << (rows == 1 ? " row" : " rows") << " written to " << a.output << "\n";
  return kExitOk;
}

// The export as the server makes it (the token's tenant).
Result<std::string> ExportOnline(const ExportArgs& a, const api::AuditQuery& q) {
  auto reply = Remote(a.server, "GET",
                      "/v1/audit" + QueryString({{"actor", a.actor},
                                                 {"from", a.from},
                                                 {"to", a.to},
                                                 {"record", q.record},
                                                 {"field", q.field}}),
                      "", a.format == "csv" ? "text/csv" : "application/x-ndjson");
  if (!reply.ok()) return reply.status();
  return std::move(reply->body);
}

Result<std::string> ExportOffline(const ExportArgs& a, const api::AuditQuery& q) {
  auto engine = OpenOrExplain(a.data_dir);
  if (!engine) return Status(Code::kUnavailable, "not_opened", "");
  // A mistyped tenant would export an empty trail: say there is no such tenant instead.
  if (Status s = TenantExists(*engine, a.tenant); !s.ok()) return s;
  auto entries = api::QueryAudit(*engine, Auditor(a.tenant), q);
  if (!entries.ok()) return entries.status();
  return api::ExportAudit(
      *entries, a.tenant,
      a.format == "csv" ? api::AuditFormat::kCsv : api::AuditFormat::kJsonLines);
}

int RunExport(const ExportArgs& a) {
  api::AuditQuery q{a.actor, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max(), a.record, a.field};
  for (auto [name, text, out] :
       {std::tuple{"--from", &a.from, &q.from_us}, {"--to", &a.to, &q.to_us}}) {
    if (text->empty()) continue;
    const std::optional<int64_t> t = TimeOption(name, *text);
    if (!t) return kExitUsage;
    *out = *t;
  }
  if (q.from_us > q.to_us) {
    std::cerr << "cledger: --from is after --to\n";
    return kExitUsage;
  }
  if (!ReaderTargetOk(a.server.url, a.server.token, a.tenant)) return kExitUsage;
  auto exported = a.server.url.empty() ? ExportOffline(a, q) : ExportOnline(a, q);
  if (!exported.ok()) {
    if (exported.status().reason() == "not_opened") return OpenFailureExit(a.data_dir);
    if (exported.status().reason() == "server_unreachable") {
      std::cerr << "cledger: " << Describe(exported.status()) << "\n";
      return kExitUnavailable;
    }
    return Fail(exported.status());
  }
  if (CountRows(*exported, a.format == "csv") == 0) {  // say so, off stdout
    std::cerr << "cledger: no audit entries match\n";
  }
  if (!a.output.empty()) return WriteExportFile(a, *exported);
  WriteRows(std::cout, a, *exported);
  std::cout.flush();
  return std::cout ? kExitOk : kExitFailed;
}

}  // namespace

void AddAuditExport(CLI::App& app, Runner& run) {
  auto a = std::make_shared<ExportArgs>();
  auto* audit = app.add_subcommand("audit", "Audit trails for auditors");
  audit->require_subcommand(1);
  audit->footer("Example:\n  cledger audit export --data ./data --tenant acme --format csv");
  auto* cmd = audit->add_subcommand("export", "One row per field change, as CSV or JSON lines");
  auto* data = cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  AddServerOptions(cmd, a->server, data,
                   "A token that reads history (auditor, owner, admin, manager)");
  cmd->add_option("--tenant", a->tenant, "Tenant (with --data; a --server token names its own)");
  cmd->add_option("--format", a->format, "csv | jsonl")
      ->required()
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--from", a->from, "Only entries recorded at or after this RFC 3339 time");
  cmd->add_option("--to", a->to, "Only entries recorded at or before this RFC 3339 time");
  cmd->add_option("--actor", a->actor, "Only what this actor did");
  cmd->add_option("--record", a->record, "Only this contact's or customer's entries (its id)");
  cmd->add_option("--field", a->field,
                  "Only changes of this field, e.g. email (address covers address.lines …)");
  cmd->add_option("--output", a->output,
                  "Write to FILE instead of stdout: a file is replaced whole once written, a "
                  "device or FIFO written through, a symlink's target written");
  cmd->add_flag("--bom", a->bom, "Start the CSV with a UTF-8 byte-order mark (for Excel)");
  cmd->footer(
      "Columns: position, recorded_at, tenant, actor, role, record (its stream, e.g.\n"
      "contact-k1), operation, field, before, after, event_hash, correlation_id.\n"
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
      "  cledger audit export --data ./data --tenant acme --format csv --bom --output a.csv\n"
      "  cledger audit export --server http://127.0.0.1:8080 --token $AUDITOR --record k-42 \\\n"
      "      --field email --format csv\n\n"
      "Exit codes: 0 written · 1 reading or writing failed · 2 bad arguments ·\n" +
      std::string(kOpenFailure));
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunExport(*a); }); });
}

}  // namespace cledger::cli::audit_tools
