// Privacy end to end, on a real server on loopback and the real `cledger` binary: no secret
// reaches any reader (FORMAT.md, "Secrets"), and erasure of personal data (FORMAT.md,
// "Personal data"). After an erasure no file of the data directory, of a backup
// taken after it or of the key store, no log line, dump, export, history or time travel holds
// an erased value; the chain and the projections still verify; the certificate verifies
// offline and a tampered one does not; a backup restored from before the erasure comes back
// erased.
#include <doctest/doctest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cledger/engine.h"
#include "engine/api/routes.h"
#include "tests/support/closed_ledger_db.h"
#include "tests/support/log_capture.h"
#include "tests/support/server_fixture.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string Cledger(const std::string& args, int* status);

// ---- Secrets ------------------------------------------------------------------------------

// What no reader may ever see: a password hash in any form, a password, a token.
void ExpectNoSecret(const std::string& where, const std::string& text,
                    const std::vector<std::string>& secrets) {
  CAPTURE(where);
  CHECK(text.find("$argon2id$") == std::string::npos);
  CHECK(text.find("sealed:v1:") == std::string::npos);
  for (const std::string& secret : secrets) {
    CAPTURE(secret);
    CHECK(text.find(secret) == std::string::npos);
  }
}

TEST_CASE("NoRoleReadsAPasswordHashAPasswordOrATokenThroughAnyRouteTheRawFeedOrAnyDump") {
  testing::ServerFixture f;
  const std::string owner = "acme/owner";
  REQUIRE(f.Call(owner, "POST", "/v1/customers", R"({"id":"c1","name":"Acme","email":"a@x.test"})")
              .status == 201);
  REQUIRE(f.Call(owner, "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ada","email":"ada@x.test"})")
              .status == 201);
  const testing::Reply generated =
      f.Call(owner, "POST", "/v1/contacts/k1/password-reset", R"({"generate":true})");
  REQUIRE(generated.status == 200);
  const std::string given = "Correct-Horse-Battery-9";
  REQUIRE(
      f.Call(owner, "POST", "/v1/contacts/k1/password-reset", R"({"password":")" + given + R"("})")
          .status == 204);
  const testing::Reply issued =
      f.Call("ops", "POST", "/v1/admin/tokens", R"({"tenant":"acme","actor":"bo","role":"admin"})");
  REQUIRE(issued.status == 201);
  std::vector<std::string> secrets = {
      json::parse(generated.body).at("temporary_password").as_string().c_str(), given,
      json::parse(issued.body).at("token").as_string().c_str()};
  for (const auto& [who, token] : f.tokens) secrets.push_back(token);

  size_t answered = 0;
  for (const api::Route& route : api::kRoutes) {
    if (route.method != "GET" || route.path == "/v1/events/stream") continue;  // SSE: as /v1/events
    std::string target(route.path);
    const std::string id = target.starts_with("/v1/customers") ? "c1" : "k1";
    for (size_t open; (open = target.find('{')) != std::string::npos;) {
      target.replace(open, target.find('}', open) - open + 1, id);
    }
    for (const auto& [who, token] : f.tokens) {
      for (const std::string& accept :
           {std::string("application/json"), std::string("application/x-flatbuffers")}) {
        const testing::Reply reply = f.Call(who, "GET", target, {}, {{"Accept", accept}});
        answered += reply.status == 200;
        ExpectNoSecret(who + " GET " + target + " (" + accept + ")", reply.body, secrets);
      }
    }
  }
  CHECK(answered > 50);
  f.Close();
  const std::string data = f.dir.Sub("data");
  for (const std::string& args :
       {"events dump --data " + data, "events dump --format raw --data " + data,
        "audit export --data " + data + " --tenant acme --format csv",
        "audit export --data " + data + " --tenant acme --format jsonl",
        "token list --data " + data}) {
    int status = -1;
    const std::string out = Cledger(args, &status);
    CHECK(status == 0);
    ExpectNoSecret(args, out, secrets);
  }
}

// ---- Erasure ------------------------------------------------------------------------------

// Every erased value the scans look for: names, emails and phone numbers, as given and edited.
const std::vector<std::string> kErased = {
    "Xanthippe",   "Vorpalsson", "Vorpalsdottir", "xanthippe.v@erase.test", "7700 900123",
    "7700 900456", "Zebediah",   "Quuxcustomer",  "zeb.quux@erase.test"};
// A contact nobody erases: the scans must find it, or they prove nothing (a compressed or
// unflushed file would hide every value alike).
const std::string kKept = "Keepsake-Control";

std::string Cledger(const std::string& args, int* status) {
  return testing::RunCommand(std::string(CLEDGER_BINARY) + " " + args + " 2>&1", status);
}

std::string ReadAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Each erased value found in `text`, with where.
void ExpectNoErasedValue(const std::string& where, const std::string& text) {
  for (const std::string& value : kErased) {
    CAPTURE(where);
    CAPTURE(value);
    CHECK(text.find(value) == std::string::npos);
  }
}

// Scans every file under `dir`; returns all their bytes for the control check.
std::string ScanDirectory(const fs::path& dir) {
  std::string all;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string bytes = ReadAll(entry.path());
    ExpectNoErasedValue(entry.path().string(), bytes);
    all += bytes;
  }
  return all;
}

json::object Body(const testing::Reply& reply) {
  INFO(reply.body);
  REQUIRE(reply.status == 200);
  return json::parse(reply.body).as_object();
}

// The owner of acme records a contact and a customer with a history: edits, a share, a
// password reset. Returns the head before any erasure.
uint64_t RecordPeople(testing::ServerFixture& f) {
  const std::string owner = "acme/owner";
  REQUIRE(f.Call(owner, "POST", "/v1/customers",
                 R"({"id":"cz","name":"Zebediah Quuxcustomer","email":"zeb.quux@erase.test"})")
              .status == 201);
  REQUIRE(f.Call(owner, "POST", "/v1/customers",
                 R"({"id":"cy","name":"Other Co","email":"other@erase.test"})")
              .status == 201);
  REQUIRE(f.Call(owner, "POST", "/v1/customers/cz/contacts",
                 R"({"id":"kz","first_name":"Xanthippe","last_name":"Vorpalsson",
                     "email":"xanthippe.v@erase.test",
                     "phones":[{"type":"mobile","number":"+44 7700 900123"}]})")
              .status == 201);
  REQUIRE(f.Call(owner, "POST", "/v1/customers/cy/contacts",
                 R"({"id":"kk","first_name":"Keepsake-Control","last_name":"Kept",
                     "email":"kept@erase.test"})")
              .status == 201);
  REQUIRE(f.Call(owner, "PATCH", "/v1/contacts/kz",
                 R"({"last_name":"Vorpalsdottir",
                     "phones":[{"type":"work","number":"+44 7700 900456"}]})")
              .status == 200);
  REQUIRE(f.Call(owner, "POST", "/v1/contacts/kz/convert-to-shared").status == 200);
  REQUIRE(
      f.Call(owner, "POST", "/v1/customers/cy/shared-contacts", R"({"contact_id":"kz"})").status ==
      200);
  REQUIRE(f.Call(owner, "POST", "/v1/contacts/kz/password-reset", R"({"generate":true})").status ==
          200);
  REQUIRE(f.Call(owner, "PATCH", "/v1/customers/cz", R"({"name":"Zebediah Quuxcustomer Ltd"})")
              .status == 200);
  return f.Head();
}

TEST_CASE(
    "AnErasedContactAndCustomerLeaveNoPlaintextInAnyFileDumpExportLogOrReadAndTheCertificateVerifie"
    "s") {
  testing::LogCapture log;
  testing::ServerFixture f;
  const std::string data = f.dir.Sub("data");
  const uint64_t before = RecordPeople(f);
  // Before: the values are there to be erased.
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/kz").body.find("Vorpalsdottir") !=
        std::string::npos);

  // Who may erase, and what an erasure needs.
  CHECK(f.Call("acme/manager", "POST", "/v1/contacts/kz/erase", R"({"reason":"r"})").status == 403);
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/kz/erase", "{}").status == 422);
  CHECK(f.Call("globex/owner", "POST", "/v1/contacts/kz/erase", R"({"reason":"r"})").status == 404);

  const json::object contact = Body(
      f.Call("acme/owner", "POST", "/v1/contacts/kz/erase", R"({"reason":"GDPR request 42"})"));
  CHECK(contact.at("already_erased") == false);
  const json::object& certificate = contact.at("certificate").as_object();
  CHECK(certificate.at("subject") == "contact");
  CHECK(certificate.at("id") == "kz");
  CHECK(certificate.at("reason") == "GDPR request 42");
  CHECK(certificate.at("actor").at("role") == "owner");
  CHECK(certificate.at("unreadable_positions").as_array().size() == 2);  // created, edited
  CHECK(certificate.at("key_id").as_string().size() == 32);
  const json::object customer = Body(
      f.Call("acme/admin", "POST", "/v1/customers/cz/erase", R"({"reason":"GDPR request 43"})"));
  CHECK(customer.at("certificate").at("unreadable_positions").as_array().size() == 2);

  // Twice is a no-op answer carrying the first erasure's certificate.
  const json::object again =
      Body(f.Call("acme/owner", "POST", "/v1/contacts/kz/erase", R"({"reason":"once more"})"));
  CHECK(again.at("already_erased") == true);
  CHECK(again.at("certificate") == contact.at("certificate"));
  // Nothing personal is recorded for it again.
  CHECK(f.Call("acme/owner", "PATCH", "/v1/contacts/kz", R"({"first_name":"Back"})")
            .body.find("contact_erased") != std::string::npos);
  CHECK(f.Call("acme/owner", "PATCH", "/v1/customers/cz", R"({"name":"Back"})").status == 409);
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/kz/password-reset", R"({"generate":true})")
            .status == 409);  // no portal for an erased person
  // A reason is one printable line: nothing in it can drive the terminal of whoever verifies.
  const testing::Reply reversed =
      f.Call("acme/owner", "POST", "/v1/customers/cy/erase", R"({"reason":"ok\u202eDETAERCER"})");
  CHECK_MESSAGE(reversed.status == 422, reversed.body);  // a right-to-left override

  // Every read, now and as of before the erasure; the non-personal facts stay.
  std::string reads;
  for (const std::string& target :
       {std::string("/v1/contacts/kz"), "/v1/contacts/kz?at=" + std::to_string(before),
        std::string("/v1/customers/cz"), "/v1/customers/cz?at=" + std::to_string(before),
        std::string("/v1/contacts/kz/history"), std::string("/v1/customers/cz/history"),
        std::string("/v1/customers/cy/contacts"), std::string("/v1/audit"),
        std::string("/v1/events?from=1&limit=1000"), std::string("/v1/contacts/kz/evidence")}) {
    const testing::Reply reply = f.Call("acme/owner", "GET", target);
    CAPTURE(target);
    CHECK(reply.status == 200);
    ExpectNoErasedValue(target, reply.body);
    reads += reply.body;
  }
  const json::object now = Body(f.Call("acme/owner", "GET", "/v1/contacts/kz"));
  CHECK(now.at("erased") == true);
  CHECK(now.at("password").at("set") == true);
  CHECK(now.at("customers").as_array().size() == 2);  // shared with cy: the links stay
  const json::object then =
      Body(f.Call("acme/owner", "GET", "/v1/contacts/kz?at=" + std::to_string(before)));
  CHECK(then.at("erased") == true);
  CHECK(reads.find(kKept) != std::string::npos);
  const testing::Reply raw = f.Call("ops", "GET", "/v1/events?from=1&limit=1000", {},
                                    {{"Accept", "application/x-flatbuffers"}});
  REQUIRE(raw.status == 200);
  ExpectNoErasedValue("the raw feed", raw.body);

  int status = -1;
  const std::string backup = f.dir.Sub("backup-after");
  const std::string remote =
      " --server http://127.0.0.1:" + std::to_string(f.port) + " --token " + f.tokens.at("ops");
  Cledger("backup create " + backup + remote, &status);
  CHECK(status == 0);
  std::ofstream(f.dir.Sub("erased.json")) << json::serialize(contact);
  f.Close();

  // Offline, on the closed directory: dumps, exports, verification.
  for (const std::string& args :
       {"events dump --data " + data, "events dump --format raw --data " + data,
        "audit export --data " + data + " --tenant acme --format csv",
        "audit export --data " + data + " --tenant acme --format jsonl"}) {
    const std::string out = Cledger(args, &status);
    CAPTURE(args);
    CHECK(status == 0);
    ExpectNoErasedValue(args, out);
  }
  const std::string verified = Cledger("verify --data " + data, &status);
  INFO(verified);
  CHECK(status == 0);

  const std::string files = ScanDirectory(data);
  CHECK(files.find(kKept) != std::string::npos);  // the scan sees what was not erased
  CHECK(ScanDirectory(backup).find(kKept) != std::string::npos);
  ScanDirectory(data + ".keys");
  ExpectNoErasedValue("the server's log", log.Text());

  // The certificate, offline, against the ledger's public key.
  const std::string key =
      Cledger("proof public-key --signing-key-file " + f.dir.Sub("signing-key"), &status);
  REQUIRE(status == 0);
  std::ofstream(f.dir.Sub("ledger.pub")) << key;
  const std::string checked = Cledger(
      "erasure verify " + f.dir.Sub("erased.json") + " --public-key " + f.dir.Sub("ledger.pub"),
      &status);
  INFO(checked);
  CHECK(status == 0);
  CHECK(checked.find("certificate verified") != std::string::npos);
  json::object tampered = contact;
  tampered["certificate"].as_object()["reason"] = "routine cleanup";
  std::ofstream(f.dir.Sub("tampered.json")) << json::serialize(tampered);
  CHECK(Cledger("erasure verify " + f.dir.Sub("tampered.json") + " --public-key " +
                    f.dir.Sub("ledger.pub"),
                &status)
            .find("certificate FAILED") != std::string::npos);
  CHECK(status == 1);
  // Only what the signature covers: an added field, or a readable time that is not the signed
  // one, is refused.
  json::object extra = contact;
  extra["certificate"].as_object()["note"] = "approved by the DPO";
  std::ofstream(f.dir.Sub("extra.json")) << json::serialize(extra);
  Cledger("erasure verify " + f.dir.Sub("extra.json") + " --public-key " + f.dir.Sub("ledger.pub"),
          &status);
  CHECK(status == 2);
  json::object retimed = contact;
  retimed["certificate"].as_object()["erased_at"] = "2020-01-01T00:00:00.000000Z";
  std::ofstream(f.dir.Sub("retimed.json")) << json::serialize(retimed);
  Cledger(
      "erasure verify " + f.dir.Sub("retimed.json") + " --public-key " + f.dir.Sub("ledger.pub"),
      &status);
  CHECK(status == 2);
}

// A rebuild replaces each projection's family with a new generation. An erasure purges the
// families in use; the replaced ones must be gone from the disk by then, not kept until the
// server stops, or their files still hold the person in the clear.
TEST_CASE("AnErasureAfterRebuildsLeavesNoPlaintextInTheFilesOfTheGenerationsTheyReplaced") {
  testing::ServerFixture f;
  RecordPeople(f);
  const std::vector<std::string> all = {"tenants", "customers", "contacts",
                                        "links",   "emails",    "audit"};
  REQUIRE(f.engine->Rebuild(all).ok());
  // Another person's erasure flushes every family in use: the new generation's files now
  // hold Xanthippe's fields.
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/cy/contacts",
                 R"({"id":"kw","first_name":"Wilhelmina","email":"w@erase.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/kw/erase", R"({"reason":"r"})").status == 200);
  REQUIRE(f.engine->Rebuild(all).ok());

  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/kz/erase", R"({"reason":"r"})").status == 200);
  REQUIRE(f.Call("acme/admin", "POST", "/v1/customers/cz/erase", R"({"reason":"r"})").status ==
          200);
  // While the server runs, as an attacker with read access to the disk would look.
  CHECK(ScanDirectory(f.dir.Sub("data")).find(kKept) != std::string::npos);
}

// An erasure answers as a command does: where its event is, and the ETag the record has after
// it, so a client can go on with the record (here: delete it) without reading it again.
TEST_CASE("AnErasureAnswersWithItsPositionAndTheETagItLeftTheRecordWith") {
  testing::ServerFixture f;
  RecordPeople(f);
  for (const std::string erased : {"/v1/contacts/kz", "/v1/customers/cz"}) {
    CAPTURE(erased);
    const testing::Reply first =
        f.Call("acme/owner", "POST", erased + "/erase", R"({"reason":"r"})");
    REQUIRE(first.status == 200);
    const json::value certificate = json::parse(first.body).at("certificate");
    CHECK(first.Header("x-ledger-position") ==
          std::to_string(certificate.at("position").as_int64()));
    CHECK(first.Header("etag") == f.Call("acme/owner", "GET", erased).Header("etag"));
    // Asked again: the first erasure's position and version.
    const testing::Reply again =
        f.Call("acme/owner", "POST", erased + "/erase", R"({"reason":"r"})");
    CHECK(again.Header("x-ledger-position") == first.Header("x-ledger-position"));
    CHECK(again.Header("etag") == first.Header("etag"));
  }
  const testing::Reply erased =
      f.Call("acme/owner", "POST", "/v1/contacts/kk/erase", R"({"reason":"r"})");
  CHECK(f.Call("acme/owner", "DELETE", "/v1/contacts/kk", {}, {{"If-Match", erased.Header("etag")}})
            .status == 204);
}

// Without the ledger's key store no personal field of a sealed event can be read: a rebuild or
// a contact as it was is refused rather than made with them empty (the projections a rebuild
// would replace keep them), and verify checks the chain but says it could not check the
// projections.
TEST_CASE("ARebuildWithoutTheKeyStoreIsRefusedAndEveryPersonalFieldStaysInItsProjections") {
  testing::ServerFixture f;
  const uint64_t head = RecordPeople(f);
  f.Close();
  const std::string data = f.dir.Sub("data");
  const std::string elsewhere = " --key-store " + f.dir.Sub("elsewhere.keys");
  int status = -1;
  const std::string refused =
      Cledger("projections rebuild --all --data " + data + elsewhere, &status);
  CHECK(status == 1);
  CHECK(refused.find("personal_data_unreadable") != std::string::npos);
  CHECK(refused.find("--key-store") != std::string::npos);
  const std::string past = Cledger("history --data " + data + " --tenant acme --contact kk --at " +
                                       std::to_string(head) + elsewhere,
                                   &status);
  CHECK(status == 1);  // not the contact with its personal fields empty
  CHECK_MESSAGE(past.find("personal_data_unreadable") != std::string::npos, past);
  const std::string unchecked = Cledger("verify --data " + data + elsewhere, &status);
  CHECK(status == 1);
  CHECK(unchecked.find("chain ok") != std::string::npos);
  CHECK(unchecked.find("projections NOT checked") != std::string::npos);
  // After an upgrade whose audit fold differs (an older fold's version recorded), the trail
  // the older fold wrote is still read without the keys; only a process with them refolds it.
  {
    testing::ClosedLedgerDb ledger(data, /*writable=*/true);
    REQUIRE(ledger.db->Put({}, ledger.Family("default"), "projection-fold/audit", "3").ok());
  }
  const std::string exported =
      Cledger("audit export --data " + data + " --tenant acme --format jsonl" + elsewhere, &status);
  CHECK(status == 0);
  CHECK_MESSAGE(exported.find(kKept) != std::string::npos, exported);

  const std::string verified = Cledger("verify --data " + data, &status);  // the keys beside it
  CHECK(status == 0);
  CHECK(verified.find("projections ok") != std::string::npos);
  LedgerOptions options;
  options.path = data;
  auto opened = Engine::Open(options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  const Principal owner{"acme", {"owner-1", "owner"}};
  auto kept = (*opened)->GetContact(owner, "kk", {});
  REQUIRE(kept.ok());
  CHECK(kept->fields.first_name == kKept);
  auto trail = (*opened)->ContactHistory(owner, "kk", {});
  REQUIRE(trail.ok());
  REQUIRE(!trail->empty());
  const auto& created = trail->front().changes;
  CHECK(std::any_of(created.begin(), created.end(), [](const FieldChange& c) {
    return c.field == "first_name" && c.after == kKept;
  }));
}

// A backup from before an erasure holds the person's plaintext in its projections; restored
// and opened with the ledger's key store, the erasure is applied again and recorded.
TEST_CASE("ABackupRestoredFromBeforeAnErasureOpensWithThePersonErasedAgain") {
  testing::ServerFixture f;
  RecordPeople(f);
  int status = -1;
  const std::string remote =
      " --server http://127.0.0.1:" + std::to_string(f.port) + " --token " + f.tokens.at("ops");
  const std::string backup = f.dir.Sub("backup-before");
  Cledger("backup create " + backup + remote, &status);
  REQUIRE(status == 0);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/contacts/kz/erase", R"({"reason":"GDPR 42"})").status ==
          200);
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/customers/cz/erase", R"({"reason":"GDPR 43"})").status ==
      200);
  f.Close();

  const std::string restored = f.dir.Sub("restored");
  Cledger("backup restore " + backup + " --data " + restored, &status);
  REQUIRE(status == 0);
  LedgerOptions options;
  options.path = restored;
  options.master_key_file = f.dir.Sub("data.master-key");  // a restore comes with the keys
  options.key_store_dir = f.dir.Sub("data.keys");
  options.signing_key_file = f.dir.Sub("signing-key");
  {
    auto opened = Engine::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    const Principal owner{"acme", {"owner-1", "owner"}};
    auto view = (*opened)->GetContact(owner, "kz", {});
    REQUIRE(view.ok());
    CHECK(view->erased);
    CHECK(view->fields.first_name.empty());
    auto history = (*opened)->ContactHistory(owner, "kz", {});
    REQUIRE(history.ok());
    CHECK(history->back().operation == "ContactErased");
    CHECK(history->back().actor.id == "key-store");
    auto customer = (*opened)->GetCustomer(owner, "cz", {});
    REQUIRE(customer.ok());
    CHECK(customer->erased);
    auto kept = (*opened)->GetContact(owner, "kk", {});
    REQUIRE(kept.ok());
    CHECK(kept->fields.first_name == kKept);
  }
  ScanDirectory(restored);
  Cledger("verify --data " + restored + " --key-store " + f.dir.Sub("data.keys") +
              " --master-key-file " + f.dir.Sub("data.master-key"),
          &status);
  CHECK(status == 0);
}

}  // namespace
}  // namespace cledger
