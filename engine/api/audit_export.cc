#include "cledger/audit_export.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <string_view>

#include "base/text.h"
#include "base/time.h"
#include "projections/views.h"

namespace cledger::api {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 12> kColumns = {
    "position",  "recorded_at", "tenant", "actor", "role",       "record",
    "operation", "field",       "before", "after", "event_hash", "correlation_id"};
using Row = std::array<std::string, kColumns.size()>;

std::vector<Row> RowsOf(const AuditEntry& e, const std::string& tenant) {
  const Row base{std::to_string(e.position),
                 base::Rfc3339Micros(e.recorded_at_us),
                 tenant,
                 e.actor.id,
                 e.actor.role,
                 e.stream,
                 e.operation,
                 "",
                 "",
                 "",
                 e.event_hash,
                 e.correlation_id};
  if (e.changes.empty()) return {base};
  std::vector<Row> rows;
  for (const FieldChange& c : e.changes) {
    Row row = base;
    row[7] = c.field;
    row[8] = c.before;
    row[9] = c.after;
    rows.push_back(std::move(row));
  }
  return rows;
}

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
void AppendCsvRow(std::string& out, const Cells& cells) {
  bool first = true;
  for (const auto& cell : cells) {
    out += first ? "" : ",";
    out += CsvCell(cell);
    first = false;
  }
  out += "\r\n";
}

void AppendJsonRow(std::string& out, const Row& row) {
  json::object o;
  for (size_t i = 0; i < kColumns.size(); ++i) {
    const json::string_view key(kColumns[i].data(), kColumns[i].size());
    if (i == 0) {
      o[key] = std::stoull(row[0]);
    } else {
      o[key] = row[i];
    }
  }
  out += json::serialize(o);
  out += '\n';
}

// The entries of one record: a contact's and a customer's with that id (ids of the two kinds
// may coincide), merged in log order.
Result<std::vector<AuditEntry>> RecordEntries(Engine& engine, const Principal& who,
                                              const std::string& id) {
  std::vector<AuditEntry> entries;
  bool found = false;
  for (auto trail : {engine.ContactHistory(who, id, {}), engine.CustomerHistory(who, id, {})}) {
    if (!trail.ok() && trail.status().code() != Code::kNotFound) return trail.status();
    if (!trail.ok()) continue;
    found = true;
    entries.insert(entries.end(), trail->begin(), trail->end());
  }
  if (!found) {
    // The trail's `record` column shows streams ("contact-k1"); the filter takes the id.
    std::string hint;
    for (std::string_view kind : {"contact-", "customer-"}) {
      if (id.starts_with(kind) && id.size() > kind.size()) {
        hint = " (that is a stream's name; give the record's id: " + id.substr(kind.size()) + ")";
      }
    }
    return Status::NotFound("record_not_found", "no contact or customer '" + id + "'" + hint);
  }
  std::sort(entries.begin(), entries.end(),
            [](const AuditEntry& a, const AuditEntry& b) { return a.position < b.position; });
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const AuditEntry& a, const AuditEntry& b) {
                              return a.position == b.position;
                            }),
                entries.end());
  return entries;
}

}  // namespace

Result<std::vector<AuditEntry>> QueryAudit(Engine& engine, const Principal& who,
                                           const AuditQuery& q) {
  if (!q.field.empty() && !projections::IsAuditedField(q.field)) {
    // The names alone pass the bound on a detail's length: the API description lists them.
    std::string detail =
        "field names no field a trail records, e.g. email, first_name, address (or "
        "address.lines), phones (or phones[0] to phones[3]), customers[<id>].roles, password";
    if (auto meant = base::Nearest(q.field, projections::AuditedFieldNames())) {
      detail += "; did you mean \"" + std::string(*meant) + "\"?";
    }
    return Status::InvalidArgument("invalid_query", std::move(detail), "field");
  }
  auto entries = !q.record.empty()  ? RecordEntries(engine, who, q.record)
                 : !q.actor.empty() ? engine.ActorHistory(who, q.actor, q.from_us, q.to_us)
                                    : engine.TenantAudit(who, q.from_us, q.to_us);
  if (!entries.ok()) return entries;
  std::erase_if(*entries, [&](AuditEntry& e) {
    if (e.recorded_at_us < q.from_us || e.recorded_at_us > q.to_us) return true;
    if (!q.actor.empty() && e.actor.id != q.actor) return true;
    if (q.field.empty()) return false;
    std::erase_if(e.changes, [&](const FieldChange& c) {
      return !projections::AuditFieldCovers(q.field, c.field);
    });
    return e.changes.empty();
  });
  return entries;
}

std::string ExportAudit(const std::vector<AuditEntry>& entries, const std::string& tenant,
                        AuditFormat format) {
  std::string out;
  if (format == AuditFormat::kCsv) AppendCsvRow(out, kColumns);
  for (const AuditEntry& e : entries) {
    for (const Row& row : RowsOf(e, tenant)) {
      format == AuditFormat::kCsv ? AppendCsvRow(out, row) : AppendJsonRow(out, row);
    }
  }
  return out;
}

}  // namespace cledger::api
