// JSON command decoding: a request body through ParseObject and, when it is an object, every
// decoder of cledger/json.h. None may crash, and a decoder's failure must name a
// reason (the stable code clients program against).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cledger/json.h"
#include "cledger/proofs.h"

namespace {

using namespace cledger;

template <typename T>
void Check(const Result<T>& result) {
  if (!result.ok() && result.status().reason().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return -1;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = api::ParseObject(body);
  Check(parsed);
  if (!parsed.ok()) return 0;
  const boost::json::object& o = *parsed;
  Check(api::CreateCustomerFromJson(o));
  Check(api::UpdateCustomerFromJson(o));
  Check(api::CreateContactFromJson(o, "c1"));
  Check(api::CreateContactFromJson(o, ""));
  auto patch = api::ContactPatchFromJson(o);
  Check(patch);
  if (patch.ok() && *patch) {
    ContactFields fields;
    (*patch)(fields);  // applying a decoded patch must be safe too
  }
  Check(api::RolesFromJson(o));
  Check(api::PasswordChoiceFromJson(o));
  Check(api::ContactIdFromJson(o));
  Check(api::CreateTenantFromJson(o));
  Check(api::IssueTokenFromJson(o));
  // docs/PROOFS.md: what a witness posts, and what `cledger proof verify` reads.
  Check(api::TreeHeadFromJson(o));
  Check(api::CosignatureFromJson(o));
  auto evidence = api::EvidenceFromJson(o);
  Check(evidence);
  if (evidence.ok()) {
    for (const Evidence::Item& item : evidence->events) {
      (void)proofs::VerifyInclusion(item.position, evidence->head.tree_size,
                                    proofs::LeafHash(item.bytes), item.audit_path,
                                    evidence->head.root);
    }
  }
  if (const boost::json::value* path = o.if_contains("audit_path")) {
    Check(api::HashesFromJson(*path, "audit_path"));
  }
  return 0;
}
