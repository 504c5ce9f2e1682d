// A small libpq client for the cluster's log of record: one connection, statements with
// binary parameters and results (no quoting, no text parsing of bytea), LISTEN/NOTIFY.
//
// Thread-safety: a connection is used by one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cledger/status.h"

namespace cledger::cluster {

// A parameter as PostgreSQL's binary format wants it: Int() for bigint ($n::int8), Bytes()
// for bytea and text, Null() for NULL.
struct PgParam {
  std::string value;
  bool null = false;
  static PgParam Int(int64_t v);
  static PgParam Bytes(std::string_view v) { return {std::string(v)}; }
  static PgParam Null() { return {{}, true}; }
};

class PgRows {
 public:
  explicit PgRows(PGresult* result) : result_(result, PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  // Rows an UPDATE, INSERT or DELETE touched.
  int64_t affected() const;
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view Bytes(int row, int column) const;
  int64_t Int(int row, int column) const;  // a bigint column
  bool Bool(int row, int column) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

struct PgStatement {
  std::string sql;
  std::vector<PgParam> params;
};

class Pg {
 public:
  // Connects (libpq's DSN: several hosts and target_session_attrs=read-write find the
  // primary after a failover). Unavailable when no server answers.
  static Result<std::unique_ptr<Pg>> Connect(const std::string& dsn);
  ~Pg();

  // Runs one statement. Unavailable when the connection is gone (its outcome unknown);
  // Conflict "unique_violation" when a primary key refused a row; InvalidArgument otherwise.
  Result<PgRows> Exec(const std::string& sql, const std::vector<PgParam>& params = {});
  Status Run(const std::string& sql, const std::vector<PgParam>& params = {});
  // Sends every statement at once and then reads their results: one round trip. They form one
  // implicit transaction, committed once the last has run (nothing of it when one fails). The
  // first failure, in order; a failed statement's SQLSTATE is the Status's field.
  Status RunPipeline(const std::vector<PgStatement>& statements);
  // Waits up to `timeout_ms` for a notification on a channel this connection listens to.
  // True when one (or more) arrived; the connection's failure when it broke.
  Result<bool> AwaitNotification(int timeout_ms);
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }

 private:
  explicit Pg(PGconn* conn) : conn_(conn) {}
  PGconn* conn_;
};

// A DSN without its password, for messages.
std::string DescribeDsn(const std::string& dsn);

}  // namespace cledger::cluster
