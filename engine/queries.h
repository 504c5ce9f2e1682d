// The engine's reads of current (and, through time travel, past) views: tokens, contacts,
// customers, a customer's contact list and its recipients. The domain decides what the
// profile contact is and who receives what; this class only reads.
//
// Thread-safety: any number of threads at once.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cledger/engine.h"
#include "engine/domain/credentials.h"
#include "engine/domain/recipients.h"
#include "engine/projection_host.h"
#include "engine/snapshot.h"
#include "engine/store/log_store.h"
#include "engine/time_travel.h"

namespace cledger {

// The principals of the tokens this process authenticated lately, by digest: a request need
// not read its token from the tenants projection again. Entries hold while the ledger has
// written no revocation since they were read (nothing else ends a token early: an expiry is
// checked at each use); the count is read before the lookup, so a revocation written during
// it is seen by the next request. Thread-safe.
class TokenMemory {
 public:
  std::optional<Principal> Find(const std::string& digest, uint64_t revocations);
  void Keep(const std::string& digest, const Principal& principal, uint64_t revocations);

 private:
  // Entries looked up at another count are forgotten; a count older than theirs keeps them.
  bool Current(uint64_t revocations);  // REQUIRES: mu_
  std::mutex mu_;
  uint64_t revocations_ = 0;  // the count every entry was read at
  std::unordered_map<std::string, Principal> principals_;
};

class Queries {
 public:
  Queries(store::LogStore& store, ProjectionHost& host, std::shared_ptr<Clock> clock,
          const std::optional<domain::CredentialKeys>& keys)
      : store_(store), host_(host), clock_(std::move(clock)), keys_(keys), travel_(store, host) {}

  // Each as the Engine method of the same name.
  Result<Principal> Authenticate(const std::string& token);
  Result<std::vector<TokenInfo>> ListTokens(const Principal& who,
                                            const std::optional<std::string>& tenant);
  Result<ContactView> GetContact(const Principal& who, const std::string& id, const AsOf& as_of);
  Result<CustomerView> GetCustomer(const Principal& who, const std::string& id, const AsOf& as_of);
  Result<std::vector<ContactView>> ListContacts(const Principal& who,
                                                const std::string& customer_id,
                                                ContactStatus status);
  Result<std::vector<CustomerView>> FindCustomers(const Principal& who, const std::string& text);
  Result<std::vector<ContactView>> FindContacts(const Principal& who, const std::string& text,
                                                ContactStatus status);
  Result<std::vector<TenantView>> Tenants(const Principal& who);
  Result<std::vector<Recipient>> Recipients(const Principal& who, const std::string& customer_id,
                                            const std::string& kind);

 private:
  // The contacts linked to the customer, in link order, with each link's roles.
  Result<std::vector<domain::LinkedContact>> Linked(Snapshot& snap, const std::string& tenant,
                                                    const std::string& customer_id);

  // The token's principal with its expiry, read from the tenants projection.
  Result<std::optional<Principal>> LookUpToken(const std::vector<std::string>& digests);
  Result<Principal> Unexpired(Principal principal);
  Result<TokenInfo> DescribeToken(projections::Kv& tokens, const std::string& digest,
                                  const Principal& principal);

  store::LogStore& store_;
  ProjectionHost& host_;
  std::shared_ptr<Clock> clock_;                // when a token has expired
  std::optional<domain::CredentialKeys> keys_;  // none: opened without the master key
  TimeTravel travel_;
  TokenMemory tokens_;
};

}  // namespace cledger
