// The proof routes over real HTTP (docs/PROOFS.md): signed heads, proofs a client checks
// itself, tenant scoping, evidence bundles checked by the C++ and the independent Python
// verifier, and cosignatures.
#include "cledger/proofs.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>

#include "base/hex.h"
#include "cledger/json.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::ServerFixture;

json::object Object(const Reply& r) { return json::parse(r.body).as_object(); }

proofs::PublicKey LedgerKey(ServerFixture& f) {
  Reply r = f.Call("acme/auditor", "GET", "/v1/ledger/public-key");
  REQUIRE(r.status == 200);
  return *proofs::PublicKeyFromHex(Object(r).at("public_key").as_string());
}

proofs::TreeHead SignedHead(ServerFixture& f, const std::string& who = "acme/auditor") {
  Reply r = f.Call(who, "GET", "/v1/ledger/head");
  REQUIRE(r.status == 200);
  return *api::TreeHeadFromJson(Object(r));
}

std::vector<Hash> PathOf(const json::object& o, const char* key) {
  return *api::HashesFromJson(o.at(key), key);
}

void SomeHistory(ServerFixture& f) {
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme","email":"a@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("globex/owner", "POST", "/v1/customers",
                 R"({"id":"g1","name":"Globex","email":"g@globex.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ann","email":"ann@x.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"last_name":"Lee"})").status == 200);
}

// Runs a command line; its exit code (-1 when it did not exit by itself) and stdout.
std::pair<int, std::string> Run(const std::string& command) {
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int raw = ::pclose(pipe);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
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
    const json::object proof = Object(r);
    CHECK(proof.at("leaf_index").as_int64() == static_cast<int64_t>(p - 1));
    const Hash leaf = proofs::LeafHash(*f.engine->ledger().ReadRedacted(p));
    CHECK(proofs::VerifyInclusion(p - 1, head.tree_size, leaf, PathOf(proof, "audit_path"),
                                  head.root));
  }
  Reply c = f.Call("acme/auditor", "GET",
                   "/v1/ledger/proofs/consistency?from=" + std::to_string(old_head.tree_size));
  REQUIRE(c.status == 200);
  const json::object consistency = Object(c);
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

TEST_CASE("AnEvidenceBundleIsCheckedByTheIndependentPythonVerifierWithATenantTokenOnly") {
  ServerFixture f;
  SomeHistory(f);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset",
                 R"({"password":"Correct-Horse-9"})")
              .status == 204);
  Reply r = f.Call("acme/auditor", "GET", "/v1/contacts/k1/evidence");
  REQUIRE(r.status == 200);
  Evidence bundle = *api::EvidenceFromJson(Object(r));
  CHECK(bundle.events.size() == 3);  // created, edited, password reset
  for (const Evidence::Item& item : bundle.events) {
    CHECK(item.bytes.find("$argon2id") == std::string::npos);  // proofs never carry a secret
  }
  CHECK(bundle.public_key == LedgerKey(f));

  const std::string file = f.dir.Sub("k1.json");
  std::ofstream(file) << r.body;
  const std::string python = "python3 " + std::string(CLEDGER_SOURCE_DIR) +
                             "/tools/verify/verify_proof.py bundle " + file + " --public-key " +
                             base::Hex(LedgerKey(f));
  const auto python_run = Run(python);  // (status, output)
  CAPTURE(python_run.second);
  CHECK(python_run.first == 0);
  const auto cpp_run = Run(std::string(CLEDGER_BINARY) + " proof verify --bundle " + file +
                           " --public-key " + base::Hex(LedgerKey(f)));
  CAPTURE(cpp_run.second);
  CHECK(cpp_run.first == 0);
  // A key that is named but unusable never falls back to the bundle's own.
  CHECK(Run(std::string(CLEDGER_BINARY) + " proof verify --bundle " + file + " --public-key nothex")
            .first == 2);
  CHECK(Run(std::string(CLEDGER_BINARY) + " proof verify --bundle " + file).first == 2);

  // One changed byte of one event, and both verifiers refuse the bundle.
  std::string bytes = bundle.events[1].bytes;
  bytes[bytes.size() / 2] ^= 0x01;
  bundle.events[1].bytes = bytes;
  std::ofstream(file, std::ios::trunc) << json::serialize(api::ToJson(bundle));
  CHECK(Run(python).first == 1);
  CHECK(Run(std::string(CLEDGER_BINARY) + " proof verify --trust-bundle-key --bundle " + file)
            .first == 1);

  CHECK(f.Call("globex/owner", "GET", "/v1/contacts/k1/evidence").status == 404);
  CHECK(f.Call("acme/auditor", "GET", "/v1/customers/c1/evidence").status == 200);
  CHECK(f.Call("acme/auditor", "GET", "/v1/contacts/nope/evidence").status == 404);
  CHECK(f.Call("acme/service", "GET", "/v1/contacts/k1/evidence").status == 403);
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
  CHECK(Object(f.Call("acme/auditor", "GET", "/v1/ledger/head"))
            .at("cosignatures")
            .as_array()
            .empty());
}

}  // namespace
}  // namespace cledger
