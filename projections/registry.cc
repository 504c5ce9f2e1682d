#include <algorithm>

#include "base/keys.h"
#include "projections/views.h"

namespace cledger::projections {

const std::vector<const Projection*>& All() {
  static const std::vector<const Projection*> all = {&kTenants, &kCustomers, &kContacts,
                                                     &kLinks,   &kEmails,    &kAudit};
  return all;
}

const Projection* Find(std::string_view name) {
  for (const Projection* p : All()) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

std::string TenantKey(std::string_view tenant, std::string_view rest) {
  std::string key;
  base::AppendComponent(key, tenant);
  key.append(rest);
  return key;
}

void Touch(SystemInfo& system, const Event& event) {
  if (system.version == 0) system.created_us = event.recorded_at_us;
  system.last_modified_us = event.recorded_at_us;
  system.version = event.stream_version;
}

}  // namespace cledger::projections
