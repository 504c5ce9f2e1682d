// The ops subcommands of the real `cledger` binary on real data directories: verify (and its
// digests), projections status|rebuild, events dump, backup create|restore and stats, offline
// and through a running server while a writer appends.
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "base/keys.h"
#include "cledger/proofs.h"
#include "engine/store/keys.h"
#include "events/codec.h"
#include "events/hash.h"
#include "tests/support/engine_fixture.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::EngineFixture;
using testing::Person;
using testing::RunCommand;

// The binary's stdout (stderr is left to the test's own output).
std::string Run(const std::string& args, int* status) {
  return RunCommand(std::string(CLEDGER_BINARY) + " " + args, status);
}
// stdout and stderr together, for the messages a person reads.
std::string RunBoth(const std::string& args, int* status) {
  return RunCommand(std::string(CLEDGER_BINARY) + " " + args + " 2>&1", status);
}
json::object RunJson(const std::string& args, int* status) {
  const std::string out = Run(args, status);
  boost::system::error_code ec;
  json::value doc = json::parse(out, ec);
  INFO("cledger " << args << " printed: " << out);
  REQUIRE_FALSE(ec);
  REQUIRE(doc.is_object());
  return doc.as_object();
}
bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A ledger with tenant acme, customers c1 and c2 and a few contacts, closed on return.
struct Populated : EngineFixture {
  std::string data = dir.Sub("data");
  Head head;
  EngineStats stats;
  uint64_t commits = 3 + 5;  // the fixture's tenant, c1 and c2, then the five below
  Populated() {
    Must(owner, CreateContact{"k1", "c1", Person("Ada", "ada@acme.test")});
    Must(owner, CreateContact{"k2", "c1", Person("Grace", "grace@acme.test")});
    Must(owner, CreateContact{"k3", "", Person("Linus", "linus@acme.test")});
    Must(owner, ShareContact{"k3", "c2"});
    Must(owner, DeleteContact{"k2"});
    head = engine->ledger().GetHead();
    stats = *engine->Stats();
    engine.reset();
  }
  // The position of the first event whose type is `type`.
  uint64_t PositionOf(const std::string& type, const std::string& stream) {
    Reopen();
    auto events = engine->ledger().Read(1, 1000);
    engine.reset();
    REQUIRE(events.ok());
    for (const Event& e : *events) {
      if (EventTypeName(e.body) == type && e.stream == stream) return e.position;
    }
    FAIL("no such event");
    return 0;
  }
};

// Opens the data directory's RocksDB with every column family, for tampering.
struct RawDb {
  std::vector<std::string> names;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  explicit RawDb(const std::string& path) {
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(), path, descriptors, &handles, &db).ok());
  }
  ~RawDb() {
    for (auto* handle : handles) (void)db->DestroyColumnFamilyHandle(handle);
    delete db;
  }
  rocksdb::ColumnFamilyHandle* Family(const std::string& name) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return handles[i];
    }
    FAIL("no column family " << name);
    return nullptr;
  }
};

std::vector<std::string> Frames(std::string_view bytes) {
  std::vector<std::string> frames;
  while (auto frame = events::NextSizePrefixed(bytes)) frames.emplace_back(*frame);
  REQUIRE(bytes.empty());
  return frames;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// ---- verify ----------------------------------------------------------------------------------

TEST_CASE("VerifyExitsZeroOnAnUntouchedLedgerAndReportsItsHead") {
  Populated f;
  int status = -1;
  const std::string out = Run("verify --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(Has(out, "chain ok: " + std::to_string(f.head.position) + " events, head " +
                     std::to_string(f.head.position) + " " + base::Hex(f.head.hash)));
  CHECK(Has(out, "projections ok"));
  // Nothing asked for a signed head yet: it says how one comes to be.
  CHECK(Has(out, "no signed heads recorded"));
  CHECK(Has(out, "a running server signs one when asked (GET /v1/ledger/head"));
  const json::object report = RunJson("verify --json --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(report.at("ok").as_bool());
  CHECK(report.at("events_checked").to_number<uint64_t>() == f.head.position);
  CHECK(report.at("projections").as_array().empty());
}

TEST_CASE("VerifyFailsOnATamperedEventAndNamesItsPosition") {
  Populated f;
  const uint64_t position = f.PositionOf("CustomerCreated", "customer-c2");
  {
    RawDb raw(f.data);
    std::string value;
    REQUIRE(raw.db->Get({}, raw.Family(store::kCfLog), store::LogKey(position), &value).ok());
    const size_t at = value.find("long");  // c2's bill format: personal fields are sealed
    REQUIRE(at != std::string::npos);
    value[at + 3] = 'F';  // still a well-formed FlatBuffer: only the hash can tell
    REQUIRE(raw.db->Put({}, raw.Family(store::kCfLog), store::LogKey(position), value).ok());
  }
  int status = -1;
  const std::string out = RunBoth("verify --data " + f.data, &status);
  CHECK(status == 1);
  CHECK(Has(out, "BROKEN at position " + std::to_string(position) + ": hash"));
  CHECK(Has(out, "verify FAILED"));
  const json::object report = RunJson("verify --json --data " + f.data, &status);
  CHECK(status == 1);
  CHECK_FALSE(report.at("ok").as_bool());
  CHECK(report.at("first_broken_position").to_number<uint64_t>() == position);
}

TEST_CASE("VerifyFailsOnATamperedProjectionValueAndNamesProjectionAndKey") {
  Populated f;
  std::string key;
  {
    RawDb raw(f.data);
    std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator({}, raw.Family("p.contacts.1")));
    it->SeekToFirst();
    REQUIRE(it->Valid());
    key = it->key().ToString();
    REQUIRE(raw.db->Put({}, raw.Family("p.contacts.1"), key, "tampered").ok());
  }
  int status = -1;
  const std::string out = RunBoth("verify --data " + f.data, &status);
  CHECK(status == 1);
  CHECK(Has(out, "chain ok"));  // the log itself is intact
  // Named as people read it: the tenant and the contact's id, not escaped bytes.
  CHECK(base::ReadableKey(key).starts_with("acme · "));
  CHECK(Has(out, "projection contacts differs at key " + base::ReadableKey(key)));
  CHECK(Has(out, "not proven intact"));  // no head was ever signed: nothing proves the log
  const json::object report = RunJson("verify --json --data " + f.data, &status);
  CHECK(status == 1);
  REQUIRE(report.at("projections").as_array().size() == 1);
  const json::object& mismatch = report.at("projections").as_array()[0].as_object();
  CHECK(mismatch.at("projection").as_string() == "contacts");
  CHECK(mismatch.at("key").as_string() == base::ReadableKey(key));

  // Once a head signed with the trusted key holds the log, the rebuild is the repair.
  f.Reopen();
  REQUIRE(f.engine->SignedHead().ok());
  f.engine.reset();
  CHECK(Has(RunBoth("verify --data " + f.data, &status),
            "the log is intact; repair: cledger projections rebuild contacts"));
  // The repair the message suggests works.
  CHECK(Run("projections rebuild contacts --data " + f.data, &status) != "");
  CHECK(status == 0);
  Run("verify --data " + f.data, &status);
  CHECK(status == 0);
}

// The forgery an attacker with write access to the data directory makes: one event's email
// rewritten with RocksDB's own `ldb`, the chain re-hashed from there and the head record with
// it. The chain verifies; the heads the ledger signed before do not.
TEST_CASE("ALogRewrittenAndReHashedWithLdbFailsVerifyAtTheRewrittenPositionAndNoRebuildIsOffered") {
  Populated f;
  f.Reopen();
  const Result<SignedTreeHead> published = f.engine->SignedHead();
  REQUIRE(published.ok());
  auto events = f.engine->ledger().Read(1, 1000);
  REQUIRE(events.ok());
  f.engine.reset();
  uint64_t position = 0;
  for (const Event& e : *events) {
    if (EventTypeName(e.body) == "ContactCreated" && e.stream == "contact-k1")
      position = e.position;
  }
  REQUIRE(position > 1);

  std::string head_record;
  {
    RawDb raw(f.data);
    REQUIRE(raw.db->Get({}, raw.Family(store::kCfMeta), store::kMetaHead, &head_record).ok());
  }
  auto ldb_put = [&](const std::string& family, const std::string& key, const std::string& value) {
    int status = -1;
    testing::RunCommand("ldb --db=" + f.data + " --column_family=" + family +
                            " --key_hex --value_hex put 0x" + base::Hex(key) + " 0x" +
                            base::Hex(value) + " 2>&1",
                        &status);
    REQUIRE(status == 0);
  };
  Hash prev = (*events)[position - 2].hash;
  for (uint64_t p = position; p <= events->size(); ++p) {
    Event e = (*events)[p - 1];
    if (p == position) std::get<ContactCreated>(e.body).fields.dealer_code = "MALLORY";
    e.prev_hash = prev;
    std::string bytes = events::EncodeEvent(e);
    prev = events::ComputeChainHash(bytes);
    events::PatchHash(bytes, prev);
    ldb_put(store::kCfLog, store::LogKey(p), bytes);
  }
  base::HeadRecord head = *base::DecodeHeadRecord(head_record);
  head.hash = prev;
  ldb_put(store::kCfMeta, store::kMetaHead, base::EncodeHeadRecord(head));

  int status = -1;
  const std::string out = RunBoth("verify --data " + f.data, &status);
  CAPTURE(out);
  CHECK(status == 1);
  CHECK(Has(out, "chain ok"));  // re-hashed: the chain alone cannot tell
  CHECK(Has(out, "REWRITTEN: the event at position " + std::to_string(position) + " "));
  CHECK(Has(out, "REWRITTEN: signed head of size " + std::to_string(published->head.tree_size)));
  CHECK(Has(out, "do NOT rebuild"));
  CHECK_FALSE(Has(out, "repair: cledger projections rebuild"));
  const json::object report = RunJson("verify --json --data " + f.data, &status);
  CHECK(report.at("log_suspect").as_bool());
  CHECK(report.at("first_tree_mismatch").to_number<uint64_t>() == position);

  // Without the key the roots still tell; verify says the signatures went unchecked.
  std::filesystem::rename(f.data + ".signing-key", f.dir.Sub("elsewhere"));
  const std::string unkeyed = RunBoth("verify --data " + f.data, &status);
  CAPTURE(unkeyed);
  CHECK(status == 1);
  CHECK(Has(unkeyed, "REWRITTEN: signed head of size"));
  CHECK(Has(unkeyed, "signatures of the signed heads NOT checked"));
  // A key named but unusable is an error, never a silent skip.
  RunBoth("verify --data " + f.data + " --signing-key-file " + f.dir.Sub("nokey"), &status);
  CHECK(status == 1);
  RunBoth("verify --data " + f.data + " --public-key nothex", &status);
  CHECK(status == 2);
}

// What someone with write access may do to the tree and the heads instead of the events: an
// inner node of the tree that lies, a signed head made unreadable. Verify names each, and
// offers no rebuild.
TEST_CASE("VerifyNamesATamperedTreeNodeAndADamagedSignedHeadAndOffersNoRebuild") {
  Populated f;
  f.Reopen();
  REQUIRE(f.engine->SignedHead().ok());
  f.engine.reset();
  REQUIRE(f.head.position >= 8);
  {
    RawDb raw(f.data);
    REQUIRE(raw.db->Put({}, raw.Family(store::kCfTree), store::TreeKey(3, 0), std::string(32, 'x'))
                .ok());
    REQUIRE(raw.db->Put({}, raw.Family(store::kCfMeta), "sth/" + base::U64Key(3), "short").ok());
    REQUIRE(raw.db->Put({}, raw.Family("p.contacts.1"), "junk", "tampered").ok());
  }
  int status = -1;
  const std::string out = RunBoth("verify --data " + f.data, &status);
  CAPTURE(out);
  CHECK(status == 1);
  CHECK(Has(out, "REWRITTEN: the event at position 8 no longer matches the Merkle tree"));
  CHECK(Has(out, "REWRITTEN: a signed head record is malformed"));
  CHECK(Has(out, "do NOT rebuild"));
}

// A changed byte of an event before the digest's position is a broken chain: the digest no
// longer "holds", even though the digest's own event is untouched.
TEST_CASE("ADigestDoesNotHoldWhenAnyEventBeforeItsPositionChanged") {
  Populated f;
  int status = -1;
  const std::string digest = Run("verify --digest --data " + f.data, &status);
  const std::string kept = digest.substr(0, digest.size() - 1);
  const uint64_t position = f.PositionOf("CustomerCreated", "customer-c2");
  {
    RawDb raw(f.data);
    std::string value;
    REQUIRE(raw.db->Get({}, raw.Family(store::kCfLog), store::LogKey(position), &value).ok());
    value[value.find("long") + 3] = 'F';
    REQUIRE(raw.db->Put({}, raw.Family(store::kCfLog), store::LogKey(position), value).ok());
  }
  const std::string out = Run("verify --against " + kept + " --data " + f.data, &status);
  CHECK(status == 1);
  CHECK_FALSE(Has(out, "digest " + kept + " holds"));
  CHECK(Has(out, "the chain is broken at position " + std::to_string(position)));
}

TEST_CASE("ADigestTakenEarlierIsProvenExtendedAndAWrongOneIsRefused") {
  Populated f;
  int status = -1;
  const std::string digest = Run("verify --digest --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(digest == std::to_string(f.head.position) + ":" + base::Hex(f.head.hash) + "\n");
  const std::string kept = digest.substr(0, digest.size() - 1);

  f.Reopen();  // the ledger grows after the digest was taken
  f.Must(f.owner, CreateContact{"k9", "c2", Person("Edsger", "edsger@acme.test")});
  f.engine.reset();

  std::string out = Run("verify --against " + kept + " --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(Has(out, "digest " + kept + " holds"));

  std::string wrong = kept;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  out = Run("verify --against " + wrong + " --data " + f.data, &status);
  CHECK(status == 1);
  CHECK(Has(out, "the ledger does not extend that digest"));
  out = Run("verify --against 9999:" + base::Hex(f.head.hash) + " --data " + f.data, &status);
  CHECK(status == 1);
  CHECK(Has(out, "past the head"));
  const json::object report =
      RunJson("verify --json --against " + wrong + " --data " + f.data, &status);
  CHECK_FALSE(report.at("against").as_object().at("ok").as_bool());

  RunBoth("verify --against not-a-digest --data " + f.data, &status);
  CHECK(status == 2);
}

TEST_CASE("OfflineCommandsRefuseADataDirectoryThatHoldsNoLedgerAndCreateNothing") {
  testing::TempDir dir;
  for (const std::string cmd : {"verify", "stats", "projections status", "events dump"}) {
    int status = -1;
    const std::string out = RunBoth(cmd + " --data " + dir.Sub("typo"), &status);
    CHECK(status == 3);
    CHECK(Has(out, "no ledger in"));
  }
  CHECK_FALSE(std::filesystem::exists(dir.Sub("typo")));
}

// A value the ledger refuses is a bad argument (exit 2), as a bad option is; a mistyped tenant
// is named, not answered with an empty dump.
TEST_CASE("ARefusedRoleProjectionOrTenantIsNamedAndExitsAsABadArgument") {
  Populated f;
  int status = -1;
  std::string out =
      RunBoth("token issue --data " + f.data + " --tenant acme --actor a --role ownr", &status);
  CHECK(status == 2);
  CHECK(Has(out, "role is owner"));
  out = RunBoth("projections rebuild contcts --data " + f.data, &status);
  CHECK(status == 2);
  CHECK(Has(out, "no projection named 'contcts'"));
  out = RunBoth("events dump --tenant acmee --data " + f.data, &status);
  CHECK(status == 1);
  CHECK(Has(out, "no tenant 'acmee'"));
}

// What a person running an offline command beside the server reads: not RocksDB's lock error.
TEST_CASE("AnOfflineCommandOnADirectoryInUseSaysSoPlainly") {
  Populated f;
  f.Reopen();  // holds the directory, as a server would
  int status = -1;
  const std::string out = RunBoth("verify --data " + f.data, &status);
  CHECK(status == 3);
  CHECK(Has(out, "is in use by another process"));
  CHECK_FALSE(Has(out, "LOCK"));
}

TEST_CASE("CreateMakesTheDataDirectoryWithItsParents") {
  testing::TempDir dir;
  const std::string data = dir.Sub("not/yet/there");
  int status = -1;
  const std::string out = Run("tenant create acme --create --data " + data, &status);
  CAPTURE(out);
  CHECK(status == 0);
  CHECK(std::filesystem::exists(data + "/CURRENT"));
  Run("verify --data " + data, &status);
  CHECK(status == 0);
}

TEST_CASE("ALedgerWithoutItsCurrentFileIsReportedDamagedNotMissingAndLeftAsItWas") {
  Populated f;
  std::filesystem::remove(std::filesystem::path(f.data) / "CURRENT");
  std::set<std::string> before;
  for (const auto& entry : std::filesystem::directory_iterator(f.data)) {
    before.insert(entry.path().filename().string());
  }
  for (const std::string& cmd :
       std::vector<std::string>{"verify", "head", "stats", "projections status", "events dump",
                                "backup create " + f.dir.Sub("b"), "serve --listen 127.0.0.1:0"}) {
    CAPTURE(cmd);
    int status = -1;
    // A command that took the directory for a new ledger would serve it: bounded, then killed.
    const std::string out = RunCommand(
        "timeout 20 " + std::string(CLEDGER_BINARY) + " " + cmd + " --data " + f.data + " 2>&1",
        &status);
    CHECK(status == 1);
    CHECK(Has(out, "damaged"));
    CHECK(Has(out, "CURRENT is missing"));
    CHECK(Has(out, "restore"));
    CHECK_FALSE(Has(out, "no ledger in"));
  }
  std::set<std::string> after;
  for (const auto& entry : std::filesystem::directory_iterator(f.data)) {
    after.insert(entry.path().filename().string());
  }
  CHECK(after == before);
}

// ---- projections ---------------------------------------------------------------------------

TEST_CASE("ProjectionsStatusAndRebuildWorkOfflineAndKeepEveryProjectionEqualToAFreshFold") {
  Populated f;
  int status = -1;
  json::object list = RunJson("projections status --json --data " + f.data, &status);
  CHECK(status == 0);
  REQUIRE(list.at("items").as_array().size() == 6);
  for (const json::value& item : list.at("items").as_array()) {
    const json::object& p = item.as_object();
    CHECK(p.at("applied_position").to_number<uint64_t>() == f.head.position);
    CHECK(p.at("lag").to_number<uint64_t>() == 0);
    CHECK(p.at("generation").to_number<uint64_t>() == 1);
    CHECK(p.at("size_bytes").to_number<uint64_t>() > 0);
  }
  std::string out = Run("projections status --data " + f.data, &status);
  CHECK(Has(out, "NAME"));
  CHECK(Has(out, "contacts"));

  out = Run("projections rebuild contacts --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(Has(out, "rebuilt contacts: generation 2, applied " + std::to_string(f.head.position)));
  list = RunJson("projections rebuild --all --json --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(list.at("items").as_array().size() == 6);
  for (const json::value& item : list.at("items").as_array()) {
    const json::object& p = item.as_object();
    CHECK(p.at("generation").to_number<uint64_t>() ==
          (p.at("name").as_string() == "contacts" ? 3 : 2));
  }
  Run("verify --data " + f.data, &status);
  CHECK(status == 0);

  out = RunBoth("projections rebuild --data " + f.data, &status);
  CHECK(status == 2);
  out = RunBoth("projections rebuild nosuch --data " + f.data, &status);
  CHECK(status == 2);
  CHECK(Has(out, "projection_not_found"));
}

// Appends `n` customers of acme straight through the engine, from a few threads at once so
// that group commit keeps it quick.
void Seed(Engine& engine, int n) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&engine, n, t] {
      const CommandContext owner{"acme", {"alice", "owner"}, {}, {}, {}};
      for (int i = t; i < n; i += 8) {
        const std::string id = "s" + std::to_string(i);
        CHECK(engine.Execute(owner, CreateCustomer{id, "Seed", id + "@acme.test"}).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

// Appends through HTTP until told to stop, counting requests that did not succeed.
struct Writer {
  testing::ServerFixture& server;
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  std::thread thread;

  explicit Writer(testing::ServerFixture& s) : server(s) {
    thread = std::thread([this] {
      for (int i = 0; !stop; ++i) {
        const std::string id = "w" + std::to_string(i);
        auto created = server.Call("acme/owner", "POST", "/v1/customers",
                                   R"({"id": ")" + id + R"(", "name": "Writer )" + id +
                                       R"(", "email": ")" + id + R"(@acme.test"})");
        auto read = server.Call("acme/owner", "GET", "/v1/customers/" + id + "/contacts");
        if (created.status != 201 || read.status != 200) {
          if (failures++ == 0) first_failure = created.body + " / " + read.body;
        }
        ++writes;
      }
    });
  }
  void Stop() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Writer() { Stop(); }
};

std::string Remote(const testing::ServerFixture& f) {
  return " --server http://127.0.0.1:" + std::to_string(f.port) + " --token " + f.tokens.at("ops");
}

TEST_CASE("RebuildThroughTheServerWhileAWriterAppendsFailsNoRequestAndMatchesAFreshFold") {
  testing::ServerFixture f;
  Seed(*f.engine, 500);
  Writer writer(f);
  while (writer.writes < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int before = writer.writes;
  int status = -1;
  const std::string out = RunBoth("projections rebuild --all" + Remote(f), &status);
  const int during = writer.writes - before;
  writer.Stop();
  INFO(out);
  INFO(writer.first_failure);
  CHECK(status == 0);
  CHECK(Has(out, "rebuilt contacts: generation 2"));
  CHECK(during > 0);
  CHECK(writer.failures == 0);

  auto report = json::parse(f.Call("ops", "GET", "/v1/ledger/verify").body).as_object();
  CHECK(report.at("ok").as_bool());
  CHECK(report.at("projections").as_array().empty());
  const json::object verified = RunJson("verify --json" + Remote(f), &status);
  CHECK(status == 0);
  CHECK(verified.at("position").to_number<uint64_t>() == f.Head());
  const json::object list = RunJson("projections status --json" + Remote(f), &status);
  const size_t projections = f.engine->Projections().size();
  REQUIRE(projections > 0);
  REQUIRE(list.at("items").as_array().size() == projections);
  for (const json::value& item : list.at("items").as_array()) {
    CHECK(item.as_object().at("generation").to_number<uint64_t>() == 2);
    CHECK(item.as_object().at("lag").to_number<uint64_t>() == 0);
  }
}

// A server's own word for its signatures proves nothing (its key sits beside its log): it
// sends the heads it signed, and verify checks them with the key its caller trusts.
TEST_CASE("VerifyThroughTheServerChecksTheSignedHeadsWithTheKeyTheCallerTrusts") {
  testing::ServerFixture f;
  REQUIRE(f.engine->SignedHead().ok());
  const CommandContext ops{"", {"cli", "ops"}, {}, {}, {}};
  REQUIRE(f.engine->Execute(ops, CreateTenant{"initech", "standard", {}}).ok());
  REQUIRE(f.engine->SignedHead().ok());
  auto ledger_key = proofs::SigningKey::Load(f.dir.Sub("signing-key"));
  auto other_key = proofs::SigningKey::LoadOrCreate(f.dir.Sub("other-key"));
  REQUIRE(ledger_key.ok());
  REQUIRE(other_key.ok());
  int status = -1;
  const std::string trusted = RunBoth(
      "verify" + Remote(f) + " --public-key " + base::Hex(ledger_key->public_key()), &status);
  CAPTURE(trusted);
  CHECK(status == 0);
  CHECK(Has(trusted, "signed heads ok"));
  CHECK(Has(trusted, "(2 signatures checked)"));

  const std::string unkeyed = RunBoth("verify" + Remote(f), &status);
  CAPTURE(unkeyed);
  CHECK(status == 0);
  CHECK(Has(unkeyed, "signatures of the signed heads NOT checked"));
  CHECK_FALSE(Has(unkeyed, "no signed heads recorded"));
  // The server answers a check younger than 10 s again: the answer says when it was made.
  CHECK(Has(unkeyed, "the server's check, finished at 20"));
  CHECK(Has(unkeyed, " s ago)\n"));

  const std::string forged = RunBoth(
      "verify" + Remote(f) + " --public-key " + base::Hex(other_key->public_key()), &status);
  CAPTURE(forged);
  CHECK(status == 1);
  CHECK(Has(forged, "its signature does not verify"));
  const json::object report = RunJson("verify --json" + Remote(f), &status);
  CHECK(report.at("signed_heads_checked").to_number<uint64_t>() == 2);
  CHECK(report.at("verified_at").as_string().starts_with("20"));
}

// Answers every request on a loopback port with `body` as JSON, until destroyed.
class CannedServer {
 public:
  explicit CannedServer(std::string body)
      : thread_([this, body = std::move(body)] {
          for (;;) {
            boost::system::error_code ec;
            auto socket = acceptor_.accept(ec);
            if (ec) return;
            boost::asio::streambuf request;
            boost::asio::read_until(socket, request, "\r\n\r\n", ec);
            const std::string response =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
            boost::asio::write(socket, boost::asio::buffer(response), ec);
          }
        }) {}
  ~CannedServer() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocked accept
    thread_.join();
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_, {boost::asio::ip::make_address("127.0.0.1"), 0}};
  std::thread thread_;
};

// What answers in a ledger server's place proves nothing by saying little: a report that
// lacks what a verification reports, or says it failed without why, fails verify.
TEST_CASE("VerifyAgainstAServerThatAnswersNoRealReportFailsInsteadOfSayingOk") {
  const std::string clean = R"("events_checked":5,"first_broken_position":0,"problem":"",)"
                            R"("position":5,"hash":")" +
                            std::string(64, 'a') +
                            R"(","projections":[],"projections_unchecked":"",)"
                            R"("first_tree_mismatch":0,"tree_leaves_rebuilt":0,)"
                            R"("tree_problems":[],"signed_heads":[])";
  std::string heads_not_a_list = "{\"ok\":true," + clean + "}";
  heads_not_a_list.replace(heads_not_a_list.find("\"signed_heads\":[]"), 17,
                           "\"signed_heads\":\"x\"");
  for (const std::string& body : {std::string("{}"), std::string(R"({"ok":true})"),
                                  heads_not_a_list, "{\"ok\":false," + clean + "}"}) {
    CannedServer server(body);
    int status = -1;
    const std::string out = RunBoth("verify --server " + server.Url() + " --token t", &status);
    CAPTURE(body);
    CAPTURE(out);
    CHECK(status != 0);
    CHECK_FALSE(Has(out, "projections ok"));
  }
  CannedServer honest("{\"ok\":true," + clean + "}");
  int status = -1;
  RunBoth("verify --server " + honest.Url() + " --token t", &status);
  CHECK(status == 0);  // the same report, saying ok, passes: the checks above are not blanket
}

// ---- events dump ---------------------------------------------------------------------------

TEST_CASE("EventsDumpWritesOneJsonLinePerEventAndFiltersByTenantAndRange") {
  Populated f;
  int status = -1;
  std::vector<std::string> lines = Lines(Run("events dump --data " + f.data, &status));
  CHECK(status == 0);
  REQUIRE(lines.size() == f.head.position);
  for (size_t i = 0; i < lines.size(); ++i) {
    const json::object e = json::parse(lines[i]).as_object();
    CHECK(e.at("position").to_number<uint64_t>() == i + 1);
    CHECK(e.contains("type"));
  }
  lines = Lines(Run("events dump --tenant acme --data " + f.data, &status));
  CHECK_FALSE(lines.empty());
  for (const std::string& line : lines) {
    CHECK(json::parse(line).as_object().at("tenant").as_string() == "acme");
  }
  lines = Lines(Run("events dump --from 2 --to 4 --data " + f.data, &status));
  REQUIRE(lines.size() == 3);
  CHECK(json::parse(lines[0]).as_object().at("position").to_number<uint64_t>() == 2);
  CHECK(json::parse(lines[2]).as_object().at("position").to_number<uint64_t>() == 4);
  RunBoth("events dump --from 4 --to 2 --data " + f.data, &status);
  CHECK(status == 2);
}

TEST_CASE("EventsDumpRawWritesSizePrefixedFramesThatStockFlatcDecodes") {
  Populated f;
  const std::string file = f.dir.Sub("events.bin");
  int status = -1;
  Run("events dump --format raw --data " + f.data + " > " + file, &status);
  CHECK(status == 0);
  const std::vector<std::string> frames = Frames(ReadFile(file));
  REQUIRE(frames.size() == f.head.position);
  f.Reopen();
  for (size_t i = 0; i < frames.size(); ++i) {
    CHECK(frames[i] == *f.engine->ledger().ReadRaw(i + 1));
  }
  f.engine.reset();

  std::ofstream(f.dir.Sub("event.bin"), std::ios::binary) << frames[0];
  RunCommand(std::string(CLEDGER_FLATC) + " --json --strict-json --raw-binary -o " + f.dir.path() +
                 " " + CLEDGER_SOURCE_DIR + "/schemas/events.fbs -- " + f.dir.Sub("event.bin") +
                 " 2>&1",
             &status);
  REQUIRE(status == 0);
  const std::string decoded = ReadFile(f.dir.Sub("event.json"));
  CHECK(Has(decoded, "\"position\": 1"));
  CHECK(Has(decoded, "\"body_type\": \"TenantCreated\""));
}

TEST_CASE("EventsDumpThroughTheServerPagesThroughTheWholeLedgerInBothFormats") {
  testing::ServerFixture f;
  Seed(*f.engine, 1100);  // more than one page of the server's events
  REQUIRE(f.Call("globex/owner", "POST", "/v1/customers",
                 R"({"id": "g1", "name": "Globex", "email": "g@globex.test"})")
              .status == 201);
  int status = -1;
  const std::vector<std::string> lines = Lines(Run("events dump" + Remote(f), &status));
  CHECK(status == 0);
  REQUIRE(lines.size() == f.Head());
  CHECK(json::parse(lines.back()).as_object().at("position").to_number<uint64_t>() == f.Head());
  const std::vector<std::string> middle =
      Lines(Run("events dump --from 995 --to 1005" + Remote(f), &status));
  REQUIRE(middle.size() == 11);
  CHECK(json::parse(middle[0]).as_object().at("position").to_number<uint64_t>() == 995);
  CHECK(json::parse(middle[10]).as_object().at("position").to_number<uint64_t>() == 1005);

  const std::string file = f.dir.Sub("remote.bin");
  Run("events dump --format raw --from 2" + Remote(f) + " > " + file, &status);
  CHECK(status == 0);
  const std::vector<std::string> frames = Frames(ReadFile(file));
  REQUIRE(frames.size() == f.Head() - 1);
  for (size_t i = 0; i < frames.size(); ++i) {
    CHECK(frames[i] == *events::RedactSecrets(*f.engine->ledger().ReadRaw(i + 2)));
  }
  Run("events dump --format raw --tenant globex" + Remote(f) + " > " + file, &status);
  const std::vector<std::string> globex = Frames(ReadFile(file));
  REQUIRE_FALSE(globex.empty());
  for (const std::string& frame : globex) CHECK(events::DecodeEvent(frame)->tenant == "globex");
}

// What stock flatc makes of each raw frame: the JSON text of every event, concatenated.
std::string DecodeWithFlatc(const std::vector<std::string>& frames, const testing::TempDir& dir) {
  std::string decoded;
  for (size_t i = 0; i < frames.size(); ++i) {
    const std::string bin = dir.Sub("frame-" + std::to_string(i) + ".bin");
    std::ofstream(bin, std::ios::binary) << frames[i];
    int status = -1;
    RunCommand(std::string(CLEDGER_FLATC) + " --json --strict-json --raw-binary -o " + dir.path() +
                   " " + CLEDGER_SOURCE_DIR + "/schemas/events.fbs -- " + bin + " 2>&1",
               &status);
    REQUIRE(status == 0);
    decoded += ReadFile(dir.Sub("frame-" + std::to_string(i) + ".json"));
  }
  return decoded;
}

// The secrets a ledger holds: every password hash and token hash, as recorded.
std::vector<std::string> SecretsIn(Ledger& ledger) {
  std::vector<std::string> secrets;
  auto events = ledger.Read(1, 1000);
  REQUIRE(events.ok());
  for (const Event& e : *events) {
    if (const auto* reset = std::get_if<ContactPasswordReset>(&e.body)) {
      secrets.push_back(reset->password_hash);
    } else if (const auto* issued = std::get_if<TokenIssued>(&e.body)) {
      secrets.push_back(issued->token_hash);
    } else if (const auto* revoked = std::get_if<TokenRevoked>(&e.body)) {
      secrets.push_back(revoked->token_hash);
    }
  }
  return secrets;
}

void CheckNoSecretIn(const std::string& decoded, const std::vector<std::string>& secrets) {
  CHECK_FALSE(Has(decoded, "$argon2id$"));
  for (const std::string& secret : secrets) {
    CAPTURE(secret);
    CHECK_FALSE(Has(decoded, secret));
  }
  CHECK(Has(decoded, "[redacted]"));
}

TEST_CASE("RawEventsDumpedOfflineCarryNoPasswordOrTokenHash") {
  Populated f;
  f.Reopen();
  f.Must(f.owner, ResetPassword{"k1", {false, "Correct-Horse-42-battery"}});
  const std::string token = f.Must(f.ops, IssueToken{"acme", "eve", "auditor"}).token;
  f.Must(f.ops, RevokeToken{token, ""});
  const std::vector<std::string> secrets = SecretsIn(f.engine->ledger());
  REQUIRE(secrets.size() == 3);
  const uint64_t head = f.engine->ledger().GetHead().position;
  f.engine.reset();

  const std::string file = f.dir.Sub("events.bin");
  int status = -1;
  Run("events dump --format raw --data " + f.data + " > " + file, &status);
  CHECK(status == 0);
  const std::vector<std::string> frames = Frames(ReadFile(file));
  REQUIRE(frames.size() == head);
  CheckNoSecretIn(DecodeWithFlatc(frames, f.dir), secrets);
}

TEST_CASE("TheRawFeedAndARawDumpThroughTheServerCarryNoPasswordOrTokenHash") {
  testing::ServerFixture f;
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id": "c1", "name": "Acme", "email": "ap@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id": "k1", "first_name": "Ann", "email": "ann@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset", R"({"generate": true})")
              .status == 200);
  const std::vector<std::string> secrets = SecretsIn(f.engine->ledger());
  REQUIRE(secrets.size() == 9);  // the fixture's eight tokens and the password

  for (const std::string who : {"ops", "acme/owner", "acme/auditor", "acme/service"}) {
    CAPTURE(who);
    const auto reply = f.Call(who, "GET", "/v1/events?from=1&limit=1000", {},
                              {{"Accept", "application/x-flatbuffers"}});
    REQUIRE(reply.status == 200);
    const std::vector<std::string> frames = Frames(reply.body);
    REQUIRE_FALSE(frames.empty());
    CheckNoSecretIn(DecodeWithFlatc(frames, f.dir), secrets);
  }
  const std::string file = f.dir.Sub("remote.bin");
  int status = -1;
  Run("events dump --format raw" + Remote(f) + " > " + file, &status);
  CHECK(status == 0);
  const std::vector<std::string> frames = Frames(ReadFile(file));
  REQUIRE(frames.size() == f.Head());
  CheckNoSecretIn(DecodeWithFlatc(frames, f.dir), secrets);
}

// ---- backup --------------------------------------------------------------------------------

TEST_CASE("BackupTakenThroughTheServerWhileWritingRestoresIntoALedgerThatVerifies") {
  testing::ServerFixture f;
  const std::string backups = f.dir.Sub("backups");
  const std::string restored = f.dir.Sub("restored");
  Writer writer(f);
  while (writer.writes < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int status = -1;
  const json::object made = RunJson("backup create " + backups + " --json" + Remote(f), &status);
  writer.Stop();
  CHECK(status == 0);
  CHECK(writer.failures == 0);
  CHECK(made.at("position").to_number<uint64_t>() > 0);

  const json::object back =
      RunJson("backup restore " + backups + " --json --data " + restored, &status);
  CHECK(status == 0);
  CHECK(back.at("position").to_number<uint64_t>() > 0);
  CHECK(back.at("position").to_number<uint64_t>() <= f.Head());
  // A restore comes with the ledger's keys.
  const std::string out =
      Run("verify --data " + restored + " --key-store " + f.dir.Sub("data.keys") +
              " --master-key-file " + f.dir.Sub("data.master-key"),
          &status);
  CHECK_MESSAGE(status == 0, out);
  CHECK(Has(out, "chain ok"));

  std::string refused = RunBoth("backup restore " + backups + " --data " + restored, &status);
  CHECK(status == 2);
  CHECK(Has(refused, "is not empty"));
  refused = RunBoth("backup create relative/dir" + Remote(f), &status);
  CHECK(status == 2);
  CHECK(Has(refused, "absolute"));
}

TEST_CASE("ABackupTakenUnderWritesHoldsThePositionItReports") {
  testing::ServerFixture f;
  Seed(*f.engine, 3000);  // enough that copying and verifying the files takes a while
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 3; ++i) writers.push_back(std::make_unique<Writer>(f));
  while (writers[0]->writes < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::vector<std::pair<std::string, uint64_t>> reported;
  for (int round = 0; round < 3; ++round) {
    const std::string backups = f.dir.Sub("backups-" + std::to_string(round));
    int status = -1;
    const std::string said = Run("backup create " + backups + Remote(f), &status);
    REQUIRE(status == 0);
    CHECK(Has(said, "holds at least position "));
    const json::object made =
        RunJson("backup create " + backups + "-json --json" + Remote(f), &status);
    REQUIRE(status == 0);
    reported.emplace_back(backups + "-json", made.at("position").to_number<uint64_t>());
  }
  for (auto& writer : writers) writer->Stop();
  for (const auto& backup : reported) {
    const auto& [backups, position] = backup;
    CAPTURE(backup.second);  // clang 14 cannot capture a structured binding
    int status = -1;
    const json::object back =
        RunJson("backup restore " + backups + " --json --data " + backups + "-restored", &status);
    REQUIRE(status == 0);
    CHECK(back.at("position").to_number<uint64_t>() >= position);
  }
}

TEST_CASE("BackupCreatedOfflineRestoresTheSameHead") {
  Populated f;
  int status = -1;
  std::string out = Run("backup create " + f.dir.Sub("b") + " --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(Has(out, "backup 1 holds position " + std::to_string(f.head.position) + " ("));
  out = Run("backup restore " + f.dir.Sub("b") + " --data " + f.dir.Sub("r"), &status);
  CHECK(status == 0);
  CHECK(Has(out, "restored position " + std::to_string(f.head.position) + " (" +
                     base::Hex(f.head.hash) + ")"));
  Run("verify --data " + f.dir.Sub("r") + " --key-store " + f.data + ".keys --master-key-file " +
          f.data + ".master-key",
      &status);
  CHECK(status == 0);
}

// Backups and restores make their directories with the parents (as --create does); a file in
// the way is named as a file, not as a storage fault.
TEST_CASE("BackupAndRestoreMakeMissingParentsAndNameAFileInTheWay") {
  Populated f;
  int status = -1;
  std::ofstream(f.dir.Sub("afile")) << "x";
  std::string out = RunBoth("backup create " + f.dir.Sub("afile") + " --data " + f.data, &status);
  CHECK(status != 0);
  CHECK(Has(out, f.dir.Sub("afile") + " is a file, not a directory"));
  CHECK_FALSE(Has(out, "IO error"));
  const std::string nested = f.dir.Sub("not/yet/backups");
  Run("backup create " + nested + " --data " + f.data, &status);
  CHECK(status == 0);
  out = RunBoth("backup restore " + nested + " --data " + f.dir.Sub("afile"), &status);
  CHECK(status != 0);
  CHECK(Has(out, f.dir.Sub("afile") + " is a file, not a directory"));
  Run("backup restore " + nested + " --data " + f.dir.Sub("new/place/restored"), &status);
  CHECK(status == 0);
  CHECK(std::filesystem::exists(f.dir.Sub("new/place/restored/CURRENT")));
}

// Where there is no backup to check or restore (an empty directory, a file, nothing), verify
// and restore say so alike, and a restore leaves no directory behind.
TEST_CASE("VerifyAndRestoreOfADirectoryWithoutBackupsAnswerAlike") {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("empty"));
  std::ofstream(dir.Sub("afile")) << "x";
  for (const std::string name : {"empty", "afile", "nothing"}) {
    CAPTURE(name);
    int status = -1;
    const std::string verified = RunBoth("backup verify " + dir.Sub(name), &status);
    CHECK(status == 1);
    CHECK(Has(verified, "[backup_not_found]"));
    const std::string restored =
        RunBoth("backup restore " + dir.Sub(name) + " --data " + dir.Sub("restored"), &status);
    CHECK(status == 1);
    CHECK(Has(restored, "[backup_not_found]"));
    CHECK_FALSE(std::filesystem::exists(dir.Sub("restored")));
  }
}

// The restore a backup's hint suggests names only keys that are there: not a path to nothing.
TEST_CASE("ABackupsRestoreHintNamesOnlyKeysThatAreThere") {
  Populated f;
  int status = -1;
  std::string out = RunBoth("backup create " + f.dir.Sub("b1") + " --data " + f.data, &status);
  REQUIRE(status == 0);
  CHECK(Has(out, "--key-store " + f.dir.Sub("data.keys")));
  CHECK(Has(out, "--master-key-file " + f.dir.Sub("data.master-key")));
  out = RunBoth("backup create " + f.dir.Sub("b2") + " --data " + f.data + " --key-store " +
                    f.dir.Sub("nowhere.keys"),
                &status);
  REQUIRE(status == 0);
  CHECK(Has(out, "--key-store KEY_STORE --master-key-file " + f.dir.Sub("data.master-key")));
  CHECK_FALSE(Has(out, "nowhere.keys"));
}

// A restore given keys that are not the ledger's fails as any failed restore does: nothing is
// left in the new directory, so the same restore with the right keys then succeeds there.
TEST_CASE("ARestoreRefusedForItsKeysLeavesNothingAndSucceedsWithTheLedgersOwn") {
  Populated f;
  int status = -1;
  Run("backup create " + f.dir.Sub("backups") + " --data " + f.data, &status);
  REQUIRE(status == 0);
  const std::string restore = "backup restore " + f.dir.Sub("backups") + " --data " +
                              f.dir.Sub("restored") + " --master-key-file " +
                              f.dir.Sub("data.master-key") + " --key-store ";
  const std::string refused = RunBoth(restore + f.dir.Sub("elsewhere.keys"), &status);
  CHECK(status == 3);
  CHECK(Has(refused, "[key_store_missing]"));
  CHECK(Has(refused, "nothing was left in " + f.dir.Sub("restored")));
  CHECK_FALSE(std::filesystem::exists(f.dir.Sub("restored")));  // it made the directory
  const std::string restored = RunBoth(restore + f.dir.Sub("data.keys"), &status);
  CHECK_MESSAGE(status == 0, restored);
  CHECK(Has(restored, "restored position " + std::to_string(f.head.position)));
}

// The line of `out` that starts with `label`, less the label and its leading "cledger ".
std::string HintAfter(const std::string& out, const std::string& label) {
  const size_t at = out.find(label);
  if (at == std::string::npos) return "";
  const size_t from = at + label.size() + std::string("cledger ").size();
  return out.substr(from, out.find('\n', from) - from);
}

TEST_CASE("FollowingTheHintsOfBackupAndRestoreGivesALedgerThatVerifies") {
  Populated f;
  int status = -1;
  const std::string made = Run("backup create " + f.dir.Sub("b") + " --data " + f.data, &status);
  REQUIRE(status == 0);
  std::string restore = HintAfter(made, "restore it with: ");
  REQUIRE(Has(restore, "NEWDIR"));
  restore.replace(restore.find("NEWDIR"), 6, f.dir.Sub("r"));
  const std::string restored = Run(restore, &status);
  REQUIRE(status == 0);
  const std::string verify = HintAfter(restored, "check it with: ");
  REQUIRE_FALSE(verify.empty());
  const std::string verified = Run(verify, &status);
  CHECK_MESSAGE(status == 0, verified);
  CHECK(Has(verified, "chain ok"));
  CHECK(Has(verified, "projections ok"));
  CHECK_FALSE(Has(verified, "NOT checked"));  // the signed heads' signatures too
}

// ---- stats ---------------------------------------------------------------------------------

TEST_CASE("StatsCountEventsCommitsTenantsCustomersAndContacts") {
  Populated f;
  int status = -1;
  const json::object s = RunJson("stats --json --data " + f.data, &status);
  CHECK(status == 0);
  CHECK(s.at("position").to_number<uint64_t>() == f.head.position);
  CHECK(s.at("hash").as_string() == base::Hex(f.head.hash));
  CHECK(s.at("events").to_number<uint64_t>() == f.head.position);
  CHECK(s.at("commits").to_number<uint64_t>() == f.commits);
  CHECK(s.at("tenants").to_number<uint64_t>() == 1);
  CHECK(s.at("customers").to_number<uint64_t>() == f.stats.customers);
  CHECK(s.at("contacts").to_number<uint64_t>() == f.stats.contacts);
  CHECK(s.at("size_bytes").to_number<uint64_t>() > 0);
  const std::string text = Run("stats --data " + f.data, &status);
  CHECK(Has(text, "events     " + std::to_string(f.head.position)));
}

TEST_CASE("StatsThroughTheServerReportTheLiveHead") {
  testing::ServerFixture f;
  int status = -1;
  const json::object s = RunJson("stats --json" + Remote(f), &status);
  CHECK(status == 0);
  CHECK(s.at("position").to_number<uint64_t>() == f.Head());
  CHECK(s.at("tenants").to_number<uint64_t>() == 2);
}

// ---- the command line itself ---------------------------------------------------------------

TEST_CASE("EveryOpsSubcommandHasHelpWithExamplesAndExitCodes") {
  for (const std::string cmd : {"verify", "projections status", "projections rebuild",
                                "events dump", "backup create", "backup restore", "stats"}) {
    int status = -1;
    const std::string help = Run(cmd + " --help", &status);
    CAPTURE(cmd);
    CHECK(status == 0);
    CHECK(Has(help, "Examples:"));
    CHECK(Has(help, "Exit codes:"));
  }
}

// Keys kept elsewhere than beside the data directory must be findable from the help of the
// command at hand, not only from `cledger --help`.
TEST_CASE("TheHelpOfEveryCommandThatOpensADataDirectoryNamesBothKeyOptions") {
  for (const std::string cmd :
       {"verify", "projections rebuild", "events dump", "backup create", "backup restore", "stats",
        "history", "audit export", "tenant create", "token issue", "import", "head"}) {
    int status = -1;
    const std::string help = Run(cmd + " --help", &status);
    CAPTURE(cmd);
    CHECK(status == 0);
    // As an option of its own, or in the line that names the ones it takes from `cledger`.
    const size_t also = help.find("\nAlso takes ");
    const std::string footer = help.substr(std::min(also, help.size()));
    for (const std::string option : {"--key-store", "--master-key-file"}) {
      CAPTURE(option);
      CHECK((Has(help, "\n  " + option + " ") ||
             footer.substr(0, footer.find('\n', 1)).find(option) != std::string::npos));
    }
  }
}

TEST_CASE("EachGroupsHelpShowsExamplesOfItsOwnSubcommands") {
  for (const std::string group : {"tenant", "token", "keys", "projections", "events", "backup",
                                  "proof", "erasure", "cluster"}) {
    int status = -1;
    const std::string help = Run(group + " --help", &status);
    CAPTURE(group);
    CHECK(status == 0);
    CHECK(Has(help, "Examples:\n  cledger " + group + " "));
    CHECK_FALSE(Has(help, "cledger serve --data"));  // the top-level examples
  }
}

TEST_CASE("ServerErrorsAreExplainedWithoutEverPrintingTheToken") {
  testing::ServerFixture f;
  int status = -1;
  std::string out = RunBoth("stats --server http://127.0.0.1:" + std::to_string(f.port) +
                                " --token clt_not-a-real-token-4242",
                            &status);
  CHECK(status == 1);
  CHECK(Has(out, "[unauthenticated]"));
  CHECK_FALSE(Has(out, "4242"));
  out = RunBoth("stats --server http://127.0.0.1:" + std::to_string(f.port) + " --token " +
                    f.tokens.at("acme/owner"),
                &status);
  CHECK(status == 1);
  CHECK(Has(out, "[forbidden]"));
  CHECK_FALSE(Has(out, f.tokens.at("acme/owner")));

  out = RunBoth("stats --server http://127.0.0.1:1 --token clt_secret-4242", &status);
  CHECK(status == 3);
  CHECK(Has(out, "cannot reach the server"));
  CHECK_FALSE(Has(out, "4242"));
  out = RunCommand("env -u CLEDGER_TOKEN " + std::string(CLEDGER_BINARY) +
                       " stats --server http://127.0.0.1:1 2>&1",
                   &status);
  CHECK(status == 2);
  // CLEDGER_TOKEN stands in for --token; a token typed on the command line wins over it.
  const std::string url = " --server http://127.0.0.1:" + std::to_string(f.port);
  RunCommand("CLEDGER_TOKEN=" + f.tokens.at("acme/owner") + " " + CLEDGER_BINARY + " stats" + url +
                 " --token " + f.tokens.at("ops") + " >/dev/null 2>&1",
             &status);
  CHECK(status == 0);
  RunCommand("CLEDGER_TOKEN=" + f.tokens.at("ops") + " " + CLEDGER_BINARY + " stats" + url +
                 " >/dev/null 2>&1",
             &status);
  CHECK(status == 0);
  RunBoth("stats --server ftp://127.0.0.1:1 --token t", &status);
  CHECK(status == 2);
  out = RunBoth("stats --server https://127.0.0.1:1 --token clt_secret-4242", &status);
  CHECK(status == 3);
  CHECK(Has(out, "cannot reach the server"));
}

// A ledger written by a process that died without closing (every commit only in the WAL),
// then 16 bytes flipped in the middle of that WAL; returns the WAL's file name.
std::string DamagedWalLedger(const std::string& data) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    LedgerOptions options;
    options.path = data;
    auto engine = Engine::Open(options);
    if (!engine.ok()) _exit(2);
    const CommandContext ops{"", {"cli", "ops"}, {}, {}, {}};
    if (!(*engine)->Execute(ops, CreateTenant{"acme", "standard", {}}).ok()) _exit(3);
    const CommandContext owner{"acme", {"alice", "owner"}, {}, {}, {}};
    for (int i = 0; i < 300; ++i) {
      const std::string id = "c" + std::to_string(i);
      CreateCustomer create{id, "Customer " + id + std::string(60, 'x'), id + "@a.test", ""};
      if (!(*engine)->Execute(owner, create).ok()) _exit(4);
    }
    _exit(0);  // as kill -9 would: nothing flushed, nothing closed
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::string wal;
  for (const auto& entry : std::filesystem::directory_iterator(data)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".log") && name > wal) wal = name;
  }
  REQUIRE_FALSE(wal.empty());
  const auto size = std::filesystem::file_size(std::filesystem::path(data) / wal);
  std::fstream file(std::filesystem::path(data) / wal,
                    std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(static_cast<std::streamoff>(size / 2));
  for (int i = 0; i < 16; ++i) file.put('Z');
  return wal;
}

TEST_CASE("ADamagedWalExits4UntilAnOperatorAcceptsTheNamedLoss") {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string wal = DamagedWalLedger(data);
  int status = -1;
  const std::string refused = RunBoth("head --data " + data, &status);
  CHECK(status == 4);
  CHECK(Has(refused, wal));
  CHECK(Has(refused, "cledger recover"));
  RunBoth("recover --data " + data + " --accept-wal-loss 000001.log", &status);
  CHECK(status == 4);  // not the file the refusal named
  const std::string recovered =
      Run("recover --data " + data + " --accept-wal-loss " + wal, &status);
  CHECK(status == 0);
  CHECK(Has(recovered, "positions recorded as lost (never reused)"));
  const std::string verified = Run("verify --data " + data, &status);
  CHECK(status == 0);
  CHECK(Has(verified, "chain ok"));
  CHECK(Has(verified, "positions recorded as lost"));
}

}  // namespace
}  // namespace cledger

namespace cledger {
namespace {

TEST_CASE("TokenListShowsDigestsActorsAndLifetimesButNoTokenAndRevokedOnesVanish") {
  testing::TempDir dir;
  const std::string data = " --data " + dir.Sub("data");
  int status = -1;
  Run("tenant create acme --create" + data, &status);
  REQUIRE(status == 0);
  const std::string brief =
      Run("token issue --tenant acme --actor ann --role admin --expires-in 12h" + data, &status);
  REQUIRE(status == 0);
  Run("token issue --actor root --role ops" + data, &status);
  REQUIRE(status == 0);

  std::string listed = Run("token list" + data, &status);
  CHECK(status == 0);
  CHECK(listed.find(brief.substr(0, brief.size() - 1)) == std::string::npos);  // no token
  CHECK(listed.find("  acme  ann  admin  ") != std::string::npos);
  CHECK(listed.find("  -  root  ops  ") != std::string::npos);
  CHECK(listed.find("never") != std::string::npos);
  const std::string only_acme = Run("token list --tenant acme" + data, &status);
  CHECK(only_acme.find("root") == std::string::npos);
  CHECK(only_acme.find(" never") == std::string::npos);  // ann's expires

  Run("token revoke " + brief.substr(0, brief.size() - 1) + data, &status);  // by the token
  CHECK(status == 0);
  CHECK(Run("token list --tenant acme" + data, &status).empty());
  CHECK(RunBoth("token issue --tenant acme --actor x --role admin --expires-in 3w" + data, &status)
            .find("--expires-in takes a lifetime") != std::string::npos);
  CHECK(status == 2);
}

}  // namespace
}  // namespace cledger
