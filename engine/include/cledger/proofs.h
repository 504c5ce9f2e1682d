// The Merkle tree over the log and the heads that sign it (docs/PROOFS.md): RFC 9162 §2.1
// hashing, audit and consistency paths and their checks, and Ed25519 signed tree heads.
// Defined by cledger_events; the checks need nothing but these functions, so a tool can
// verify what a ledger proves without opening one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cledger/events.h"
#include "cledger/status.h"

namespace cledger::proofs {

Hash LeafHash(std::string_view data);                // SHA-256(0x00 ‖ data)
Hash NodeHash(const Hash& left, const Hash& right);  // SHA-256(0x01 ‖ left ‖ right)
Hash EmptyRoot();                                    // SHA-256 of no bytes

// The hash of a perfect subtree: leaves [index · 2^level, (index + 1) · 2^level).
using SubtreeSource = std::function<Result<Hash>(int level, uint64_t index)>;

// MTH(D[0:size]), from the perfect subtrees a stored tree keeps.
Result<Hash> Root(uint64_t size, const SubtreeSource& subtree);
// RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of `size` leaves.
// REQUIRES: index < size.
Result<std::vector<Hash>> InclusionPath(uint64_t index, uint64_t size,
                                        const SubtreeSource& subtree);
// RFC 9162 §2.1.4.1: the consistency path from the tree of `from` leaves to that of `to`.
// REQUIRES: 0 < from <= to.
Result<std::vector<Hash>> ConsistencyPath(uint64_t from, uint64_t to, const SubtreeSource& subtree);

// RFC 9162 §2.1.3.2 and §2.1.4.2.
bool VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> path,
                     const Hash& root);
bool VerifyConsistency(uint64_t from, uint64_t to, const Hash& from_root, const Hash& to_root,
                       std::span<const Hash> path);

// A tree grown one leaf at a time keeping only its peaks (one perfect subtree per set bit of
// its size): appending costs amortised two hashes, and every perfect subtree it completes
// is handed to the caller, who stores them.
class CompactTree {
 public:
  using Completed = std::function<void(int level, uint64_t index, const Hash& hash)>;
  // The peaks of a tree of `size` leaves, read from the subtrees it stored.
  static Result<CompactTree> Load(uint64_t size, const SubtreeSource& subtree);
  uint64_t size() const { return size_; }
  void Append(const Hash& leaf, const Completed& completed = {});
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::array<Hash, 64> peaks_{};  // peaks_[level] is valid while bit `level` of size_ is set
};

using PublicKey = std::array<uint8_t, 32>;
using Signature = std::array<uint8_t, 64>;

struct TreeHead {
  uint64_t tree_size = 0;
  Hash root{};
  int64_t timestamp_us = 0;
  std::string key_id;
  Signature signature{};
};
struct Cosignature {
  std::string key_id;
  Signature signature{};
};

// The bytes a tree head's signature covers (docs/PROOFS.md, "Signed tree heads").
std::string TreeHeadMessage(uint64_t tree_size, const Hash& root, int64_t timestamp_us);
// The first 16 hex digits of SHA-256 of the public key.
std::string KeyId(const PublicKey& key);
bool VerifySignature(const PublicKey& key, std::string_view message, const Signature& signature);
// The head's key id names `key` and its signature verifies.
bool VerifyTreeHead(const TreeHead& head, const PublicKey& key);

// What an erasure of personal data certifies (FORMAT.md, "Personal data"), signed with the
// ledger's Ed25519 key so anyone holding its public key can check it offline.
struct ErasureCertificate {
  std::string tenant;
  std::string subject;  // "contact" | "customer"
  std::string id;
  std::string reason;
  Actor actor;
  int64_t erased_at_us = 0;
  uint64_t position = 0;  // of the ContactErased or CustomerErased event
  // The events whose personal fields were sealed under the destroyed key: unreadable now.
  std::vector<uint64_t> unreadable_positions;
  std::string key_id;  // the destroyed data key; empty when the subject had none
  // The ledger's digest just after the erasure: the Merkle root of its first `tree_size`
  // events (the erasure's position).
  uint64_t tree_size = 0;
  Hash root{};
  std::string signing_key_id;
  Signature signature{};
};
// The bytes a certificate's signature covers: every field above but the signature.
std::string ErasureCertificateMessage(const ErasureCertificate& certificate);
// The certificate names `key` and its signature verifies.
bool VerifyErasureCertificate(const ErasureCertificate& certificate, const PublicKey& key);

// An Ed25519 key kept in a file (libsodium's 64-byte secret key, mode 0600).
class SigningKey {
 public:
  // Reads the key at `path`, creating it (and nothing else) when the file does not exist.
  static Result<SigningKey> LoadOrCreate(const std::string& path);
  // Reads an existing key; refuses a missing one.
  static Result<SigningKey> Load(const std::string& path);
  ~SigningKey();
  SigningKey(const SigningKey&) = default;
  SigningKey& operator=(const SigningKey&) = default;
  const PublicKey& public_key() const { return public_key_; }
  std::string key_id() const { return KeyId(public_key_); }
  Signature Sign(std::string_view message) const;
  TreeHead SignHead(uint64_t tree_size, const Hash& root, int64_t timestamp_us) const;

 private:
  SigningKey() = default;
  std::array<uint8_t, 64> secret_{};
  PublicKey public_key_{};
};

// Lowercase or uppercase hex of exactly the type's size; nullopt for anything else.
std::optional<Hash> HashFromHex(std::string_view hex);
std::optional<PublicKey> PublicKeyFromHex(std::string_view hex);
std::optional<Signature> SignatureFromHex(std::string_view hex);

}  // namespace cledger::proofs
