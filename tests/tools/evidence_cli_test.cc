// `cledger proof verify` and the independent Python verifier on an evidence bundle a server
// gave (docs/PROOFS.md): both accept it, both refuse it once one byte changed.
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <fstream>
#include <string>
#include <utility>

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

// A command line's exit code and output (stderr included).
std::pair<int, std::string> Run(const std::string& command) {
  int status = -1;
  std::string out = testing::RunCommand(command + " 2>&1", &status);
  return {status, std::move(out)};
}

TEST_CASE("AnEvidenceBundleIsCheckedByTheIndependentPythonVerifierWithATenantTokenOnly") {
  ServerFixture f;
  SomeHistory(f);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset",
                 R"({"password":"Correct-Horse-9"})")
              .status == 204);
  Reply r = f.Call("acme/auditor", "GET", "/v1/contacts/k1/evidence");
  REQUIRE(r.status == 200);
  Evidence bundle = *api::EvidenceFromJson(JsonObject(r));
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

}  // namespace
}  // namespace cledger
