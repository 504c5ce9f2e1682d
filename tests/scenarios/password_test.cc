// Portal passwords: argon2id only; the plaintext reaches nothing but the caller.
#include "engine/domain/password.h"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/engine_fixture.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

using testing::EngineFixture;
using testing::Person;
using testing::Reader;

bool DirectoryContains(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Everything the process logs through spdlog, while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_));
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string Text() const { return lines_.str(); }

 private:
  std::ostringstream lines_;
  std::shared_ptr<spdlog::logger> previous_;
};

// Through the real server, whose access log and errors are the log a password could reach.
TEST_CASE("NoPlaintextPasswordReachesTheDataDirectoryTheLogOrTheAuditTrail") {
  CapturedLog log;
  testing::ServerFixture f;
  const std::string given = "Correct-Horse-42-battery";
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id": "c1", "name": "Acme", "email": "ap@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id": "k1", "first_name": "Ann", "email": "ann@x.test", "password": )"
                 R"({"password": ")" +
                     given + R"("}})")
              .status == 201);
  const testing::Reply reset =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset", R"({"generate": true})");
  REQUIRE(reset.status == 200);
  const std::string generated =
      std::string(boost::json::parse(reset.body).at("temporary_password").as_string());
  REQUIRE(generated.size() >= 16);
  CHECK(domain::CheckPasswordPolicy(generated).ok());

  const testing::Reply weak =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset", R"({"password": "hunter2"})");
  CHECK(weak.status == 422);
  CHECK(weak.body.find("weak_password") != std::string::npos);
  CHECK(weak.body.find("hunter2") == std::string::npos);

  auto history = f.engine->ContactHistory(Reader(), "k1");
  REQUIRE(history.ok());
  for (const AuditEntry& entry : *history) {
    for (const FieldChange& change : entry.changes) {
      CHECK(change.before.find("argon2") == std::string::npos);
      CHECK(change.after.find("argon2") == std::string::npos);
    }
  }
  f.Close();  // the server's last lines logged, everything the engine holds on disk
  // The capture is the log the server writes: every request above is in it.
  REQUIRE(log.Text().find("password-reset status=200") != std::string::npos);
  for (const std::string& secret : {given, generated, std::string("hunter2")}) {
    CAPTURE(secret);
    CHECK_FALSE(DirectoryContains(f.dir.Sub("data"), secret));
    CHECK(log.Text().find(secret) == std::string::npos);
  }
}

TEST_CASE("OnlyTheArgon2idHashIsRecordedAndItVerifiesTheGivenPassword") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  const auto reset = f.Must(f.owner, ResetPassword{"k1", {false, "Tr0ub4dour&3-extra"}});
  CHECK(reset.temporary_password.empty());
  auto events = f.engine->ledger().ReadStream("acme", "contact-k1", 2, 1);
  const auto& body = std::get<ContactPasswordReset>(events->at(0).body);
  CHECK(body.password_hash.starts_with("$argon2id$"));
  CHECK_FALSE(body.must_change);
  CHECK(domain::VerifyPassword(body.password_hash, "Tr0ub4dour&3-extra"));
  CHECK_FALSE(domain::VerifyPassword(body.password_hash, "Tr0ub4dour&3-extrA"));
}

}  // namespace
}  // namespace cledger
