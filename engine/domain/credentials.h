// How credentials are recorded so that the event bytes never hold one in the clear (FORMAT.md,
// "Secrets"): a password's argon2id hash is sealed (XChaCha20-Poly1305) under a key derived
// from the ledger's master key, and a token is named by a keyed digest (HMAC-SHA-256) that
// nobody without that key can compute or test guesses against. The master key lives in a file
// of its own outside the data directory (mode 0600, created on first start); a backup of the
// data directory alone holds no usable credential.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cledger/status.h"

namespace cledger::domain {

class CredentialKeys {
 public:
  // Reads the 32-byte master key at `path`, creating it (and nothing else) when no file is
  // there and `create` is set; nullopt when it is missing and not created. Fails with kIoError,
  // reason "master_key", naming the path and why.
  static Result<std::optional<CredentialKeys>> Load(const std::string& path, bool create);
  static Result<CredentialKeys> LoadOrCreate(const std::string& path);
  // Keys derived from a given master key (tests).
  explicit CredentialKeys(const std::array<uint8_t, 32>& master);
  ~CredentialKeys();
  CredentialKeys(const CredentialKeys&) = default;
  CredentialKeys& operator=(const CredentialKeys&) = default;

  // "sealed:v1:" then the hex of a fresh 24-byte nonce and the ciphertext of `encoded_hash`.
  std::string SealPasswordHash(std::string_view encoded_hash) const;
  // The argon2id hash a recorded value holds: opened when sealed, as it is when it is a hash
  // recorded before sealing existed. Fails (kCorruption, "credential_unreadable") when sealed
  // under another master key or altered.
  Result<std::string> OpenPasswordHash(std::string_view recorded) const;

  // The keyed digest a token is recorded and looked up by: 64 lowercase hex digits.
  std::string TokenDigest(std::string_view token) const;

  // A command's fingerprint (domain::Fingerprint) keyed by the master key, 32 bytes: what the
  // idempotency record keeps, so nobody holding the data directory alone can test a guess of
  // the personal fields a request carried against it.
  std::string KeyedFingerprint(std::string_view fingerprint) const;

  // 16 hex digits naming this master key without revealing it: what a ledger records to
  // recognise the key its credentials were recorded under.
  std::string KeyId() const;

  // The key the key store wraps the data keys of personal data under (FORMAT.md, "Personal
  // data").
  const std::array<uint8_t, 32>& WrapKey() const { return wrap_key_; }

 private:
  std::array<uint8_t, 32> seal_key_{};
  std::array<uint8_t, 32> digest_key_{};
  std::array<uint8_t, 32> wrap_key_{};
};

// The digests a token may be recorded under, in the order to look them up: its keyed digest
// (when the master key is at hand), then its SHA-256 (tokens issued before digests were keyed).
std::vector<std::string> TokenDigests(const std::optional<CredentialKeys>& keys,
                                      std::string_view token);
// The first of them.
std::string PrimaryTokenDigest(const std::optional<CredentialKeys>& keys, std::string_view token);

}  // namespace cledger::domain
