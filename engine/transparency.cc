#include "engine/transparency.h"

#include <algorithm>
#include <chrono>

#include "engine/domain/rules.h"

namespace cledger {
namespace {

Status NotFound(const std::string& what) { return Status(Code::kNotFound, "not_found", what); }

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Transparency::Transparency(store::LogStore& store, std::optional<proofs::SigningKey> key,
                           std::vector<proofs::PublicKey> witnesses)
    : store_(store), key_(std::move(key)), witnesses_(std::move(witnesses)) {}

Status Transparency::NoKey() const {
  return Status::Unavailable("no_signing_key",
                             "this ledger was opened without a signing key: heads are not signed");
}

Result<proofs::PublicKey> Transparency::PublicKey() const {
  if (!key_) return NoKey();
  return key_->public_key();
}

// The last head signed, before or since this process started: a restart signs nothing new
// for a tree that did not grow, so the cosignatures witnesses sent for it still show.
Status Transparency::LoadLatest() {
  if (loaded_) return Status::Ok();
  Result<std::vector<proofs::TreeHead>> heads = store_.SignedHeads();
  if (!heads.ok()) return heads.status();
  if (!heads->empty()) latest_ = heads->back();
  loaded_ = true;
  return Status::Ok();
}

Result<SignedTreeHead> Transparency::SignedHead() {
  if (!key_) return NoKey();
  proofs::TreeHead head;
  {
    // The size is read under the lock: two callers never sign a smaller tree after a larger
    // one, so the heads' times order their sizes.
    std::lock_guard lock(mu_);
    if (Status s = LoadLatest(); !s.ok()) return s;
    const uint64_t size = store_.GetHead().position;
    if (latest_ && latest_->tree_size == size && latest_->key_id == key_->key_id()) {
      head = *latest_;
    } else {
      Result<Hash> root = store_.TreeRoot(size);
      if (!root.ok()) return root.status();
      // Heads are signed in order of time, whatever the clock does (across restarts too).
      const int64_t now = std::max(NowMicros(), latest_ ? latest_->timestamp_us + 1 : 0);
      head = key_->SignHead(size, *root, now);
      if (Status s = store_.RecordSignedHead(head); !s.ok()) return s;
      latest_ = head;
    }
  }
  Result<std::vector<proofs::Cosignature>> cosignatures = store_.Cosignatures(head);
  if (!cosignatures.ok()) return cosignatures.status();
  return SignedTreeHead{std::move(head), std::move(cosignatures).value()};
}

Status Transparency::CheckVisible(const Principal& who, uint64_t position) {
  if (who.tenant.empty()) return Status::Ok();  // ops: every tenant
  Result<std::vector<Event>> events = store_.Read(position, 1);
  if (!events.ok()) return events.status();
  if (events->empty() || events->front().position != position ||
      events->front().tenant != who.tenant) {
    return NotFound("no event at position " + std::to_string(position));
  }
  return Status::Ok();
}

Result<std::vector<Hash>> Transparency::InclusionProof(const Principal& who, uint64_t position,
                                                       uint64_t tree_size) {
  if (position == 0 || position > tree_size) {
    return NotFound("no event at position " + std::to_string(position));
  }
  if (Status s = CheckVisible(who, position); !s.ok()) return s;
  return store_.InclusionProof(position, tree_size);
}

Result<Evidence> Transparency::EvidenceOf(const Principal& who, const std::string& subject,
                                          const std::string& id) {
  Result<SignedTreeHead> signed_head = SignedHead();
  if (!signed_head.ok()) return signed_head.status();
  Evidence evidence{who.tenant, subject, id, key_->public_key(), signed_head->head, {}};
  const std::string stream =
      subject == "contact" ? domain::ContactStream(id) : domain::CustomerStream(id);
  for (uint64_t version = 1;;) {
    Result<std::vector<Event>> page = store_.ReadStream(who.tenant, stream, version, 256);
    if (!page.ok()) return page.status();
    for (const Event& e : *page) {
      if (e.position > evidence.head.tree_size) break;  // committed after the head was signed
      Result<std::string> bytes = store_.ReadRedacted(e.position);
      if (!bytes.ok()) return bytes.status();
      Result<std::vector<Hash>> path = store_.InclusionProof(e.position, evidence.head.tree_size);
      if (!path.ok()) return path.status();
      evidence.events.push_back({e.position, std::move(bytes).value(), std::move(path).value()});
    }
    if (page->size() < 256) break;
    version = page->back().stream_version + 1;
  }
  if (evidence.events.empty()) return NotFound(subject + " " + id + " not found");
  return evidence;
}

Status Transparency::AddCosignature(const proofs::TreeHead& head,
                                    const proofs::Cosignature& cosignature) {
  if (!key_) return NoKey();
  if (!proofs::VerifyTreeHead(head, key_->public_key())) {
    return Status::InvalidArgument("not_our_head", "this ledger did not sign that head");
  }
  // A head this key signed but whose root this log does not have (another fork's) is no
  // head of this ledger: it must not take a witness's place beside the real one.
  Result<Hash> root = store_.TreeRoot(head.tree_size);
  if (!root.ok() || *root != head.root) {
    return Status::InvalidArgument("not_our_head",
                                   "this ledger's tree of that size has another root");
  }
  const std::string message = proofs::TreeHeadMessage(head.tree_size, head.root, head.timestamp_us);
  for (const proofs::PublicKey& witness : witnesses_) {
    if (proofs::KeyId(witness) == cosignature.key_id &&
        proofs::VerifySignature(witness, message, cosignature.signature)) {
      return store_.RecordCosignature(head, cosignature);
    }
    if (proofs::KeyId(witness) == cosignature.key_id) {
      return Status::InvalidArgument("bad_cosignature", "the cosignature does not verify");
    }
  }
  return Status(Code::kPermissionDenied, "unknown_witness",
                "the cosignature's key is not a configured witness (cledger serve --witness-key)");
}

Status Transparency::SignErasure(proofs::ErasureCertificate& certificate) const {
  if (!key_) return Status::Ok();  // opened without a signing key: the certificate is unsigned
  certificate.signing_key_id = key_->key_id();
  certificate.signature = key_->Sign(proofs::ErasureCertificateMessage(certificate));
  return Status::Ok();
}

}  // namespace cledger
