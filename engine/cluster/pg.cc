#include "engine/cluster/pg.h"

#include <poll.h>

#include <algorithm>
#include <cstring>

namespace cledger::cluster {
namespace {

uint64_t BigEndian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Status Failure(PGconn* conn, PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (PQstatus(conn) != CONNECTION_OK || state == nullptr) {
    return Status::Unavailable("log_of_record_unavailable", "PostgreSQL: " + message);
  }
  if (std::strcmp(state, "23505") == 0) {
    return Status(Code::kConflict, "unique_violation", "PostgreSQL: " + message);
  }
  // Class 08 (connection), 57 (operator intervention: shutdown, terminated), 25006 (read-only
  // transaction on a standby): the server is going away or is not the primary.
  if (std::strncmp(state, "08", 2) == 0 || std::strncmp(state, "57", 2) == 0 ||
      std::strcmp(state, "25006") == 0) {
    return Status::Unavailable("log_of_record_unavailable", "PostgreSQL: " + message);
  }
  return Status::InvalidArgument("log_of_record_error",
                                 "PostgreSQL (" + std::string(state) + "): " + message, state);
}

}  // namespace

PgParam PgParam::Int(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v = static_cast<int64_t>(static_cast<uint64_t>(v) >> 8);
  }
  return {out};
}

int64_t PgRows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return n == nullptr || *n == '\0' ? 0 : std::stoll(n);
}

std::string_view PgRows::Bytes(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

int64_t PgRows::Int(int row, int column) const {
  std::string_view v = Bytes(row, column);
  return static_cast<int64_t>(BigEndian(v.data(), v.size()));
}

bool PgRows::Bool(int row, int column) const {
  std::string_view v = Bytes(row, column);
  return !v.empty() && v[0] != 0;
}

Result<std::unique_ptr<Pg>> Pg::Connect(const std::string& dsn) {
  // A server that vanishes without closing the connection (a machine lost, a partition) must
  // not hold a writer or a follower for the kernel's default hours: keepalives and a TCP
  // timeout end the connection within seconds. A keyword DSN's own settings win over these; a
  // URI gets them as parameters after its own.
  std::string with_timeouts =
      "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 "
      "tcp_user_timeout=15000 connect_timeout=5 ";
  const bool uri = dsn.starts_with("postgres://") || dsn.starts_with("postgresql://");
  if (uri) {
    std::string query = with_timeouts;
    std::replace(query.begin(), query.end(), ' ', '&');
    query.pop_back();
    with_timeouts = dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + query;
  } else {
    with_timeouts += dsn;
  }
  PGconn* conn = PQconnectdb(with_timeouts.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return Status::Unavailable("log_of_record_unavailable",
                               "cannot reach PostgreSQL at " + DescribeDsn(dsn) + ": " + message);
  }
  return std::unique_ptr<Pg>(new Pg(conn));
}

Pg::~Pg() { PQfinish(conn_); }

Result<PgRows> Pg::Exec(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const PgParam& p : params) {
    values.push_back(p.null ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(1);
  }
  PGresult* result =
      PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                   lengths.data(), formats.data(), /*resultFormat=*/1);
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Status failure = Failure(conn_, result);
    PQclear(result);
    return failure;
  }
  return PgRows(result);
}

Status Pg::RunPipeline(const std::vector<PgStatement>& statements) {
  if (PQenterPipelineMode(conn_) != 1) return Failure(conn_, nullptr);
  for (const PgStatement& statement : statements) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const PgParam& p : statement.params) {
      values.push_back(p.null ? nullptr : p.value.data());
      lengths.push_back(static_cast<int>(p.value.size()));
      formats.push_back(1);
    }
    if (PQsendQueryParams(conn_, statement.sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), lengths.data(), formats.data(), 1) != 1) {
      return Failure(conn_, nullptr);
    }
  }
  if (PQpipelineSync(conn_) != 1) return Failure(conn_, nullptr);
  Status first = Status::Ok();
  for (size_t i = 0; i < statements.size(); ++i) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) return Failure(conn_, nullptr);
    const ExecStatusType status = PQresultStatus(result);
    if (first.ok() && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      first = Failure(conn_, result);
    }
    PQclear(result);
    // Each statement's results end with a null.
    while (PGresult* rest = PQgetResult(conn_)) PQclear(rest);
  }
  PGresult* sync = PQgetResult(conn_);  // PGRES_PIPELINE_SYNC: the implicit commit is done
  if (sync == nullptr) return Failure(conn_, nullptr);
  PQclear(sync);
  if (PQexitPipelineMode(conn_) != 1) return Failure(conn_, nullptr);
  return first;
}

Status Pg::Run(const std::string& sql, const std::vector<PgParam>& params) {
  auto rows = Exec(sql, params);
  return rows.ok() ? Status::Ok() : rows.status();
}

Result<bool> Pg::AwaitNotification(int timeout_ms) {
  auto drain = [&] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (PQconsumeInput(conn_) == 0) return Failure(conn_, nullptr);
  if (drain()) return true;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) return Failure(conn_, nullptr);
  if (poll(&fd, 1, timeout_ms) <= 0) return false;
  if (PQconsumeInput(conn_) == 0) return Failure(conn_, nullptr);
  return drain();
}

// Only where it points: host, port, database and user, never a password or other setting,
// whatever form the DSN has (keywords, quoted values, a URI with user:password@).
std::string DescribeDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return "(an unreadable connection string)";
  std::string out;
  for (const PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    const std::string_view keyword = o->keyword;
    if (o->val == nullptr || *o->val == '\0' ||
        (keyword != "host" && keyword != "hostaddr" && keyword != "port" && keyword != "dbname" &&
         keyword != "user")) {
      continue;
    }
    out += (out.empty() ? "" : " ") + std::string(keyword) + "=" + o->val;
  }
  PQconninfoFree(options);
  return out.empty() ? "(the default PostgreSQL)" : out;
}

}  // namespace cledger::cluster
