// Sample events for tests: one of every type, with every field filled.
#pragma once

#include <vector>

#include "cledger/events.h"

namespace cledger::testing {

inline ContactFields FullContactFields() {
  ContactFields f;
  f.contact_type = "accounts";
  f.title = "Ms";
  f.first_name = "Ada";
  f.last_name = "Lovelace";
  f.company_name = "Analytical Engines Ltd";
  f.position = "Controller";
  f.department = "Finance";
  f.email = "ada@example.com";
  f.phones = {{"work", "+44 20 7946 0000"}, {"mobile", "+44 7700 900000"}};
  f.address = {{"12 St James's Square", "London"}, "SW1Y 4JH", "GB"};
  f.website = "https://example.com";
  f.dealer_code = "D-42";
  f.portal_enabled = true;
  f.communication = {{"billing", "support"}, "long", "monthly", {"dunning"}, {"outage"}};
  return f;
}

// An event as the ledger would record it, every envelope field set (hashes are placeholders:
// 0x0A… before, 0xB1… its own).
inline Event SampleEvent(EventBody body) {
  Event e;
  e.position = 7;
  e.tenant = "acme";
  e.stream = "contact-k1";
  e.stream_version = 3;
  e.event_id = "8f0c2d7e-7a4b-8c1d-9e2f-0a1b2c3d4e5f";
  e.correlation_id = "req-1";
  e.recorded_at_us = 1'790'000'000'000'000;
  e.actor = {"alice", "owner"};
  e.schema_version = 1;
  e.prev_hash.fill(0x0A);
  e.hash.fill(0xB1);
  e.body = std::move(body);
  return e;
}

inline std::vector<EventBody> OneOfEveryEventType() {
  return {TenantCreated{"acme", "standard"},
          TokenIssued{"ab12", {"alice", "owner"}},
          TokenRevoked{"ab12"},
          CustomerCreated{"c1", "Acme Corp", "billing@acme.test, ceo@acme.test", "long"},
          CustomerUpdated{"c1", "Acme Corporation", "billing@acme.test", "full"},
          CustomerDeleted{"c1"},
          ContactCreated{"k1", "c1", FullContactFields()},
          ContactEdited{"k1", FullContactFields()},
          ContactShared{"k1", "c2"},
          ContactUnlinked{"k1", "c2"},
          ContactConvertedToShared{"k1", "c1"},
          ContactRolesChanged{"k1", "c1", {"primary", "billing"}},
          ContactDeleted{"k1"},
          ContactRestored{"k1"},
          ContactPasswordReset{"k1", "$argon2id$v=19$m=65536,t=2,p=1$abc$def", true, true}};
}

}  // namespace cledger::testing
