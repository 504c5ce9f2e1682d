// What an integrator, an auditor and ops meet through the API day to day: misspelt query
// parameters are refused by name, pages count what they return, records are found by text,
// the audit trail is filtered and exported with each event's hash and correlation id, tenants
// and backups are listed, a backup is checked without restoring it, and the console is served.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cledger/events.h"
#include "engine/api/routes.h"
#include "engine/domain/roles.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::ServerFixture;

json::value Json(const Reply& r) { return json::parse(r.body); }
std::string Code(const Reply& r) { return std::string(Json(r).at("code").as_string()); }
std::string Field(const Reply& r) { return std::string(Json(r).at("field").as_string()); }

void Populate(ServerFixture& f) {
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ann","last_name":"Lee","email":"ann@acme.test"})",
                 {{"X-Request-ID", "create-ann"}})
              .status == 201);
  REQUIRE(f.Call("acme/admin", "PATCH", "/v1/contacts/k1", R"({"email":"ann.lee@acme.test"})",
                 {{"X-Request-ID", "fix-ann-email"}})
              .status == 200);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"department":"Billing"})").status ==
          200);
}

// A token of `f` whose role may do `route`'s action.
std::string Allowed(const ServerFixture& f, const api::Route& route) {
  for (const auto& [who, token] : f.tokens) {
    const std::string role = who == "ops" ? who : who.substr(who.find('/') + 1);
    if (domain::Can(role, *route.action)) return who;
  }
  return "";
}

TEST_CASE("EveryRouteRefusesAQueryParameterItDoesNotTakeNamingIt") {
  ServerFixture f;
  const uint64_t head = f.Head();
  for (const api::Route& route : api::kRoutes) {
    CAPTURE(route.method);
    CAPTURE(route.path);
    std::string target(route.path);
    for (size_t open; (open = target.find('{')) != std::string::npos;) {
      target.replace(open, target.find('}', open) - open + 1, "nope");
    }
    const std::string who = route.action ? Allowed(f, route) : "";
    const Reply reply = f.Call(who, std::string(route.method), target + "?stauts=all", "{}");
    CHECK(reply.status == 400);
    CHECK(Code(reply) == "invalid_query");
    CHECK(Field(reply) == "stauts");
  }
  CHECK(f.Head() == head);
}

TEST_CASE("AMisspeltFilterOrARepeatedParameterIsRefusedNotSilentlyIgnored") {
  ServerFixture f;
  Populate(f);
  const Reply verify = f.Call("acme/auditor", "GET", "/v1/ledger/verify?against=abc");
  CHECK(verify.status == 400);
  CHECK(Field(verify) == "against");
  CHECK(Json(verify).at("detail").as_string().find("takes no query parameters") !=
        std::string::npos);
  const Reply listed = f.Call("acme/owner", "GET", "/v1/customers/c1/contacts?stauts=all");
  CHECK(listed.status == 400);
  CHECK(Json(listed).at("detail").as_string().find("status limit cursor") != std::string::npos);
  const Reply twice = f.Call("acme/owner", "GET", "/v1/contacts?limit=1&limit=2");
  CHECK(twice.status == 400);
  CHECK(Field(twice) == "limit");
}

TEST_CASE("AnEventsPageCountsTheEventsItReturnsNotThePositionsItScanned") {
  ServerFixture f;
  Populate(f);  // acme's events come after both tenants' and the tokens' events
  REQUIRE(f.Call("globex/owner", "POST", "/v1/customers",
                 R"({"id":"g1","name":"Globex","email":"ap@globex.test"})")
              .status == 201);
  const Reply first = f.Call("acme/auditor", "GET", "/v1/events?limit=2");
  REQUIRE(first.status == 200);
  const json::value first_page = Json(first);
  const json::array& events = first_page.at("events").as_array();
  REQUIRE(events.size() == 2);
  for (const json::value& e : events) CHECK(e.at("tenant") == "acme");
  // The next page starts after the last event returned, not after what was scanned.
  const uint64_t next = first_page.at("next").to_number<uint64_t>();
  CHECK(next == events.back().at("position").to_number<uint64_t>() + 1);
  const Reply rest =
      f.Call("acme/auditor", "GET", "/v1/events?limit=1000&from=" + std::to_string(next));
  const json::value rest_page = Json(rest);
  for (const json::value& e : rest_page.at("events").as_array()) CHECK(e.at("tenant") == "acme");
  CHECK(Field(f.Call("acme/auditor", "GET", "/v1/events?from=0")) == "from");
  CHECK(Field(f.Call("acme/auditor", "GET", "/v1/events?limit=5000")) == "limit");
}

TEST_CASE("TheHistoryOfAnIdTheTenantNeverHadIsNotFound") {
  ServerFixture f;
  Populate(f);
  CHECK(f.Call("acme/auditor", "GET", "/v1/contacts/nosuch/history").status == 404);
  CHECK(f.Call("acme/auditor", "GET", "/v1/customers/nosuch/history").status == 404);
  CHECK(f.Call("globex/owner", "GET", "/v1/contacts/k1/history").status == 404);
  CHECK(f.Call("acme/auditor", "GET", "/v1/contacts/k1/history").status == 200);
}

// The trail and the event feed name records by their streams ("contact-k1"): a stream's name
// given where an id belongs is told the id it holds.
TEST_CASE("AStreamsNameGivenForAnIdIsToldTheIdItHolds") {
  ServerFixture f;
  Populate(f);
  for (const std::string target : {"/v1/contacts/contact-k1", "/v1/contacts/contact-k1/history",
                                   "/v1/customers/customer-c1"}) {
    CAPTURE(target);
    const Reply reply = f.Call("acme/owner", "GET", target);
    CHECK(reply.status == 404);
    CHECK(std::string(Json(reply).at("detail").as_string())
              .ends_with(target.find("customer") != std::string::npos
                             ? "(if that is its stream's name, give its id: c1)"
                             : "(if that is its stream's name, give its id: k1)"));
  }
  const Reply edit = f.Call("acme/owner", "PATCH", "/v1/contacts/contact-k1", R"({"title":"Dr"})");
  CHECK(edit.status == 404);
  CHECK(std::string(Json(edit).at("detail").as_string()).find("give its id: k1") !=
        std::string::npos);
  CHECK(std::string(
            Json(f.Call("acme/owner", "GET", "/v1/contacts/nosuch")).at("detail").as_string()) ==
        "no contact 'nosuch'");
}

TEST_CASE("SearchFindsRecordsByNameEmailOrIdInTheCallersTenantOnly") {
  ServerFixture f;
  Populate(f);
  const Reply contacts = f.Call("acme/auditor", "GET", "/v1/contacts?q=ANN.LEE");
  REQUIRE(contacts.status == 200);
  REQUIRE(Json(contacts).at("items").as_array().size() == 1);
  CHECK(Json(contacts).at("items").at(0).at("id") == "k1");
  CHECK(Json(f.Call("acme/auditor", "GET", "/v1/contacts?q=lee")).at("items").as_array().size() ==
        1);
  CHECK(
      Json(f.Call("acme/auditor", "GET", "/v1/contacts?q=nobody")).at("items").as_array().empty());
  CHECK(Json(f.Call("acme/auditor", "GET", "/v1/contacts?status=inactive"))
            .at("items")
            .as_array()
            .empty());
  const Reply customers = f.Call("acme/auditor", "GET", "/v1/customers?q=acme%20corp");
  CHECK(Json(customers).at("items").at(0).at("id") == "c1");
  CHECK(Json(f.Call("globex/owner", "GET", "/v1/contacts?q=ann")).at("items").as_array().empty());
  CHECK(Json(f.Call("globex/owner", "GET", "/v1/customers")).at("items").as_array().empty());
  CHECK(f.Call("acme/member", "GET", "/v1/contacts?q=ann").status == 403);
}

TEST_CASE("TheAuditTrailFiltersByRecordAndFieldAndEachEntryCarriesItsEventHashAndCorrelationId") {
  ServerFixture f;
  Populate(f);
  const Reply email = f.Call("acme/auditor", "GET", "/v1/audit?record=k1&field=email");
  REQUIRE(email.status == 200);
  const json::value trail = Json(email);
  const json::array& items = trail.at("items").as_array();
  REQUIRE(items.size() == 2);  // the creation and the one edit of the email
  const json::value& edit = items.at(1);
  CHECK(edit.at("actor").at("id") == "admin-1");
  CHECK(edit.at("correlation_id") == "fix-ann-email");
  CHECK(edit.at("changes").as_array().size() == 1);
  CHECK(edit.at("changes").at(0).at("before") == "ann@acme.test");
  CHECK(edit.at("changes").at(0).at("after") == "ann.lee@acme.test");
  // The hash is the event's own: the log says the same at that position.
  const uint64_t position = edit.at("position").to_number<uint64_t>();
  const Reply event =
      f.Call("acme/auditor", "GET", "/v1/events?limit=1&from=" + std::to_string(position));
  CHECK(Json(event).at("events").at(0).at("hash") == edit.at("event_hash"));

  const Reply csv = f.Call("acme/auditor", "GET", "/v1/audit?record=k1&field=email", "",
                           {{"Accept", "text/csv"}});
  REQUIRE(csv.status == 200);
  CHECK(csv.Header("content-type").starts_with("text/csv"));
  CHECK(csv.body.starts_with(
      "position,recorded_at,tenant,actor,role,record,operation,field,before,after,event_hash,"
      "correlation_id\r\n"));
  CHECK(csv.body.find(",acme,admin-1,admin,contact-k1,ContactEdited,email,ann@acme.test,"
                      "ann.lee@acme.test," +
                      std::string(edit.at("event_hash").as_string()) + ",fix-ann-email\r\n") !=
        std::string::npos);
  const Reply lines = f.Call("acme/auditor", "GET", "/v1/audit?actor=admin-1", "",
                             {{"Accept", "application/x-ndjson"}});
  CHECK(json::parse(lines.body.substr(0, lines.body.find('\n'))).at("correlation_id") ==
        "fix-ann-email");
  CHECK(f.Call("acme/auditor", "GET", "/v1/audit?record=nosuch").status == 404);
  // The record column shows the stream ("contact-k1"); given as the filter, the answer says
  // which id to give instead.
  const Reply stream = f.Call("acme/auditor", "GET", "/v1/audit?record=contact-k1");
  CHECK(stream.status == 404);
  CHECK(std::string(Json(stream).at("detail").as_string()).find("give the record's id: k1") !=
        std::string::npos);
  CHECK(Json(f.Call("acme/auditor", "GET", "/v1/audit?field=website"))
            .at("items")
            .as_array()
            .empty());
  // A misspelt field is refused, not answered with an empty trail that looks like no changes,
  // and named as it was most likely meant.
  const Reply typo = f.Call("acme/auditor", "GET", "/v1/audit?field=emial");
  CHECK(typo.status == 400);
  CHECK(Code(typo) == "invalid_query");
  CHECK(std::string(Json(typo).at("detail").as_string())
            .ends_with("customers[<id>].roles, password; did you mean \"email\"?"));  // whole
  CHECK(std::string(
            Json(f.Call("acme/auditor", "GET", "/v1/audit?field=adress")).at("detail").as_string())
            .ends_with("did you mean \"address\"?"));
  CHECK(std::string(
            Json(f.Call("acme/auditor", "GET", "/v1/audit?field=zzzzzzz")).at("detail").as_string())
            .ends_with("customers[<id>].roles, password"));  // nothing near: no guess
  CHECK(f.Call("acme/auditor", "GET", "/v1/audit?field=customers%5Bc1%5D.roles").status == 200);
}

TEST_CASE("OpsListTenantsAndBackupsAndCheckABackupWithoutRestoringIt") {
  ServerFixture f;
  Populate(f);
  const Reply tenants = f.Call("ops", "GET", "/v1/admin/tenants");
  REQUIRE(tenants.status == 200);
  CHECK(json::serialize(Json(tenants).at("items")) ==
        R"([{"name":"acme","plan":"standard"},{"name":"globex","plan":"standard"}])");
  CHECK(f.Call("acme/owner", "GET", "/v1/admin/tenants").status == 403);

  const std::string dir = f.dir.Sub("backups");
  const std::string body = json::serialize(json::object{{"dir", dir}});
  REQUIRE(f.Call("ops", "POST", "/v1/admin/backups", body).status == 201);
  REQUIRE(f.Call("ops", "POST", "/v1/admin/backups", body).status == 201);
  // A file where the directory should be: the caller's mistake (422), said plainly.
  std::ofstream(f.dir.Sub("afile")) << "x";
  const Reply onto_file = f.Call("ops", "POST", "/v1/admin/backups",
                                 json::serialize(json::object{{"dir", f.dir.Sub("afile")}}));
  CHECK(onto_file.status == 422);
  CHECK(Code(onto_file) == "not_a_directory");
  const Reply listed = f.Call("ops", "GET", "/v1/admin/backups?dir=" + dir);
  REQUIRE(listed.status == 200);
  const json::value listing = Json(listed);
  const json::array& backups = listing.at("items").as_array();
  REQUIRE(backups.size() == 2);
  CHECK(backups.at(0).at("position").to_number<uint64_t>() <= f.Head());
  const Reply checked = f.Call("ops", "POST", "/v1/admin/backups/2/verify", body);
  CHECK(json::serialize(Json(checked)) == R"({"id":2,"ok":true})");
  CHECK(f.Call("ops", "POST", "/v1/admin/backups/9/verify", body).status == 404);

  // A damaged file of the backup (its write-ahead log, tables, manifest) is found, and named.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/private/2")) {
    if (!entry.is_regular_file() || entry.file_size() < 70) continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(64);
    file.write("damage", 6);
  }
  const Reply damaged = f.Call("ops", "POST", "/v1/admin/backups/2/verify", body);
  CHECK(Json(damaged).at("ok") == false);
  CHECK(Json(damaged).at("problem").as_string().find(dir + "/private/2/") != std::string::npos);
}

TEST_CASE("ABackupThatFailsSaysWhyToTheOpsCaller") {
  ServerFixture f;
  const Reply failed = f.Call("ops", "POST", "/v1/admin/backups", R"({"dir":"/proc/self/nope"})");
  CHECK(failed.status == 503);
  CHECK(Code(failed) == "backup_failed");
  CHECK(Json(failed).at("detail").as_string().find("/proc/self/nope") != std::string::npos);
  // A relative directory would land in the server's working directory: refused, nothing made.
  const Reply relative = f.Call("ops", "POST", "/v1/admin/backups", R"({"dir":"bk-rel"})");
  CHECK(relative.status == 422);
  CHECK(Field(relative) == "dir");
  CHECK_FALSE(std::filesystem::exists("bk-rel"));
  CHECK(Field(f.Call("ops", "GET", "/v1/admin/backups?dir=bk-rel")) == "dir");
  const Reply missing = f.Call("ops", "GET", "/v1/admin/backups");  // no dir at all
  CHECK(Code(missing) == "required");
  CHECK(Field(missing) == "dir");
}

// A FIFO placed in a backup directory would block the open() that reads it, holding the
// request (and a thread of the server) until someone wrote to it; a NUL byte in `dir` would
// cut the path short at the system's calls and use another directory than the one named.
TEST_CASE("ABackupDirectoryHoldingAFifoOrANameWithANulIsRefusedWithoutWaiting") {
  ServerFixture f;
  Populate(f);
  const std::string dir = f.dir.Sub("backups");
  const std::string body = json::serialize(json::object{{"dir", dir}});
  REQUIRE(f.Call("ops", "POST", "/v1/admin/backups", body).status == 201);
  const std::string fifo = dir + "/meta/7";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  for (const Reply& refused : {f.Call("ops", "GET", "/v1/admin/backups?dir=" + dir),
                               f.Call("ops", "POST", "/v1/admin/backups/1/verify", body),
                               f.Call("ops", "POST", "/v1/admin/backups", body)}) {
    CHECK(refused.status == 422);
    CHECK(Code(refused) == "not_a_backup");
    CHECK(Field(refused) == "dir");
    CHECK(Json(refused).at("detail").as_string().find(fifo) != std::string::npos);
  }
  std::filesystem::remove(fifo);
  CHECK(f.Call("ops", "GET", "/v1/admin/backups?dir=" + dir).status == 200);
  // A link (the backup engine makes none) would lead the check and RocksDB anywhere: to a
  // loop, to a FIFO, to a file whose size and checksum the answer would then tell.
  for (const std::string& target : {dir + "/private", std::string("/etc/hostname")}) {
    std::filesystem::create_symlink(target, dir + "/private/linked");
    const Reply linked = f.Call("ops", "POST", "/v1/admin/backups/1/verify", body);
    CHECK(linked.status == 422);
    CHECK(Json(linked).at("detail").as_string().find(dir + "/private/linked is") !=
          std::string::npos);
    std::filesystem::remove(dir + "/private/linked");
  }

  // "/tmp\u0000x" would read as "/tmp".
  const std::string cut = json::serialize(json::object{{"dir", dir + std::string(1, '\0') + "x"}});
  const Reply nul = f.Call("ops", "POST", "/v1/admin/backups", cut);
  CHECK(nul.status == 422);
  CHECK(Field(nul) == "dir");
  CHECK(f.Call("ops", "GET", "/v1/admin/backups?dir=" + dir + "%00x").status == 422);
  CHECK(f.Call("ops", "POST", "/v1/admin/backups/1/verify", cut).status == 422);
  // Nor a control character, nor a name longer than the system takes: nothing is made.
  const std::string escape = f.dir.Sub("c\x1b[31m");
  CHECK(f.Call("ops", "POST", "/v1/admin/backups", json::serialize(json::object{{"dir", escape}}))
            .status == 422);
  CHECK_FALSE(std::filesystem::exists(escape));
  const Reply long_name =
      f.Call("ops", "POST", "/v1/admin/backups",
             json::serialize(json::object{{"dir", "/" + std::string(5000, 'a')}}));
  CHECK(long_name.status == 422);
  CHECK(long_name.body.size() < 1000);
}

// An empty patch would record an edit that changes nothing, in the log and the audit trail
// for good: it is refused, and names what may be sent.
TEST_CASE("APatchThatNamesNoFieldIsRefusedAndRecordsNothing") {
  ServerFixture f;
  Populate(f);
  const std::string before = f.Call("acme/owner", "GET", "/v1/contacts/k1").Header("etag");
  for (const char* target : {"/v1/contacts/k1", "/v1/customers/c1"}) {
    CAPTURE(target);
    const Reply empty = f.Call("acme/owner", "PATCH", target, "{}");
    CHECK(empty.status == 422);
    CHECK(Code(empty) == "empty_patch");
  }
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1").Header("etag") == before);
}

// A stale If-Match is told what to do: read again, and which ETag the record has now.
TEST_CASE("AStaleIfMatchIsToldToReadAgainAndTheETagTheRecordHasNow") {
  ServerFixture f;
  Populate(f);
  const std::string now = f.Call("acme/owner", "GET", "/v1/contacts/k1").Header("etag");
  const Reply stale = f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Dr"})",
                             {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(Code(stale) == "version_mismatch");
  const std::string detail(Json(stale).at("detail").as_string());
  CHECK(detail.find("read it again") != std::string::npos);
  CHECK(detail.find("If-Match: " + now) != std::string::npos);
}

// The list the server gives of what it takes is whole, not cut like an echoed input.
TEST_CASE("AnUnknownEventTypeIsAnsweredWithEveryTypeTheStreamTakes") {
  ServerFixture f;
  const Reply r = f.Call("acme/owner", "GET", "/v1/events/stream?types=Bogus");
  CHECK(r.status == 422);
  const std::string detail(Json(r).at("detail").as_string());
  for (std::string_view name : kEventTypeNames) CHECK(detail.find(name) != std::string::npos);
}

// Streams are named by kind and id: a bare id would follow nothing, silently.
TEST_CASE("AStreamFilterGivenARecordsIdIsRefusedNamingTheStreamToGive") {
  ServerFixture f;
  const Reply bare = f.Call("acme/owner", "GET", "/v1/events/stream?from=1&stream=k1");
  CHECK(bare.status == 400);
  CHECK(Field(bare) == "stream");
  CHECK(std::string(Json(bare).at("detail").as_string()).find("stream=contact-k1") !=
        std::string::npos);
}

TEST_CASE("AWrongMethodIs405NamingTheMethodsThePathTakes") {
  ServerFixture f;
  const Reply wrong = f.Call("acme/owner", "PUT", "/v1/contacts/k1", "{}");
  CHECK(wrong.status == 405);
  CHECK(wrong.Header("allow") == "GET, PATCH, DELETE");
}

TEST_CASE("TheConsoleIsServedWithoutATokenAndKeepsItsPageToItself") {
  ServerFixture f;
  const Reply page = f.Call("", "GET", "/console");
  REQUIRE(page.status == 200);
  CHECK(page.Header("content-type") == "text/html; charset=utf-8");
  CHECK(page.Header("content-security-policy").find("default-src 'none'") != std::string::npos);
  CHECK(page.Header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(page.Header("x-content-type-options") == "nosniff");
  CHECK(page.body.find("<html") != std::string::npos);
  CHECK(f.Call("", "GET", "/console/console.js").Header("content-type") ==
        "text/javascript; charset=utf-8");
  CHECK(f.Call("", "GET", "/console/nosuch.js").status == 404);
  CHECK(f.Call("", "GET", "/console/..%2Fsecret").status == 404);
}

}  // namespace
}  // namespace cledger
