// The domain's rules: (current views, command) → the events of one commit, or a named
// rejection. Pure: no I/O but reads of the views, no clock, no randomness (the engine
// prepares ids and secret hashes before the command reaches the writer).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "cledger/commands.h"
#include "engine/domain/profile_contact.h"
#include "engine/store/raw_ledger.h"
#include "projections/kv.h"

namespace cledger::domain {

// The views rules validate against; consistent with the log at every commit.
struct Views {
  projections::Kv& tenants;
  projections::Kv& customers;
  projections::Kv& contacts;
  projections::Kv& links;
  projections::Kv& emails;
};

// Work done before the writer sees the command: fresh ids, and hashes of secrets.
struct Prepared {
  std::string new_id;         // for creates without an id
  std::string password_hash;  // argon2id of the chosen password
  bool password_generated = false;
  std::string token_hash;           // the recorded digest of an issued or revoked token
  int64_t token_expires_at_us = 0;  // an issued token's expiry; 0: never
};

struct Decision {
  Commit commit;
  std::string id;      // the record the command is about
  std::string stream;  // that record's stream, whose version the caller sees
};

// Whether the actor's role may run this kind of command at all (403 forbidden when not).
// Pure and cheap: the engine asks it before any other work — an idempotent replay, a read,
// a password hash — and Decide asks it first again.
Status Authorize(const CommandContext& context, const Command& command);

// Rejections, by precedence: forbidden (403) → tenant unknown (404) → plan (403) →
// record unknown (404) → bad input (422) → rule (409). Version mismatches (412) are the
// ledger's, checked against `Decision::commit.expected`.
Result<Decision> Decide(const CommandContext& context, const Command& command,
                        const Prepared& prepared, Views& views);

// The kinds of stream the ledger writes, each the prefix of its streams' names: contact-<id>,
// customer-<id>, tenant-<name>, token-<random id>.
inline constexpr std::string_view kContactStreams = "contact-";
inline constexpr std::string_view kCustomerStreams = "customer-";
inline constexpr std::string_view kTenantStreams = "tenant-";
inline constexpr std::string_view kTokenStreams = "token-";
inline constexpr std::array<std::string_view, 4> kStreamKinds = {kContactStreams, kCustomerStreams,
                                                                 kTenantStreams, kTokenStreams};

std::string ContactStream(std::string_view id);
std::string CustomerStream(std::string_view id);

// "no contact 'k1'" (reason contact_not_found, and so for each kind). An id that reads as its
// stream's name ("contact-k1", as the audit trail and the event feed name records) is told the
// id that name holds.
Status RecordNotFound(std::string_view kind, std::string_view id);

}  // namespace cledger::domain
