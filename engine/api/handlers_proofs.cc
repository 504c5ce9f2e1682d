// The proof routes (docs/PROOFS.md): signed heads, the public key, inclusion and consistency
// proofs, evidence bundles and witness cosignatures.
#include "base/hex.h"
#include "engine/api/handlers_call.h"

namespace cledger::api::route {
namespace {

// A size parameter that defaults to the head: proofs against the tree as it is now.
Result<uint64_t> SizeOr(Call& call, std::string_view key) {
  return call.Number(key, call.engine.ledger().GetHead().position);
}

Result<uint64_t> Required(Call& call, std::string_view key) {
  if (!call.Query(key)) {
    return Status::InvalidArgument("required", std::string(key) + " is required", std::string(key));
  }
  return call.Number(key, 0);
}

Answer Evidence(Call& call, const std::string& subject) {
  auto evidence = call.engine.EvidenceOf(call.who, subject, call.params[0]);
  if (!evidence.ok()) return Problem(evidence.status());
  return JsonResponse(200, ToJson(*evidence));
}

}  // namespace

Answer GetLedgerHead(Call& call) {
  auto head = call.engine.SignedHead();
  if (!head.ok()) return Problem(head.status());
  return JsonResponse(200, ToJson(*head));
}

Answer GetLedgerPublicKey(Call& call) {
  auto key = call.engine.PublicKey();
  if (!key.ok()) return Problem(key.status());
  return JsonResponse(200, json::object{{"key_id", proofs::KeyId(*key)},
                                        {"public_key", base::Hex(*key)},
                                        {"algorithm", "ed25519"}});
}

Answer GetInclusionProof(Call& call) {
  auto position = Required(call, "position");
  if (!position.ok()) return Problem(position.status());
  auto size = SizeOr(call, "tree_size");
  if (!size.ok()) return Problem(size.status());
  auto path = call.engine.InclusionProof(call.who, *position, *size);
  if (!path.ok()) return Problem(path.status());
  return JsonResponse(200, json::object{{"position", *position},
                                        {"leaf_index", *position - 1},
                                        {"tree_size", *size},
                                        {"audit_path", ToJson(*path)}});
}

Answer GetConsistencyProof(Call& call) {
  auto from = Required(call, "from");
  if (!from.ok()) return Problem(from.status());
  auto to = SizeOr(call, "to");
  if (!to.ok()) return Problem(to.status());
  auto path = call.engine.ledger().ConsistencyProof(*from, *to);
  if (!path.ok()) return Problem(path.status());
  return JsonResponse(
      200, json::object{{"from", *from}, {"to", *to}, {"consistency_path", ToJson(*path)}});
}

Answer GetContactEvidence(Call& call) { return Evidence(call, "contact"); }
Answer GetCustomerEvidence(Call& call) { return Evidence(call, "customer"); }

// {"head": {...a head this ledger signed...}, "key_id": "...", "signature": "..."}
Answer PostCosignature(Call& call) {
  auto body = ParseObject(call.request.body);
  if (!body.ok()) return Problem(body.status());
  const json::value* head_json = body->if_contains("head");
  if (head_json == nullptr || !head_json->is_object()) {
    return Problem(Status::InvalidArgument("required", "head is required", "head"));
  }
  auto head = TreeHeadFromJson(head_json->as_object());
  if (!head.ok()) return Problem(head.status());
  auto cosignature = CosignatureFromJson(*body);
  if (!cosignature.ok()) return Problem(cosignature.status());
  if (Status s = call.engine.AddCosignature(*head, *cosignature); !s.ok()) return Problem(s);
  return HttpResponse{204, "", "", {}};
}

}  // namespace cledger::api::route
