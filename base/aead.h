// XChaCha20-Poly1305 (libsodium) under a fresh random nonce: how credentials, personal data
// and data keys are sealed. A box is the 24-byte nonce followed by the ciphertext; `context`
// is the associated data, binding a box to the one use (and record) it was sealed for.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cledger::base {

using AeadKey = std::array<uint8_t, 32>;

std::string AeadSeal(const AeadKey& key, std::string_view plaintext, std::string_view context);
// The plaintext, or nullopt when the box was sealed under another key or context, or altered.
std::optional<std::string> AeadOpen(const AeadKey& key, std::string_view box,
                                    std::string_view context);
// A fresh random key.
AeadKey NewAeadKey();

}  // namespace cledger::base
