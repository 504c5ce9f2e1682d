// The audit trail as auditors take it away: a query with every filter the API and the CLI
// offer, and one row per field change as CSV or JSON lines. One implementation for
// `GET /v1/audit` (Accept: text/csv or application/x-ndjson) and `cledger audit export`, so a
// file made online and one made offline are the same. Part of ContactLedger::json.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "cledger/engine.h"
#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger::api {

struct AuditQuery {
  std::string actor;  // only what this actor did; "" every actor
  int64_t from_us = std::numeric_limits<int64_t>::min();  // recorded at or after
  int64_t to_us = std::numeric_limits<int64_t>::max();    // recorded at or before
  std::string record;  // only this contact's or customer's entries; "" every record
  std::string field;   // only changes of this field ("email", or "address" for all of it)
};

// The tenant's entries `query` keeps, in log order. A `record` the tenant never had is
// kNotFound (record_not_found); an entry kept for `field` holds only that field's changes.
Result<std::vector<AuditEntry>> QueryAudit(Engine& engine, const Principal& who,
                                           const AuditQuery& query);

enum class AuditFormat { kCsv, kJsonLines };

// The columns, in order: position, recorded_at, tenant, actor, role, record (its stream:
// "contact-k1", "customer-c1"), operation, field,
// before, after, event_hash, correlation_id. One row per field change; an entry that changed
// no field has one row with field, before and after empty. CSV is RFC 4180 (header row, CRLF)
// with a single quote before a cell starting with = + - @, tab or CR, so that no spreadsheet
// runs it as a formula; JSON lines keep every value exactly.
std::string ExportAudit(const std::vector<AuditEntry>& entries, const std::string& tenant,
                        AuditFormat format);

}  // namespace cledger::api
