// `cledger witness` against real `cledger serve` processes on loopback: heads accepted and
// cosigned round after round, and the alarm when the history under the server is rewritten
// (a copy of an older data directory served in its place) or the heads are signed with
// another key.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/hex.h"
#include "cledger/json.h"
#include "cledger/proofs.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::TempDir;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

json::object ParseFile(const std::string& path) {
  json::value doc = json::parse(ReadFile(path));
  REQUIRE(doc.is_object());
  return doc.as_object();
}

int next_customer = 1;  // ids unique in every copy of every ledger a test makes

// A `cledger serve` child on a free loopback port, stopped with SIGTERM when it goes.
struct Served {
  testing::Child child;
  uint16_t port = 0;
  std::string owner_token;  // of the demo tenant (serve is started with --bootstrap)
  std::string ops_token;

  ~Served() { Stop(); }
  void Stop() {
    if (child.pid <= 0) return;
    kill(child.pid, SIGTERM);
    CHECK(testing::Wait(child).Exited(0));
    child.pid = -1;
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port); }
  json::object Get(const std::string& target) {
    testing::Reply reply = testing::Http(port, "GET", target, {}, Auth(ops_token));
    REQUIRE(reply.status == 200);
    return json::parse(reply.body).as_object();
  }
  uint64_t Size() { return Get("/v1/ledger/head").at("tree_size").to_number<uint64_t>(); }
  // Commits customers until the tree has `size` leaves.
  void GrowTo(uint64_t size) {
    while (Size() < size) {
      const std::string id = "c" + std::to_string(next_customer++);
      testing::Reply reply = testing::Http(
          port, "POST", "/v1/customers",
          R"({"id":")" + id + R"(","name":"C","email":")" + id + R"(@w.test"})", Auth(owner_token));
      REQUIRE(reply.status == 201);
    }
    REQUIRE(Size() == size);
  }
  void Commit(int n) { GrowTo(Size() + static_cast<uint64_t>(n)); }

 private:
  static std::vector<std::pair<std::string, std::string>> Auth(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
};

std::unique_ptr<Served> Serve(const std::string& data, const std::string& key_file,
                              const std::string& witness_key = {}) {
  std::vector<std::string> args = {
      "serve", "--data", data, "--listen", "127.0.0.1:0", "--bootstrap", "--ops-token", "1h",
      "--signing-key-file", key_file,
      // every server of a test shares one master key
      "--master-key-file", (fs::path(key_file).parent_path() / "ledger.master-key").string(),
      "--key-store", (fs::path(key_file).parent_path() / "ledger.keys").string()};
  if (!witness_key.empty()) args.insert(args.end(), {"--witness-key", witness_key});
  auto s = std::make_unique<Served>();
  s->child = testing::Spawn(args);
  const std::string banner = testing::ReadBanner(s->child.out);
  const std::string port = testing::After(banner, "serving http://127.0.0.1:", " \n");
  REQUIRE_MESSAGE(!port.empty(), "no banner: " << banner);
  s->port = static_cast<uint16_t>(std::stoul(port));
  s->owner_token = testing::After(banner, "owner token  ", " \n");
  s->ops_token = testing::After(banner, "ops token    ", " \n");
  REQUIRE(!s->owner_token.empty());
  REQUIRE(!s->ops_token.empty());
  return s;
}

struct Ran {
  int status = -1;
  std::string out;
  std::string err;
};

// `cledger witness ARGS`, its stdout and stderr apart.
Ran Witness(const TempDir& dir, const std::string& args) {
  const std::string err_file = dir.Sub("witness.stderr");
  Ran ran;
  ran.out = testing::RunCommand(std::string(CLEDGER_BINARY) + " witness " + args + " 2>" + err_file,
                                &ran.status);
  ran.err = ReadFile(err_file);
  INFO("cledger witness " << args << "\nstdout: " << ran.out << "\nstderr: " << ran.err);
  return ran;
}

Ran Once(const TempDir& dir, Served& server, const std::string& state,
         const std::string& more = {}) {
  return Witness(dir, "--server " + server.Url() + " --token " + server.ops_token + " --state " +
                          state + " --once" + more);
}

std::string PrintKey(const TempDir& dir, const std::string& state) {
  Ran ran = Witness(dir, "--print-key --state " + state);
  REQUIRE(ran.status == 0);
  REQUIRE(ran.out.size() == 65);  // 64 hex digits and a newline
  return ran.out.substr(0, 64);
}

uint64_t AcceptedSize(const std::string& state) {
  return ParseFile(state + "/accepted.json").at("tree_size").to_number<uint64_t>();
}

// Whether the head names `key_hex`'s cosignature and it verifies over the head's message.
bool CosignedBy(const json::object& head, const std::string& key_hex) {
  const proofs::PublicKey key = *proofs::PublicKeyFromHex(key_hex);
  auto parsed = api::TreeHeadFromJson(head);
  REQUIRE(parsed.ok());
  const std::string message =
      proofs::TreeHeadMessage(parsed->tree_size, parsed->root, parsed->timestamp_us);
  for (const json::value& c : head.at("cosignatures").as_array()) {
    auto cosignature = api::CosignatureFromJson(c.as_object());
    REQUIRE(cosignature.ok());
    if (cosignature->key_id == proofs::KeyId(key) &&
        proofs::VerifySignature(key, message, cosignature->signature)) {
      return true;
    }
  }
  return false;
}

using testing::ReadUntil;

TEST_CASE("AWitnessAcceptsEachNewHeadAndItsCosignatureShowsOnTheServedHead") {
  TempDir dir;
  const std::string state = dir.Sub("witness");
  const std::string key_hex = PrintKey(dir, state);
  CHECK(PrintKey(dir, state) == key_hex);  // the key is kept, not made anew
  struct stat st {};
  REQUIRE(stat((state + "/witness.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto server = Serve(dir.Sub("data"), dir.Sub("ledger.key"), key_hex);
  server->Commit(2);
  Ran first = Once(dir, *server, state);
  CHECK(first.status == 0);
  CHECK(Has(first.err, "pinned the ledger key the server gave"));
  CHECK(Has(first.out, "accepted head size " + std::to_string(server->Size()) + ","));
  CHECK(Has(first.out, "; cosigned"));
  const std::string ledger_key =
      server->Get("/v1/ledger/public-key").at("public_key").as_string().c_str();
  CHECK(ReadFile(state + "/ledger.pub") == ledger_key + "\n");

  server->Commit(3);
  const uint64_t size = server->Size();
  Ran second = Once(dir, *server, state);
  CHECK(second.status == 0);
  CHECK(Has(second.out, "accepted head size " + std::to_string(size) + ","));
  CHECK(AcceptedSize(state) == size);
  const json::object head = server->Get("/v1/ledger/head");
  CHECK(head.at("tree_size").to_number<uint64_t>() == size);
  CHECK(CosignedBy(head, key_hex));
  CHECK(json::serialize(api::ToJson(*api::TreeHeadFromJson(head))) + "\n" ==
        ReadFile(state + "/accepted.json"));

  // Nothing new: nothing to accept, and the cosignature is already there.
  Ran third = Once(dir, *server, state);
  CHECK(third.status == 0);
  CHECK(Has(third.out, "unchanged head of size " + std::to_string(size) + "; already cosigned"));

  // No output ever shows the token.
  for (const Ran& ran : {first, second, third}) {
    CHECK_FALSE(Has(ran.out + ran.err, server->ops_token));
  }
}

TEST_CASE("AWitnessWithoutOnceKeepsAcceptingHeadsAsTheLedgerGrows") {
  TempDir dir;
  const std::string state = dir.Sub("witness");
  auto server = Serve(dir.Sub("data"), dir.Sub("ledger.key"), PrintKey(dir, state));
  testing::Child witness =
      testing::Spawn({"witness", "--server", server->Url(), "--token", server->ops_token, "--state",
                      state, "--interval-ms", "50"});
  const std::string first = "accepted head size " + std::to_string(server->Size()) + ",";
  CHECK(Has(ReadUntil(witness.out, first), first));
  server->Commit(2);
  const std::string second = "accepted head size " + std::to_string(server->Size()) + ",";
  CHECK(Has(ReadUntil(witness.out, second), second));
  kill(witness.pid, SIGTERM);
  testing::Wait(witness);
  CHECK(AcceptedSize(state) == server->Size());
  CHECK(CosignedBy(server->Get("/v1/ledger/head"), PrintKey(dir, state)));
}

TEST_CASE("ACosignatureTheServerRefusesIsAWarningAndTheHeadIsStillAccepted") {
  TempDir dir;
  const std::string state = dir.Sub("witness");
  auto server = Serve(dir.Sub("data"), dir.Sub("ledger.key"));  // no --witness-key
  Ran ran = Once(dir, *server, state);
  CHECK(ran.status == 0);
  CHECK(Has(ran.out, "accepted head size " + std::to_string(server->Size()) + ","));
  CHECK(Has(ran.out, "; not cosigned"));
  CHECK(Has(ran.err, "warning: the cosignature was not taken"));
  CHECK(Has(ran.err, "[unknown_witness]"));
  CHECK(Has(ran.err, "--witness-key " + PrintKey(dir, state)));
  CHECK_FALSE(fs::exists(state + "/alarm.json"));
}

TEST_CASE("AWitnessRaisesTheAlarmWhenTheHistoryUnderTheServerIsRewritten") {
  TempDir dir;
  const std::string data = dir.Sub("data"), old_copy = dir.Sub("old-data");
  const std::string key = dir.Sub("ledger.key");  // the copies share the ledger's key
  const std::string shrank = dir.Sub("witness-a"), changed = dir.Sub("witness-b");
  auto server = Serve(data, key);
  server->Commit(2);
  server->Stop();
  fs::copy(data, old_copy, fs::copy_options::recursive);

  // The ledger goes on from there, and both witnesses accept its head.
  server = Serve(data, key);
  server->Commit(5);
  const uint64_t accepted = server->Size();
  REQUIRE(Once(dir, *server, shrank).status == 0);
  REQUIRE(Once(dir, *server, changed).status == 0);
  const std::string accepted_root =
      ParseFile(shrank + "/accepted.json").at("root_hash").as_string().c_str();
  server->Stop();

  // The operator serves the older copy instead: its tree is smaller than the accepted one.
  server = Serve(old_copy, key);
  const uint64_t old_size = server->Size();
  REQUIRE(old_size < accepted);
  Ran ran = Once(dir, *server, shrank);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "ALARM [tree_shrank]"));
  CHECK(
      Has(ran.err, "accepted head: size " + std::to_string(accepted) + ", root " + accepted_root));
  CHECK(Has(ran.err, "served head:   size " + std::to_string(old_size) + ", root "));
  CHECK(Has(ran.err, shrank + "/alarm.json"));
  json::object alarm = ParseFile(shrank + "/alarm.json");
  CHECK(alarm.at("reason").as_string() == "tree_shrank");
  CHECK(alarm.at("accepted").at("tree_size").to_number<uint64_t>() == accepted);
  CHECK(alarm.at("served").at("tree_size").to_number<uint64_t>() == old_size);
  CHECK(AcceptedSize(shrank) == accepted);  // the refused head is not taken

  // The alarm stands until someone moves it away.
  ran = Once(dir, *server, shrank);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "an alarm stands"));

  // Other events brought to the accepted size: the same size with another root.
  server->GrowTo(accepted);
  ran = Once(dir, *server, changed);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "ALARM [root_changed]"));
  CHECK(
      Has(ran.err, "accepted head: size " + std::to_string(accepted) + ", root " + accepted_root));
  alarm = ParseFile(changed + "/alarm.json");
  CHECK(alarm.at("reason").as_string() == "root_changed");
  CHECK(alarm.at("served").at("root_hash") != alarm.at("accepted").at("root_hash"));
  CHECK(Has(ran.err, "served head:   size " + std::to_string(accepted) + ", root " +
                         alarm.at("served").at("root_hash").as_string().c_str()));

  // Grown past it, the tree cannot be proven to extend the accepted one.
  fs::rename(changed + "/alarm.json", dir.Sub("first-alarm.json"));
  server->Commit(3);
  ran = Once(dir, *server, changed);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "ALARM [inconsistent]"));
  CHECK(Has(ran.err, "served head:   size " + std::to_string(server->Size())));
  alarm = ParseFile(changed + "/alarm.json");
  CHECK(alarm.at("reason").as_string() == "inconsistent");
  CHECK(alarm.at("consistency_proof").at("from").to_number<uint64_t>() == accepted);
  CHECK(alarm.at("consistency_proof").at("to").to_number<uint64_t>() == server->Size());
  CHECK_FALSE(Has(ran.out + ran.err, server->ops_token));
}

TEST_CASE("AWitnessRaisesTheAlarmOnAHeadSignedWithAnotherKey") {
  TempDir dir;
  const std::string data = dir.Sub("data"), state = dir.Sub("witness");
  auto server = Serve(data, dir.Sub("ledger.key"));
  REQUIRE(Once(dir, *server, state).status == 0);
  const std::string pinned = ReadFile(state + "/ledger.pub").substr(0, 64);
  const uint64_t accepted = AcceptedSize(state);
  server->Stop();

  // The same data served with a key of its own.
  server = Serve(data, dir.Sub("other.key"));
  Ran ran = Once(dir, *server, state);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "ALARM [bad_signature]"));
  CHECK(Has(ran.err, "accepted head: size " + std::to_string(accepted)));
  const json::object alarm = ParseFile(state + "/alarm.json");
  CHECK(alarm.at("reason").as_string() == "bad_signature");
  CHECK(alarm.at("ledger_public_key").as_string() == pinned);
  CHECK(alarm.at("served").at("key_id") != alarm.at("accepted").at("key_id"));

  // A new witness told the ledger's key raises it at its first head.
  const std::string fresh = dir.Sub("fresh");
  ran = Once(dir, *server, fresh, " --ledger-key " + pinned);
  CHECK(ran.status == 3);
  CHECK(Has(ran.err, "ALARM [bad_signature]"));
  CHECK(Has(ran.err, "accepted head: none yet"));
  CHECK(ReadFile(fresh + "/ledger.pub") == pinned + "\n");
  CHECK_FALSE(fs::exists(fresh + "/accepted.json"));
}

TEST_CASE("TheLedgerKeyIsPinnedOnceAndAnotherLedgerKeyIsRefused") {
  TempDir dir;
  const std::string state = dir.Sub("witness");
  auto server = Serve(dir.Sub("data"), dir.Sub("ledger.key"));
  const std::string key = server->Get("/v1/ledger/public-key").at("public_key").as_string().c_str();
  REQUIRE(Once(dir, *server, state, " --ledger-key " + key).status == 0);
  CHECK(Once(dir, *server, state, " --ledger-key " + key).status == 0);

  const std::string other(64, 'a');
  Ran ran = Once(dir, *server, state, " --ledger-key " + other);
  CHECK(ran.status == 2);
  CHECK(Has(ran.err, "is not the key pinned in"));
  CHECK(ReadFile(state + "/ledger.pub") == key + "\n");
  ran = Once(dir, *server, dir.Sub("another"), " --ledger-key nothex");
  CHECK(ran.status == 2);
  CHECK(Has(ran.err, "--ledger-key takes the 64 hex digits"));
}

TEST_CASE("AnUnreachableServerIsAnErrorNotAnAlarm") {
  TempDir dir;
  const std::string state = dir.Sub("witness");
  Ran ran = Witness(
      dir, "--server http://127.0.0.1:1 --token clt_secret-4242 --state " + state + " --once");
  CHECK(ran.status == 1);
  CHECK(Has(ran.err, "cannot reach the server"));
  CHECK_FALSE(Has(ran.out + ran.err, "clt_secret-4242"));
  CHECK_FALSE(fs::exists(state + "/alarm.json"));
  CHECK(Witness(dir, "--state " + state + " --once").status == 2);  // no --server
}

TEST_CASE("WitnessHelpHasExamplesAndExitCodes") {
  TempDir dir;
  Ran ran = Witness(dir, "--help");
  CHECK(ran.status == 0);
  CHECK(Has(ran.out, "Examples:"));
  CHECK(Has(ran.out, "Exit codes:"));
  CHECK(Has(ran.out, "--print-key"));
  CHECK(Has(ran.out, "ALARM"));
}

}  // namespace
}  // namespace cledger
