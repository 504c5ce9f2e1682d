// Signed tree heads (docs/PROOFS.md): the signed text, key ids, and the Ed25519 key file.
#include <sodium.h>

#include <algorithm>

#include "base/hex.h"
#include "base/key_file.h"
#include "cledger/proofs.h"
#include "events/hash.h"

namespace cledger::proofs {
namespace {

bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

template <size_t N>
std::optional<std::array<uint8_t, N>> FixedFromHex(std::string_view hex) {
  std::array<uint8_t, N> out{};
  size_t written = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * N ||
      sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &written, &end) != 0 ||
      written != N || end != hex.data() + hex.size()) {
    return std::nullopt;
  }
  return out;
}

Status KeyFileError(const std::string& path, const std::string& what) {
  return Status::IoError("signing_key", "signing key " + path + ": " + what);
}

}  // namespace

std::string TreeHeadMessage(uint64_t tree_size, const Hash& root, int64_t timestamp_us) {
  return "contact-ledger/tree-head/v1\n" + std::to_string(tree_size) + "\n" + base::Hex(root) +
         "\n" + std::to_string(timestamp_us) + "\n";
}

std::string ErasureCertificateMessage(const ErasureCertificate& c) {
  // Each value length-prefixed, so no text a field may hold can shift another's meaning.
  std::string out = "contact-ledger/erasure-certificate/v1\n";
  auto field = [&](std::string_view value) {
    out.append(std::to_string(value.size())).append(":").append(value).append("\n");
  };
  std::string positions;
  for (uint64_t p : c.unreadable_positions) {
    positions.append(positions.empty() ? "" : ",").append(std::to_string(p));
  }
  for (std::string_view value :
       {std::string_view(c.tenant), std::string_view(c.subject), std::string_view(c.id),
        std::string_view(c.reason), std::string_view(c.actor.id), std::string_view(c.actor.role)}) {
    field(value);
  }
  field(std::to_string(c.erased_at_us));
  field(std::to_string(c.position));
  field(positions);
  field(c.key_id);
  field(std::to_string(c.tree_size));
  field(base::Hex(c.root));
  field(c.signing_key_id);
  return out;
}

bool VerifyErasureCertificate(const ErasureCertificate& certificate, const PublicKey& key) {
  return certificate.signing_key_id == KeyId(key) &&
         VerifySignature(key, ErasureCertificateMessage(certificate), certificate.signature);
}

std::string KeyId(const PublicKey& key) {
  const Hash digest = events::Sha256({{reinterpret_cast<const char*>(key.data()), key.size()}});
  return base::Hex(digest).substr(0, 16);
}

bool VerifySignature(const PublicKey& key, std::string_view message, const Signature& signature) {
  return SodiumReady() &&
         crypto_sign_verify_detached(signature.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

bool VerifyTreeHead(const TreeHead& head, const PublicKey& key) {
  return head.key_id == KeyId(key) &&
         VerifySignature(key, TreeHeadMessage(head.tree_size, head.root, head.timestamp_us),
                         head.signature);
}

std::optional<Hash> HashFromHex(std::string_view hex) { return FixedFromHex<32>(hex); }
std::optional<PublicKey> PublicKeyFromHex(std::string_view hex) { return FixedFromHex<32>(hex); }
std::optional<Signature> SignatureFromHex(std::string_view hex) { return FixedFromHex<64>(hex); }

Result<SigningKey> SigningKey::Load(const std::string& path) {
  if (!SodiumReady()) return KeyFileError(path, "libsodium could not be initialised");
  std::string why;
  std::optional<std::vector<uint8_t>> secret = base::ReadKeyFile(path, 64, why);
  if (!secret) return KeyFileError(path, why);
  SigningKey key;
  std::copy(secret->begin(), secret->end(), key.secret_.begin());
  sodium_memzero(secret->data(), secret->size());
  // The public half is the secret key's second half; derive it to reject a damaged file.
  std::array<uint8_t, 32> seed{};
  crypto_sign_ed25519_sk_to_seed(seed.data(), key.secret_.data());
  std::array<uint8_t, 64> rederived{};
  crypto_sign_seed_keypair(key.public_key_.data(), rederived.data(), seed.data());
  const bool intact = sodium_memcmp(rederived.data(), key.secret_.data(), 64) == 0;
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(rederived.data(), rederived.size());
  if (!intact) return KeyFileError(path, "damaged (its public half does not match)");
  return key;
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& path) {
  if (!SodiumReady()) return KeyFileError(path, "libsodium could not be initialised");
  if (base::KeyFileMissing(path)) {
    SigningKey key;
    crypto_sign_keypair(key.public_key_.data(), key.secret_.data());
    if (std::string why = base::CreateKeyFile(path, key.secret_); !why.empty()) {
      return KeyFileError(path, why);
    }
    return key;
  }
  return Load(path);
}

SigningKey::~SigningKey() { sodium_memzero(secret_.data(), secret_.size()); }

Signature SigningKey::Sign(std::string_view message) const {
  Signature signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       secret_.data());
  return signature;
}

TreeHead SigningKey::SignHead(uint64_t tree_size, const Hash& root, int64_t timestamp_us) const {
  return {tree_size, root, timestamp_us, key_id(),
          Sign(TreeHeadMessage(tree_size, root, timestamp_us))};
}

}  // namespace cledger::proofs
