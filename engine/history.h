// History: the audit trail of a contact, a customer or an actor, and a tenant's whole audit
// log. The audit projection is folded just after each commit (it may lag); every query here
// first lets it reach the head as of the query, so a reader sees the commands it has seen
// acknowledged.
//
// Thread-safety: any number of threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cledger/engine.h"
#include "engine/projection_host.h"
#include "engine/store/log_store.h"
#include "projections/views.h"

namespace cledger {

class History {
 public:
  History(store::LogStore& store, ProjectionHost& host) : store_(store), host_(host) {}

  // Each as the Engine method of the same name.
  Result<std::vector<AuditEntry>> ContactHistory(const Principal& who, const std::string& id,
                                                 const AsOf& as_of);
  Result<std::vector<AuditEntry>> CustomerHistory(const Principal& who, const std::string& id,
                                                  const AsOf& as_of);
  Result<std::vector<AuditEntry>> ActorHistory(const Principal& who, const std::string& actor_id,
                                               int64_t from_us, int64_t to_us);
  Result<std::vector<AuditEntry>> TenantAudit(const Principal& who, int64_t from_us, int64_t to_us);

 private:
  // The entries of one index under `id`, up to the position `as_of` names.
  Result<std::vector<AuditEntry>> Trail(const Principal& who, projections::AuditIndex index,
                                        const std::string& id, const AsOf& as_of);
  // The audit trail brought up to the head; the follower's failure when it cannot be.
  Status AwaitAudit();
  Result<std::vector<AuditEntry>> WithEventIds(Result<std::vector<AuditEntry>> entries);

  store::LogStore& store_;
  ProjectionHost& host_;
};

}  // namespace cledger
