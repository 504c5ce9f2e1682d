// Portal passwords: argon2id only; the plaintext reaches nothing but the caller.
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/domain/password.h"
#include "tests/support/engine_fixture.h"

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

TEST_CASE("NoPlaintextPasswordReachesTheDataDirectoryTheLogOrTheAuditTrail") {
  std::ostringstream log_lines;
  auto logger = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_lines));
  logger->set_level(spdlog::level::trace);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);

  EngineFixture f;
  const std::string given = "Correct-Horse-42-battery";
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test"), {}, PasswordChoice{false, given}});
  const CommandOutcome reset = f.Must(f.owner, ResetPassword{"k1", {true, {}}});
  const std::string generated = reset.temporary_password;
  REQUIRE(generated.size() >= 16);
  CHECK(domain::CheckPasswordPolicy(generated).ok());

  const Status weak = f.Fails(f.owner, ResetPassword{"k1", {false, "hunter2"}});
  CHECK(weak.reason() == "weak_password");
  CHECK(weak.message().find("hunter2") == std::string::npos);

  const ContactView ann = f.Contact("k1");
  CHECK(ann.has_password);
  CHECK(ann.password_must_change);
  auto history = f.engine->ContactHistory(Reader(), "k1");
  REQUIRE(history.ok());
  for (const AuditEntry& entry : *history) {
    for (const FieldChange& change : entry.changes) {
      CHECK(change.before.find("argon2") == std::string::npos);
      CHECK(change.after.find("argon2") == std::string::npos);
    }
  }
  f.engine.reset();  // flush everything to disk
  spdlog::set_default_logger(previous);
  for (const std::string& secret : {given, generated, std::string("hunter2")}) {
    CHECK_FALSE(DirectoryContains(f.dir.path(), secret));
    CHECK(log_lines.str().find(secret) == std::string::npos);
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
