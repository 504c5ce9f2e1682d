// What the ledger proves to readers who do not trust it (docs/PROOFS.md): signed tree heads,
// inclusion proofs scoped to the reader's tenant, evidence bundles, witness cosignatures.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cledger/engine.h"
#include "cledger/proofs.h"
#include "engine/store/log_store.h"

namespace cledger {

class Transparency {
 public:
  // `key`: nullopt when the ledger was opened without a signing key file.
  Transparency(store::LogStore& store, std::optional<proofs::SigningKey> key,
               std::vector<proofs::PublicKey> witnesses);

  Result<SignedTreeHead> SignedHead();
  Result<proofs::PublicKey> PublicKey() const;
  Result<std::vector<Hash>> InclusionProof(const Principal& who, uint64_t position,
                                           uint64_t tree_size);
  Result<Evidence> EvidenceOf(const Principal& who, const std::string& subject,
                              const std::string& id);
  Status AddCosignature(const proofs::TreeHead& head, const proofs::Cosignature& cosignature);
  // Signs the certificate with the ledger's key (its key id and signature are set); leaves it
  // unsigned when the ledger was opened without one.
  Status SignErasure(proofs::ErasureCertificate& certificate) const;

 private:
  Status NoKey() const;
  Status LoadLatest();  // REQUIRES: mu_ held
  // The event at `position` if `who` may see it; NotFound otherwise, as for no event at all.
  Status CheckVisible(const Principal& who, uint64_t position);

  store::LogStore& store_;
  std::optional<proofs::SigningKey> key_;
  std::vector<proofs::PublicKey> witnesses_;
  std::mutex mu_;
  std::optional<proofs::TreeHead> latest_;  // the last head signed, under mu_
  bool loaded_ = false;                     // latest_ was read from the store, under mu_
};

}  // namespace cledger
