// Portal passwords: the policy a caller-given one must meet, strong temporary ones, and
// argon2id hashing (libsodium). Plaintext passwords live only in the caller's memory; nothing
// here logs them or puts them in a Status.
#pragma once

#include <string>
#include <string_view>

#include "cledger/status.h"
#include "cledger/world.h"

namespace cledger::domain {

// 10 to 128 bytes of valid single-line UTF-8, at least 3 of the 4 classes (lowercase,
// uppercase, digit, other), not one repeated character. Fails with kInvalidArgument, reason
// "weak_password", field "password"; the message states the policy, never the password.
Status CheckPasswordPolicy(std::string_view password);

// 20 characters from an alphabet without look-alikes (no 0, O, 1, l, I), with at least one
// lowercase, uppercase, digit and symbol; uniform over all such passwords.
std::string GenerateTemporaryPassword(Random& random);

// The argon2id ("$argon2id$...") encoding of `password` at libsodium's interactive cost.
// Fails with kIoError, reason "hash_failed" (libsodium unusable or out of memory).
Result<std::string> HashPassword(std::string_view password);

// Whether `password` matches `encoded_hash`; false for anything but a well-formed argon2id hash.
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);

}  // namespace cledger::domain
