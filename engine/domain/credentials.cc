#include "engine/domain/credentials.h"

#include <sodium.h>

#include <algorithm>

#include "base/aead.h"
#include "base/hex.h"
#include "base/key_file.h"
#include "events/hash.h"

namespace cledger::domain {
namespace {

constexpr std::string_view kSealedPrefix = "sealed:v1:";
// What a sealed hash is bound to, so the ciphertext means nothing in any other use of the key.
constexpr std::string_view kSealedContext = "contact-ledger/credential/v1";
// crypto_kdf subkey ids under the master key; never reuse one for another purpose.
constexpr uint64_t kSealKeyId = 1;
constexpr uint64_t kDigestKeyId = 2;
constexpr uint64_t kWrapKeyId = 3;  // wraps the data keys of the key store
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "cledger_";

Status MasterKeyError(const std::string& path, const std::string& why) {
  return Status::IoError("master_key", "master key " + path + ": " + why);
}

Status Unreadable() {
  return Status::Corruption("credential_unreadable",
                            "a recorded credential cannot be opened with this master key");
}

}  // namespace

Result<CredentialKeys> CredentialKeys::LoadOrCreate(const std::string& path) {
  auto keys = Load(path, /*create=*/true);
  if (!keys.ok()) return keys.status();
  return std::move(**keys);
}

Result<std::optional<CredentialKeys>> CredentialKeys::Load(const std::string& path, bool create) {
  if (sodium_init() < 0) return MasterKeyError(path, "libsodium could not be initialised");
  std::array<uint8_t, 32> master{};
  if (base::KeyFileMissing(path)) {
    if (!create) return std::optional<CredentialKeys>();
    crypto_kdf_keygen(master.data());
    if (std::string why = base::CreateKeyFile(path, master); !why.empty()) {
      return MasterKeyError(path, why);
    }
  } else {
    std::string why;
    auto read = base::ReadKeyFile(path, master.size(), why);
    if (!read) return MasterKeyError(path, why);
    std::copy(read->begin(), read->end(), master.begin());
    sodium_memzero(read->data(), read->size());
  }
  std::optional<CredentialKeys> keys(std::in_place, master);
  sodium_memzero(master.data(), master.size());
  return keys;
}

CredentialKeys::CredentialKeys(const std::array<uint8_t, 32>& master) {
  crypto_kdf_derive_from_key(seal_key_.data(), seal_key_.size(), kSealKeyId, kKdfContext,
                             master.data());
  crypto_kdf_derive_from_key(digest_key_.data(), digest_key_.size(), kDigestKeyId, kKdfContext,
                             master.data());
  crypto_kdf_derive_from_key(wrap_key_.data(), wrap_key_.size(), kWrapKeyId, kKdfContext,
                             master.data());
}

CredentialKeys::~CredentialKeys() {
  sodium_memzero(seal_key_.data(), seal_key_.size());
  sodium_memzero(digest_key_.data(), digest_key_.size());
  sodium_memzero(wrap_key_.data(), wrap_key_.size());
}

std::string CredentialKeys::SealPasswordHash(std::string_view encoded_hash) const {
  return std::string(kSealedPrefix) +
         base::Hex(base::AeadSeal(seal_key_, encoded_hash, kSealedContext));
}

Result<std::string> CredentialKeys::OpenPasswordHash(std::string_view recorded) const {
  if (!recorded.starts_with(kSealedPrefix)) return std::string(recorded);  // recorded before
  const std::string_view hex = recorded.substr(kSealedPrefix.size());
  std::string sealed(hex.size() / 2, '\0');
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(sealed.data()), sealed.size(), hex.data(),
                     hex.size(), nullptr, &length, &end) != 0 ||
      end != hex.data() + hex.size()) {
    return Unreadable();
  }
  sealed.resize(length);
  auto hash = base::AeadOpen(seal_key_, sealed, kSealedContext);
  if (!hash) return Unreadable();
  return std::move(*hash);
}

std::string CredentialKeys::KeyId() const {
  return TokenDigest("contact-ledger/master-key-id/v1").substr(0, 16);
}

std::string CredentialKeys::TokenDigest(std::string_view token) const {
  std::array<uint8_t, crypto_auth_hmacsha256_BYTES> digest{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, digest_key_.data(), digest_key_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(token.data()),
                                token.size());
  crypto_auth_hmacsha256_final(&state, digest.data());
  return base::Hex(digest);
}

std::string CredentialKeys::KeyedFingerprint(std::string_view fingerprint) const {
  constexpr std::string_view kContext = "contact-ledger/fingerprint/v1";
  std::array<uint8_t, crypto_auth_hmacsha256_BYTES> digest{};
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, digest_key_.data(), digest_key_.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(kContext.data()),
                                kContext.size() + 1);  // the NUL ends the context
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(fingerprint.data()),
                                fingerprint.size());
  crypto_auth_hmacsha256_final(&state, digest.data());
  return std::string(digest.begin(), digest.end());
}

std::vector<std::string> TokenDigests(const std::optional<CredentialKeys>& keys,
                                      std::string_view token) {
  std::vector<std::string> digests = {PrimaryTokenDigest(keys, token)};
  if (keys) digests.push_back(events::Sha256Hex(token));
  return digests;
}

std::string PrimaryTokenDigest(const std::optional<CredentialKeys>& keys, std::string_view token) {
  return keys ? keys->TokenDigest(token) : events::Sha256Hex(token);
}

}  // namespace cledger::domain
