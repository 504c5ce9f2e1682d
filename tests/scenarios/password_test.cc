// Portal passwords: argon2id only; the plaintext reaches nothing but the caller.
#include "engine/domain/password.h"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/domain/credentials.h"
#include "engine/engine_internal.h"
#include "events/hash.h"
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
  // Nor anything derived from a secret: no argon2id hash (sealed under the master key), no
  // token and no SHA-256 of one (tokens are named by a keyed digest). Looked for while the
  // server runs, when every event is still in the write-ahead log as written (table files
  // are compressed, where a plain search would miss it).
  CHECK_FALSE(DirectoryContains(f.dir.Sub("data"), "$argon2id$"));
  for (const auto& named : f.tokens) {
    CAPTURE(named.first);
    CHECK_FALSE(DirectoryContains(f.dir.Sub("data"), named.second));
    CHECK_FALSE(DirectoryContains(f.dir.Sub("data"), events::Sha256Hex(named.second)));
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

// Queued commands are decided in order, each on what the earlier ones left: a reset queued
// behind the restore that allows it succeeds, though the contact is deleted when it is
// queued. Execute, whose caller waits, refuses a reset of a deleted contact before hashing.
TEST_CASE("AResetQueuedBehindTheRestoreThatAllowsItSucceeds") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  f.Must(f.owner, DeleteContact{"k1"});
  auto restored = f.engine->ExecuteAsync(f.owner, RestoreContact{"k1"});
  auto reset = f.engine->ExecuteAsync(f.owner, ResetPassword{"k1", {false, "Tr0ub4dour&3-extra"}});
  CHECK(restored.get().ok());
  const auto outcome = reset.get();
  CHECK_MESSAGE(outcome.ok(), outcome.status().ToString());

  f.Must(f.owner, DeleteContact{"k1"});
  const uint64_t hashes = f.engine->PasswordHashes();
  auto refused = f.engine->Execute(f.owner, ResetPassword{"k1", {false, "Tr0ub4dour&3-extra"}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().reason() == "contact_deleted");
  CHECK(f.engine->PasswordHashes() == hashes);
}

TEST_CASE("OnlyTheArgon2idHashIsRecordedSealedUnderTheMasterKeyAndItVerifiesTheGivenPassword") {
  EngineFixture f;
  f.Must(f.owner, CreateContact{"k1", "c1", Person("Ann", "ann@x.test")});
  const auto reset = f.Must(f.owner, ResetPassword{"k1", {false, "Tr0ub4dour&3-extra"}});
  CHECK(reset.temporary_password.empty());
  auto events = f.engine->ledger().ReadStream("acme", "contact-k1", 2, 1);
  const auto& body = std::get<ContactPasswordReset>(events->at(0).body);
  CHECK(body.password_hash.starts_with("sealed:v1:"));
  CHECK(body.password_hash.find("argon2") == std::string::npos);
  CHECK_FALSE(body.must_change);

  // The master key beside the data directory opens it; it was created private.
  const std::string key_file = f.dir.Sub("data.master-key");
  CHECK((std::filesystem::status(key_file).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  auto keys = domain::CredentialKeys::LoadOrCreate(key_file);
  REQUIRE(keys.ok());
  auto hash = keys->OpenPasswordHash(body.password_hash);
  REQUIRE(hash.ok());
  CHECK(hash->starts_with("$argon2id$"));
  CHECK(domain::VerifyPassword(*hash, "Tr0ub4dour&3-extra"));
  CHECK_FALSE(domain::VerifyPassword(*hash, "Tr0ub4dour&3-extrA"));

  // Another master key, or one altered digit, opens nothing.
  const domain::CredentialKeys other(std::array<uint8_t, 32>{7});
  CHECK(other.OpenPasswordHash(body.password_hash).status().reason() == "credential_unreadable");
  std::string altered = body.password_hash;
  altered.back() = altered.back() == '0' ? '1' : '0';
  CHECK(keys->OpenPasswordHash(altered).status().reason() == "credential_unreadable");
  CHECK(keys->OpenPasswordHash("sealed:v1:zz").status().reason() == "credential_unreadable");
  // A hash recorded before sealing existed is read as it is.
  CHECK(*keys->OpenPasswordHash("$argon2id$v=19$old") == "$argon2id$v=19$old");
}

// A token issued before tokens were named by a keyed digest was recorded under its SHA-256:
// it still authenticates, and revoking it by the token itself finds it.
TEST_CASE("ATokenRecordedUnderItsSha256BeforeKeyedDigestsStillAuthenticatesAndIsRevoked") {
  EngineFixture f;
  const std::string token = "clt_issued-by-an-older-version";
  Commit commit;
  commit.tenant = "acme";
  commit.actor = {"old-admin", "admin"};
  commit.events.push_back({"token-" + events::Sha256Hex(token).substr(0, 16),
                           TokenIssued{events::Sha256Hex(token), {"old-admin", "admin"}}});
  REQUIRE(RawLedgerOf(*f.engine).Append(commit).ok());
  auto who = f.engine->Authenticate(token);
  REQUIRE(who.ok());
  CHECK(who->actor.id == "old-admin");
  RevokeToken revoke;
  revoke.token = token;
  f.Must(f.ops, revoke);
  CHECK(f.engine->Authenticate(token).status().code() == Code::kUnauthenticated);
}

// New tokens are recorded under a digest keyed by the master key: the same token under
// another master key is unknown.
TEST_CASE("ATokenAuthenticatesOnlyUnderTheMasterKeyItWasIssuedWith") {
  EngineFixture f;
  const auto issued = f.Must(f.ops, IssueToken{"acme", "ann", "admin"});
  CHECK(f.engine->Authenticate(issued.token).ok());
  CHECK(issued.token_hash != events::Sha256Hex(issued.token));
  f.engine.reset();
  std::filesystem::rename(f.dir.Sub("data.master-key"), f.dir.Sub("kept.master-key"));
  // The key store is wrapped under the lost key: useless without it, so it goes too.
  std::filesystem::rename(f.dir.Sub("data.keys"), f.dir.Sub("kept.keys"));
  LedgerOptions options;
  options.path = f.dir.Sub("data");
  CHECK(Engine::Open(options).status().reason() == "master_key_missing");  // none made
  CHECK_FALSE(std::filesystem::exists(f.dir.Sub("data.master-key")));
  options.replace_master_key = true;  // the operator says the old key is lost
  auto replaced = Engine::Open(options);
  REQUIRE(replaced.ok());
  CHECK((*replaced)->Authenticate(issued.token).status().code() == Code::kUnauthenticated);
  CHECK((*replaced)->Execute(f.ops, IssueToken{"acme", "ann", "admin"}).ok());
}

}  // namespace
}  // namespace cledger

namespace cledger {
namespace {

Result<std::unique_ptr<Engine>> OpenWith(const std::string& data, const std::string& key,
                                         bool create) {
  LedgerOptions options;
  options.path = data;
  options.master_key_file = key;
  options.create_master_key = create;
  return Engine::Open(options);
}

// The ledger remembers its master key: a process without one records no credential, and one
// with another key is refused before it could record anything under it.
TEST_CASE("ALedgerIsHeldToItsMasterKeyAndAReadOnlyOpenNeverMakesOne") {
  testing::TempDir dir;
  const std::string data = dir.Sub("data"), key = dir.Sub("ledger.key");
  const CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
  {
    auto reader = OpenWith(data, key, /*create=*/false);
    REQUIRE(reader.ok());
    CHECK_FALSE(std::filesystem::exists(key));
    CHECK((*reader)->Execute(ops, IssueToken{"", "root", "ops"}).status().reason() ==
          "master_key_missing");
    REQUIRE((*reader)->Execute(ops, CreateTenant{"acme", "standard"}).ok());  // no credential
  }
  std::string token;
  {
    auto writer = OpenWith(data, key, /*create=*/true);
    REQUIRE(writer.ok());
    CHECK(std::filesystem::exists(key));
    token = (*writer)->Execute(ops, IssueToken{"acme", "ann", "admin"})->token;
  }
  {
    auto reader = OpenWith(data, key, /*create=*/false);  // the key is there: it is used
    REQUIRE(reader.ok());
    CHECK((*reader)->Authenticate(token).ok());
  }
  std::filesystem::rename(key, dir.Sub("kept.key"));
  auto missing = OpenWith(data, key, /*create=*/true);  // no stray key is made for it
  CHECK(missing.status().reason() == "master_key_missing");
  CHECK(missing.status().message().find(key) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(key));
  REQUIRE(domain::CredentialKeys::LoadOrCreate(dir.Sub("other.key")).ok());
  auto other = OpenWith(data, dir.Sub("other.key"), /*create=*/true);  // another key: refused
  CHECK(other.status().reason() == "master_key_mismatch");
  auto reader = OpenWith(data, dir.Sub("other.key"), /*create=*/false);  // read-only: opens
  REQUIRE(reader.ok());
  CHECK((*reader)->ledger().VerifyChain().ok);
  reader->reset();
  auto inside = OpenWith(data, data + "/master.key", /*create=*/true);
  CHECK(inside.status().reason() == "master_key");
  std::filesystem::rename(dir.Sub("kept.key"), key);
  auto again = OpenWith(data, key, /*create=*/false);
  REQUIRE(again.ok());
  CHECK((*again)->Authenticate(token).ok());
}

// `--data .` or a relative key path with the data directory as the working directory: a key
// is made beside the directory, or refused, never made inside it (a later open would refuse it).
TEST_CASE("NoKeyIsMadeInsideTheDataDirectoryWhenItIsTheWorkingDirectory") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("inner"));
  const std::filesystem::path was = std::filesystem::current_path();
  std::filesystem::current_path(dir.Sub("inner"));
  auto open = [](const std::string& key, const std::string& signing_key) {
    LedgerOptions options;
    options.path = ".";
    options.master_key_file = key;
    options.create_master_key = true;
    options.signing_key_file = signing_key;
    return Engine::Open(options);
  };
  CHECK(open("mk", "").status().reason() == "master_key");
  CHECK(open("", "sk").status().reason() == "signing_key");
  {
    auto beside = open("", dir.Sub("inner.signing-key"));
    CHECK_MESSAGE(beside.ok(), beside.status().ToString());
  }
  std::filesystem::current_path(was);
  CHECK(std::filesystem::exists(dir.Sub("inner.master-key")));
  CHECK(std::filesystem::exists(dir.Sub("inner.keys")));
  for (const char* inside : {"mk", "sk", "..master-key", "..keys", "..signing-key"}) {
    CAPTURE(inside);
    CHECK_FALSE(std::filesystem::exists(dir.Sub("inner") + "/" + inside));
  }
}

// Nothing derived from a token names its stream: the issue and the revocation share a stream
// named by a random id.
TEST_CASE("ATokensStreamIsNamedByARandomIdNotByItsDigest") {
  EngineFixture f;
  const auto issued = f.Must(f.ops, IssueToken{"acme", "ann", "admin"});
  auto events = f.engine->ledger().Read(issued.first_position, 1);
  REQUIRE(events.ok());
  const std::string stream = events->front().stream;
  CHECK(stream.starts_with("token-"));
  CHECK(issued.token_hash.find(stream.substr(6)) == std::string::npos);
  CHECK(events::Sha256Hex(issued.token).find(stream.substr(6)) == std::string::npos);
  RevokeToken revoke;
  revoke.token_hash = issued.token_hash;
  const auto revoked = f.Must(f.ops, revoke);
  CHECK(f.engine->ledger().Read(revoked.first_position, 1)->front().stream == stream);
}

}  // namespace
}  // namespace cledger
