// Tokens have a life cycle: issued with or without a lifetime, listed without their secret,
// refused once expired, revoked online.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "cledger/engine.h"
#include "tests/support/server_fixture.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::ServerFixture;

// A clock that moves only when told.
class ManualClock final : public Clock {
 public:
  int64_t NowMicros() override { return now_; }
  void Advance(int64_t seconds) { now_ += seconds * 1'000'000; }

 private:
  std::atomic<int64_t> now_{1'790'000'000'000'000};
};

json::value Json(const Reply& r) { return json::parse(r.body); }

TEST_CASE("ATokenIssuedWithALifetimeAuthenticatesUntilItThenIsRefusedAsExpired") {
  testing::TempDir dir;
  auto clock = std::make_shared<ManualClock>();
  LedgerOptions options;
  options.path = dir.Sub("data");
  options.clock = clock;
  auto engine = std::move(Engine::Open(options)).value();
  const CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
  REQUIRE(engine->Execute(ops, CreateTenant{"acme", "standard"}).ok());
  auto brief = engine->Execute(ops, IssueToken{"acme", "ann", "admin", 3600});
  auto lasting = engine->Execute(ops, IssueToken{"acme", "bob", "admin"});
  REQUIRE(brief.ok());
  REQUIRE(lasting.ok());

  clock->Advance(3599);
  CHECK(engine->Authenticate(brief->token).ok());
  clock->Advance(1);
  auto refused = engine->Authenticate(brief->token);
  CHECK(refused.status().code() == Code::kUnauthenticated);
  CHECK(refused.status().reason() == "token_expired");
  CHECK(refused.status().message().find("expired at") != std::string::npos);
  clock->Advance(10 * 365 * 86400);
  CHECK(engine->Authenticate(lasting->token).ok());  // no lifetime: never expires

  // A lifetime must be positive and at most ten years.
  for (int64_t bad : {int64_t{-1}, int64_t{11} * 366 * 86400}) {
    auto outcome = engine->Execute(ops, IssueToken{"acme", "eve", "admin", bad});
    CHECK(outcome.status().reason() == "invalid_expiry");
  }
}

// Authenticating a token again answers from memory; a revocation still ends it at once.
TEST_CASE("ATokenUsedOftenIsRefusedOnTheFirstRequestAfterItsRevocation") {
  testing::TempDir dir;
  LedgerOptions options;
  options.path = dir.Sub("data");
  auto engine = std::move(Engine::Open(options)).value();
  const CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
  REQUIRE(engine->Execute(ops, CreateTenant{"acme", "standard"}).ok());
  auto ann = engine->Execute(ops, IssueToken{"acme", "ann", "admin"});
  auto bob = engine->Execute(ops, IssueToken{"acme", "bob", "member"});
  REQUIRE(ann.ok());
  REQUIRE(bob.ok());
  for (int i = 0; i < 3; ++i) {
    CHECK(engine->Authenticate(ann->token)->actor.id == "ann");
    CHECK(engine->Authenticate(bob->token)->actor.role == "member");
  }
  REQUIRE(engine->Execute(ops, RevokeToken{ann->token, ""}).ok());
  auto refused = engine->Authenticate(ann->token);
  CHECK(refused.status().code() == Code::kUnauthenticated);
  CHECK(refused.status().reason() == "unauthenticated");
  CHECK(engine->Authenticate(bob->token)->actor.id == "bob");            // others go on
  REQUIRE(engine->Execute(ops, RevokeToken{"", bob->token_hash}).ok());  // as DELETE names it
  CHECK(engine->Authenticate(bob->token).status().code() == Code::kUnauthenticated);
  CHECK(engine->Authenticate("clt_nosuchtoken").status().code() == Code::kUnauthenticated);
}

TEST_CASE("OpsListTokensWithTheirDigestsAndLifetimesButNeverTheTokens") {
  ServerFixture f;
  Reply issued =
      f.Call("ops", "POST", "/v1/admin/tokens",
             R"({"tenant":"acme","actor":"mailer","role":"service","expires_in":"30d"})");
  REQUIRE(issued.status == 201);
  const std::string token(Json(issued).at("token").as_string());
  const std::string digest(Json(issued).at("token_hash").as_string());
  CHECK(Json(issued).at("expires_in").to_number<int64_t>() == 30 * 86400);

  Reply listed = f.Call("ops", "GET", "/v1/admin/tokens?tenant=acme");
  REQUIRE(listed.status == 200);
  for (const auto& named : f.tokens) {
    CAPTURE(named.first);
    CHECK(listed.body.find(named.second) == std::string::npos);
  }
  CHECK(listed.body.find(token) == std::string::npos);
  bool found = false;
  const json::value list = Json(listed);
  for (const json::value& item : list.at("items").as_array()) {
    CHECK(item.at("tenant") == "acme");  // the filter holds
    if (item.at("token_hash") != digest.c_str()) continue;
    found = true;
    CHECK(item.at("actor") == "mailer");
    CHECK(item.at("role") == "service");
    CHECK(item.at("issued_at").is_string());
    CHECK(item.at("expires_at").is_string());
  }
  CHECK(found);
  const size_t acme_tokens = list.at("items").as_array().size();
  Reply everyone = f.Call("ops", "GET", "/v1/admin/tokens");
  CHECK(Json(everyone).at("items").as_array().size() > acme_tokens);  // globex and ops too

  // Revoked tokens are no longer listed, and only ops may list.
  REQUIRE(f.Call("ops", "DELETE", "/v1/admin/tokens/" + digest).status == 204);
  CHECK(Json(f.Call("ops", "GET", "/v1/admin/tokens?tenant=acme")).at("items").as_array().size() ==
        acme_tokens - 1);
  CHECK(f.Call("acme/owner", "GET", "/v1/admin/tokens").status == 403);
  CHECK(f.Call("acme/admin", "GET", "/v1/admin/tokens").status == 403);

  Reply bad = f.Call("ops", "POST", "/v1/admin/tokens",
                     R"({"tenant":"acme","actor":"x","role":"service","expires_in":"soon"})");
  CHECK(bad.status == 422);
  CHECK(bad.body.find("invalid_expiry") != std::string::npos);
}

// An open stream of a token that expires checks it before each write: once it has expired, the
// subscriber gets a last error frame saying so, and no further event.
TEST_CASE("AnOpenStreamOfATokenThatExpiresEndsWithTokenExpired") {
  ServerFixture f;
  Reply issued = f.Call("ops", "POST", "/v1/admin/tokens",
                        R"({"tenant":"acme","actor":"mailer","role":"service","expires_in":"1s"})");
  REQUIRE(issued.status == 201);
  testing::SseClient client(f.port, "/v1/events/stream",
                            std::string(Json(issued).at("token").as_string()));
  REQUIRE(client.status() == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c9","name":"Late","email":"late@acme.test"})")
              .status == 201);
  testing::SseClient::Frame frame;
  REQUIRE(client.Next(frame, 5000));
  CHECK(frame.event == "error");
  CHECK(frame.data.find("token_expired") != std::string::npos);
}

}  // namespace
}  // namespace cledger
