// A short history on a ServerFixture and the ledger's signing key, for the tests of proofs
// over HTTP and of the command line that checks them.
#pragma once

#include <boost/json.hpp>

#include "cledger/json.h"
#include "cledger/proofs.h"
#include "tests/support/server_fixture.h"

namespace cledger::testing {

inline boost::json::object JsonObject(const Reply& r) {
  return boost::json::parse(r.body).as_object();
}

inline proofs::PublicKey LedgerKey(ServerFixture& f) {
  Reply r = f.Call("acme/auditor", "GET", "/v1/ledger/public-key");
  REQUIRE(r.status == 200);
  return *proofs::PublicKeyFromHex(JsonObject(r).at("public_key").as_string());
}

// Two tenants' customers, and in acme a contact created and edited.
inline void SomeHistory(ServerFixture& f) {
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

}  // namespace cledger::testing
