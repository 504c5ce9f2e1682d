// What an idempotency key is bound to: a digest of the command it first answered, so that
// the key replayed with another command is refused instead of "succeeding" without effect.
#pragma once

#include <string>

#include "cledger/commands.h"

namespace cledger::domain {

// SHA-256 (32 raw bytes) over a canonical encoding of the command's kind, every field and
// the actor's id. A given password is the one field left out: a fast digest of it kept on
// disk would let anyone who reads the store guess it offline.
std::string Fingerprint(const CommandContext& context, const Command& command);

}  // namespace cledger::domain
