// Who may read customers, contacts and their history: the engine's queries ask it first.
#pragma once

#include <string>

#include "cledger/status.h"
#include "cledger/views.h"

namespace cledger {

inline bool CanRead(const Principal& who) {
  const std::string& role = who.actor.role;
  return !who.tenant.empty() &&
         (role == "owner" || role == "admin" || role == "manager" || role == "auditor");
}

inline Status CannotRead(const Principal& who) {
  return Status(Code::kPermissionDenied, "forbidden",
                "role '" + who.actor.role + "' may not read customers and contacts");
}

}  // namespace cledger
