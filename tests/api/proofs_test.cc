// The proof routes over real HTTP (docs/PROOFS.md): signed heads, proofs a client checks
// itself, tenant scoping and cosignatures. Evidence bundles checked by the verifiers:
// tests/tools/evidence_cli_test.cc.
#include "cledger/proofs.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "base/hex.h"
#include "cledger/json.h"
#include "tests/support/proof_history.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::JsonObject;
using testing::LedgerKey;
using testing::Reply;
using testing::ServerFixture;
using testing::SomeHistory;

proofs::TreeHead SignedHead(ServerFixture& f, const std::string& who = "acme/auditor") {
  Reply r = f.Call(who, "GET", "/v1/ledger/head");
  REQUIRE(r.status == 200);
  return *api::TreeHeadFromJson(JsonObject(r));
}

std::vector<Hash> PathOf(const json::object& o, const char* key) {
  return *api::HashesFromJson(o.at(key), key);
}

TEST_CASE("TheHeadIsSignedWithTheLedgersKeyAndCommitsToTheTreeOfEveryEvent") {
  ServerFixture f;
  SomeHistory(f);
  const proofs::PublicKey key = LedgerKey(f);
  const proofs::TreeHead head = SignedHead(f);
  CHECK(head.tree_size == f.Head());
  CHECK(proofs::VerifyTreeHead(head, key));
  // The root is the RFC 9162 root over every event's stored bytes.
  proofs::CompactTree tree;
  for (uint64_t p = 1; p <= f.Head(); ++p) {
    tree.Append(proofs::LeafHash(*f.engine->ledger().ReadRedacted(p)));
  }
  CHECK(head.root == tree.Root());
  CHECK(SignedHead(f).timestamp_us == head.timestamp_us);  // same head while nothing changed
}

TEST_CASE("AClientChecksInclusionAndConsistencyProofsItselfAgainstSignedHeads") {
  ServerFixture f;
  SomeHistory(f);
  const proofs::PublicKey key = LedgerKey(f);
  const proofs::TreeHead old_head = SignedHead(f, "ops");
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"position":"CFO"})").status == 200);
  const proofs::TreeHead head = SignedHead(f, "ops");
  REQUIRE(proofs::VerifyTreeHead(head, key));

  for (uint64_t p = 1; p <= head.tree_size; ++p) {
    CAPTURE(p);
    Reply r = f.Call("ops", "GET",
                     "/v1/ledger/proofs/inclusion?position=" + std::to_string(p) +
                         "&tree_size=" + std::to_string(head.tree_size));
    REQUIRE(r.status == 200);
    const json::object proof = JsonObject(r);
    CHECK(proof.at("leaf_index").as_int64() == static_cast<int64_t>(p - 1));
    const Hash leaf = proofs::LeafHash(*f.engine->ledger().ReadRedacted(p));
    CHECK(proofs::VerifyInclusion(p - 1, head.tree_size, leaf, PathOf(proof, "audit_path"),
                                  head.root));
  }
  Reply c = f.Call("acme/auditor", "GET",
                   "/v1/ledger/proofs/consistency?from=" + std::to_string(old_head.tree_size));
  REQUIRE(c.status == 200);
  const json::object consistency = JsonObject(c);
  CHECK(consistency.at("to").as_int64() == static_cast<int64_t>(head.tree_size));
  CHECK(proofs::VerifyConsistency(old_head.tree_size, head.tree_size, old_head.root, head.root,
                                  PathOf(consistency, "consistency_path")));

  CHECK(f.Call("ops", "GET", "/v1/ledger/proofs/inclusion").status == 422);
  CHECK(f.Call("ops", "GET", "/v1/ledger/proofs/inclusion?position=1&tree_size=999").status == 422);
  CHECK(f.Call("ops", "GET", "/v1/ledger/proofs/consistency?from=0").status == 422);
  CHECK(f.Call("acme/member", "GET", "/v1/ledger/head").status == 403);
  CHECK(f.Call("", "GET", "/v1/ledger/head").status == 401);
}

TEST_CASE("ATenantReaderGetsProofsForItsOwnEventsAndOthersAreNotFound") {
  ServerFixture f;
  SomeHistory(f);
  const uint64_t size = f.Head();
  size_t own = 0, others = 0;
  for (uint64_t p = 1; p <= size; ++p) {
    const Event e = f.engine->ledger().Read(p, 1)->front();
    Reply r =
        f.Call("acme/service", "GET", "/v1/ledger/proofs/inclusion?position=" + std::to_string(p));
    CAPTURE(p);
    if (e.tenant == "acme") {
      CHECK(r.status == 200);
      ++own;
    } else {
      CHECK(r.status == 404);  // exactly as a position that does not exist
      ++others;
    }
  }
  CHECK(own >= 3);
  CHECK(others >= 1);
}

TEST_CASE("ACosignatureIsKeptOnlyFromAConfiguredWitnessAndOnlyForAHeadTheLedgerSigned") {
  ServerFixture f;
  SomeHistory(f);
  const proofs::TreeHead head = SignedHead(f);
  testing::TempDir dir;
  auto stranger = *proofs::SigningKey::LoadOrCreate(dir.Sub("stranger"));
  const proofs::Signature signature =
      stranger.Sign(proofs::TreeHeadMessage(head.tree_size, head.root, head.timestamp_us));
  json::object body{{"head", api::ToJson(head)},
                    {"key_id", stranger.key_id()},
                    {"signature", base::Hex(signature)}};
  Reply refused = f.Call("acme/auditor", "POST", "/v1/ledger/cosignatures", json::serialize(body));
  CHECK(refused.status == 403);
  proofs::TreeHead forged = head;
  forged.tree_size += 1;
  body["head"] = api::ToJson(forged);
  CHECK(f.Call("acme/auditor", "POST", "/v1/ledger/cosignatures", json::serialize(body)).status ==
        422);
  CHECK(JsonObject(f.Call("acme/auditor", "GET", "/v1/ledger/head"))
            .at("cosignatures")
            .as_array()
            .empty());
}

}  // namespace
}  // namespace cledger
