#include "base/aead.h"

#include <sodium.h>

namespace cledger::base {
namespace {

constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

const auto* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string AeadSeal(const AeadKey& key, std::string_view plaintext, std::string_view context) {
  std::string box(kNonce + plaintext.size() + kTag, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(nonce, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonce, &written, Bytes(plaintext),
                                             plaintext.size(), Bytes(context), context.size(),
                                             nullptr, nonce, key.data());
  return box;
}

std::optional<std::string> AeadOpen(const AeadKey& key, std::string_view box,
                                    std::string_view context) {
  if (box.size() < kNonce + kTag) return std::nullopt;
  std::string plaintext(box.size() - kNonce - kTag, '\0');
  unsigned long long opened = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext.data()), &opened, nullptr, Bytes(box) + kNonce,
          box.size() - kNonce, Bytes(context), context.size(), Bytes(box), key.data()) != 0) {
    return std::nullopt;
  }
  return plaintext;
}

AeadKey NewAeadKey() {
  AeadKey key{};
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  return key;
}

}  // namespace cledger::base
