// Requests an attacker would send, over real HTTP on loopback: each once crashed the server,
// cost it unbounded memory or CPU, skipped a check, or produced output a client cannot read.
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "engine/api/server.h"
#include "engine/engine_internal.h"
#include "tests/support/log_capture.h"
#include "tests/support/sanitizer.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::ServerFixture;
using Headers = std::vector<std::pair<std::string, std::string>>;

json::value Json(const Reply& r) { return json::parse(r.body); }
std::string Code(const Reply& r) {
  return r.body.empty() ? "" : std::string(Json(r).at("code").as_string());
}

// A refusal as the client reads it: its status, code and the field it names.
void CheckRefused(const Reply& r, int status, const std::string& code, const std::string& field) {
  CHECK(r.status == status);
  CHECK(Code(r) == code);
  CHECK(Json(r).at("field") == json::string_view(field));
}

void CreateCustomerAndContact(ServerFixture& f) {
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ann","email":"ann@x.test"})")
              .status == 201);
}

// Password hashes and verifications the server has run, as /metrics counts them.
uint64_t PasswordHashes(ServerFixture& f) {
  const Reply metrics = f.Call("ops", "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  const std::string name = "\ncledger_password_hashes_total ";
  const size_t at = metrics.body.find(name);
  REQUIRE(at != std::string::npos);
  return std::stoull(metrics.body.substr(at + name.size()));
}

// ASan pads every allocation and keeps freed memory in quarantine, and TSan keeps shadow
// memory for all of it, so resident-memory bounds say nothing there: they are checked in the
// normal build (CI runs all three).
constexpr bool kMemoryBoundsHold = !testing::kUnderSanitizer;

// The most memory the process has held since it started (VmHWM), in MiB.
size_t PeakRssMib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmHWM:")) return std::stoul(line.substr(6)) / 1024;
  }
  return 0;
}

// The memory the process holds now (resident pages of /proc/self/statm), in MiB.
size_t RssMib() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / (1024 * 1024);
}

Reply Get(ServerFixture& f, const std::string& who, const std::string& target) {
  return testing::RawHttp(f.port, "GET " + target +
                                      " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                      f.tokens.at(who) + "\r\nConnection: close\r\n\r\n");
}

TEST_CASE("AStreamTargetWithABadEscapeAnswers400AndTheServerStaysUp") {
  ServerFixture f;
  for (const char* target :
       {"/v1/events/stream?x=%zz", "/v1/events/stream%zz", "/v1/events/stream?q={x}"}) {
    CAPTURE(target);
    Reply r = Get(f, "acme/service", target);
    CHECK(r.status == 400);
    CHECK(Code(r) == "invalid_target");
    REQUIRE(f.Call("", "GET", "/healthz").status == 200);
  }
  CHECK(Get(f, "acme/service", "/v1/events/streamXYZ").status == 404);
}

TEST_CASE("MemberPasswordResetsAreRefusedBeforeAnyPasswordIsHashed") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const size_t peak_before = PeakRssMib();
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < 16; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return f.Call("acme/member", "POST", "/v1/contacts/nope/password-reset",
                    R"({"generate":true})");
    }));
  }
  for (auto& r : replies) CHECK(r.get().status == 403);
  Reply missing =
      f.Call("acme/owner", "POST", "/v1/contacts/nope/password-reset", R"({"generate":true})");
  CHECK(missing.status == 404);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  // One argon2id hash takes ~90 ms and 64 MiB: 17 of them would show in both figures.
  MESSAGE("17 refused resets: ", seconds.count(), " s, peak RSS +", PeakRssMib() - peak_before,
          " MiB");
  CHECK(PasswordHashes(f) == 0);
  if (kMemoryBoundsHold) CHECK(PeakRssMib() - peak_before < 64);
}

TEST_CASE("ConcurrentPasswordHashesAreBoundedAndTheExcessWaitsOrGets503") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const size_t peak_before = PeakRssMib();
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < 24; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset", R"({"generate":true})");
    }));
  }
  int ok = 0;
  for (auto& future : replies) {
    Reply r = future.get();
    CHECK((r.status == 200 || r.status == 503));
    if (r.status == 503) {
      CHECK(Code(r) == "busy");
      CHECK(r.Header("retry-after") == "1");
    }
    ok += r.status == 200;
  }
  CHECK(ok >= 2);
  MESSAGE(ok, " of 24 resets hashed, peak RSS +", PeakRssMib() - peak_before, " MiB");
  // At most kHashesMax (the cores, 2 here) argon2id hashes of 64 MiB at once.
  if (kMemoryBoundsHold) CHECK(PeakRssMib() - peak_before < 4 * 64);
}

const Headers kKey = {{"Idempotency-Key", "K"}};
constexpr char kCreateC1[] = R"({"id":"c1","name":"Acme","email":"a@a.test"})";

TEST_CASE("AnIdempotencyKeyReplayIsRefusedToARoleThatMayNotRunTheCommand") {
  ServerFixture f;
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers", kCreateC1, kKey).status == 201);
  const uint64_t head = f.Head();
  Reply member = f.Call("acme/member", "DELETE", "/v1/customers/c1", "", kKey);
  CHECK(member.status == 403);
  CHECK(f.Head() == head);
  CHECK(f.Call("acme/owner", "GET", "/v1/customers/c1").status == 200);
}

TEST_CASE("AnIdempotencyKeyReusedForAnotherRequestAnswers422AndAppendsNothing") {
  ServerFixture f;
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers", kCreateC1, kKey).status == 201);
  const uint64_t head = f.Head();
  Reply other_body = f.Call("acme/owner", "POST", "/v1/customers",
                            R"({"id":"c2","name":"Other","email":"o@a.test"})", kKey);
  CHECK(other_body.status == 422);
  CHECK(Code(other_body) == "idempotency_key_reused");
  CHECK(f.Call("acme/owner", "DELETE", "/v1/customers/c1", "", kKey).status == 422);
  CHECK(f.Call("acme/admin", "POST", "/v1/customers", kCreateC1, kKey).status == 422);
  CHECK(f.Head() == head);
  CHECK(f.Call("acme/owner", "GET", "/v1/customers/c2").status == 404);
  // The very same request is still a replay.
  CHECK(f.Call("acme/owner", "POST", "/v1/customers", kCreateC1, kKey).status == 201);
  CHECK(f.Head() == head);
}

// Keys committed before fingerprints existed hold no fingerprint: they answer any request,
// as they always did, rather than refusing every retry after an upgrade.
TEST_CASE("AnIdempotencyKeyStoredWithoutAFingerprintStillAnswersAReplay") {
  ServerFixture f;
  Commit commit;
  commit.tenant = "acme";
  commit.actor = {"owner-1", "owner"};
  commit.idempotency_key = "older";
  commit.events.push_back({"customer-c1", CustomerCreated{"c1", "Acme", "a@a.test", ""}});
  REQUIRE(RawLedgerOf(*f.engine).Append(commit).ok());
  const uint64_t head = f.Head();
  Reply replay =
      f.Call("acme/owner", "POST", "/v1/customers", kCreateC1, {{"Idempotency-Key", "older"}});
  CHECK(replay.status == 201);
  CHECK(f.Head() == head);
}

TEST_CASE("AReplayedTokenIssueAnswersTheIssuedTokensHashAndNoToken") {
  ServerFixture f;
  const Headers key = {{"Idempotency-Key", "issue-ivy"}};
  const std::string body = R"({"tenant":"acme","actor":"ivy","role":"owner"})";
  Reply first = f.Call("ops", "POST", "/v1/admin/tokens", body, key);
  REQUIRE(first.status == 201);
  Reply replay = f.Call("ops", "POST", "/v1/admin/tokens", body, key);
  REQUIRE(replay.status == 201);
  CHECK(Json(replay).at("token_hash") == Json(first).at("token_hash"));
  CHECK(Json(first).as_object().contains("token"));
  CHECK_FALSE(Json(replay).as_object().contains("token"));
}

// A fingerprint leaves a given password out (a fast digest of it would be guessable); the
// retry's password is checked against the hash its key recorded instead.
TEST_CASE("APasswordResetRetriedWithAnotherGivenPasswordAnswers422AndChangesNothing") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const Headers key = {{"Idempotency-Key", "reset-1"}};
  const std::string path = "/v1/contacts/k1/password-reset";
  REQUIRE(f.Call("acme/owner", "POST", path, R"({"password":"Correct-Horse-7"})", key).status ==
          204);
  const uint64_t head = f.Head();
  CHECK(f.Call("acme/owner", "POST", path, R"({"password":"Correct-Horse-7"})", key).status == 204);
  Reply other = f.Call("acme/owner", "POST", path, R"({"password":"Battery-Staple-9"})", key);
  CHECK(other.status == 422);
  CHECK(Code(other) == "idempotency_key_reused");
  CHECK(f.Call("acme/owner", "POST", path, R"({"generate":true})", key).status == 422);
  CHECK(f.Head() == head);
}

// A retry is recognised from its key before anything is prepared: no second argon2id hash
// (~90 ms and 64 MiB each) for a reset that was already made.
TEST_CASE("RetriesOfAGeneratedPasswordResetAreAnsweredWithoutHashingAgain") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const Headers key = {{"Idempotency-Key", "reset-2"}};
  const std::string path = "/v1/contacts/k1/password-reset";
  REQUIRE(f.Call("acme/owner", "POST", path, R"({"generate":true})", key).status == 200);
  const uint64_t head = f.Head();
  const uint64_t hashes = PasswordHashes(f);
  CHECK(hashes == 1);
  for (int i = 0; i < 20; ++i) {
    CHECK(f.Call("acme/owner", "POST", path, R"({"generate":true})", key).status == 204);
  }
  CHECK(PasswordHashes(f) == hashes);
  CHECK(f.Head() == head);
}

// A reset the rules refuse is refused before its password is hashed (~0.2 s of a core each),
// so refused requests cannot keep the cores busy: a contact that does not exist, has no
// portal, was deleted or was erased.
TEST_CASE("APasswordResetTheRulesRefuseIsRefusedWithoutHashing") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k2","first_name":"Bo","email":"bo@x.test","portal_enabled":false})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k3","first_name":"Cy","email":"cy@x.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "DELETE", "/v1/contacts/k3").status / 100 == 2);
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", R"({"reason":"request 9"})").status ==
      200);
  const uint64_t head = f.Head();
  const auto reset = [&](const std::string& id) {
    return f.Call("acme/owner", "POST", "/v1/contacts/" + id + "/password-reset",
                  R"({"password":"Correct-Horse-7"})");
  };
  CHECK(reset("nobody").status == 404);
  CHECK(reset("k2").status == 409);
  CHECK(reset("k3").status == 409);
  CHECK(reset("k1").status == 409);
  CHECK(PasswordHashes(f) == 0);
  CHECK(f.Head() == head);
  // Ranked as the rules rank them: bad input (422) before a rule (409).
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/k2/password-reset", R"({"password":"short"})")
            .status == 422);

  // What the ledger would refuse at commit is refused before the hash too: a stale If-Match
  // (412, which also outranks a rule's 409) and an idempotency key too long to record (413).
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k4","first_name":"Di","email":"di@x.test"})")
              .status == 201);
  const std::string strong = R"({"password":"Correct-Horse-7"})";
  const Headers stale = {{"If-Match", "\"999\""}};
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/k4/password-reset", strong, stale).status ==
        412);
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/k2/password-reset", strong, stale).status ==
        412);
  const Headers long_key = {{"Idempotency-Key", std::string(500, 'k')}};
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/k4/password-reset", strong, long_key).status ==
        413);
  CHECK(PasswordHashes(f) == 0);
  CHECK(f.Head() == head + 1);
}

// A retry is answered from its key even when the contact has changed since: the rules the
// reset met the first time are not asked again.
TEST_CASE("AResetRetriedAfterItsContactWasDeletedIsAnsweredFromItsKey") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const Headers key = {{"Idempotency-Key", "reset-3"}};
  const std::string path = "/v1/contacts/k1/password-reset";
  REQUIRE(f.Call("acme/owner", "POST", path, R"({"generate":true})", key).status == 200);
  REQUIRE(f.Call("acme/owner", "DELETE", "/v1/contacts/k1").status / 100 == 2);
  CHECK(f.Call("acme/owner", "POST", path, R"({"generate":true})", key).status == 204);
}

// Subscribers share the frames of recent events: one that showed a contact's personal data is
// not what a subscriber gets after the contact was erased.
TEST_CASE("AStreamStartedAfterAnErasureShowsNoneOfTheErasedData") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const std::string& token = f.tokens["acme/service"];
  auto first_frames = [&] {
    testing::SseClient client(f.port, "/v1/events/stream?from=1", token);
    REQUIRE(client.status() == 200);
    std::string seen;
    testing::SseClient::Frame frame;
    while (client.Next(frame, 500)) seen += frame.event + " " + frame.data + "\n";
    return seen;
  };
  CHECK(first_frames().find("ann@x.test") != std::string::npos);
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", R"({"reason":"request 9"})").status ==
      200);
  const std::string after = first_frames();
  CHECK(after.find("ContactCreated") != std::string::npos);
  CHECK(after.find("ann@x.test") == std::string::npos);
  CHECK(after.find("Ann") == std::string::npos);
}

// The stream carries personal data like every other answer: no cache may keep it.
TEST_CASE("TheEventStreamIsNeverStoredByACacheLikeEveryOtherAnswer") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  testing::SseClient client(f.port, "/v1/events/stream", f.tokens["acme/service"]);
  REQUIRE(client.status() == 200);
  CHECK_MESSAGE(client.head().find("\r\nCache-Control: no-store\r\n") != std::string::npos,
                client.head());
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1").Header("cache-control") == "no-store");
}

TEST_CASE("RevokingATokenClosesItsOpenStream") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  Reply issued = f.Call("ops", "POST", "/v1/admin/tokens",
                        R"({"tenant":"acme","actor":"mailer","role":"service"})");
  REQUIRE(issued.status == 201);
  const std::string token(Json(issued).at("token").as_string());
  testing::SseClient client(f.port, "/v1/events/stream", token);
  REQUIRE(client.status() == 200);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Dr"})").status == 200);
  testing::SseClient::Frame frame;
  REQUIRE(client.Next(frame));
  CHECK(frame.event == "ContactEdited");
  REQUIRE(f.Call("ops", "DELETE",
                 "/v1/admin/tokens/" + std::string(Json(issued).at("token_hash").as_string()))
              .status == 204);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Prof"})").status == 200);
  bool closed = false;
  while (client.Next(frame, 3000)) {
    CHECK(frame.event == "error");
    CHECK(frame.data.find("token_revoked") != std::string::npos);
    closed = true;
  }
  CHECK(closed);
}

// Subscribers that never read: what each holds while its write waits is bounded in bytes,
// whatever the size of the events behind it.
TEST_CASE("StalledSubscribersOfLargeEventsKeepTheServersMemoryBounded") {
  ServerFixture f(/*read_timeout_s=*/10);
  ContactFields filler;
  filler.first_name = std::string(15'000, 'f');
  for (int c = 0; c < 10; ++c) {
    Commit commit;
    commit.tenant = "acme";
    commit.actor = {"bulk", "owner"};
    for (int i = 0; i < 100; ++i) {
      const std::string id = "bulk" + std::to_string(c * 100 + i);
      commit.events.push_back({"contact-" + id, ContactEdited{id, filler}});
    }
    REQUIRE(RawLedgerOf(*f.engine).Append(commit).ok());
  }
  // The caches every reader shares (the log's blocks, the recent events) are bounded on their
  // own and filled first: what is measured is what the subscribers hold.
  for (uint64_t from = 1; from <= f.Head(); from += 100) {
    REQUIRE(f.engine->ledger().Read(from, 100).ok());
  }
  const size_t rss_before = RssMib();
  namespace net = boost::asio;
  net::io_context ioc;
  std::vector<net::ip::tcp::socket> stalled;
  for (int i = 0; i < 30; ++i) {
    auto& socket = stalled.emplace_back(ioc);
    socket.open(net::ip::tcp::v4());
    socket.set_option(net::socket_base::receive_buffer_size(4096));
    socket.connect({net::ip::make_address("127.0.0.1"), f.port});
    net::write(socket, net::buffer("GET /v1/events/stream?from=1 HTTP/1.1\r\nHost: x\r\n"
                                   "Authorization: Bearer " +
                                   f.tokens["acme/auditor"] + "\r\n\r\n"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // Signed: the resident set may also shrink meanwhile.
  const auto grown = static_cast<int64_t>(RssMib()) - static_cast<int64_t>(rss_before);
  MESSAGE("30 stalled subscribers: RSS grew by ", grown, " MiB");
  // Each holds at most a chunk and, while it reads, a batch of events decoded and framed; the
  // frames are cached once for all (8 MiB); 16 MiB for the allocator's own keeping. Unbounded,
  // each would hold its 15 MB of events.
  const api::ServerOptions options;
  const int64_t per_subscriber =
      static_cast<int64_t>(options.stream_chunk_bytes_max + options.stream_batch_max * 2 * 15'000);
  const int64_t bound = (30 * per_subscriber >> 20) + 8 + 16;
  if (kMemoryBoundsHold) CHECK(grown < bound);
}

TEST_CASE("OverTheSubscriberLimitANewSubscriberGets503AndRetryAfter") {
  ServerFixture f(/*read_timeout_s=*/5, /*connections_max=*/1024, /*subscribers_max=*/2);
  testing::SseClient one(f.port, "/v1/events/stream", f.tokens["acme/service"]);
  testing::SseClient two(f.port, "/v1/events/stream", f.tokens["acme/service"]);
  REQUIRE(one.status() == 200);
  REQUIRE(two.status() == 200);
  Reply third = Get(f, "acme/service", "/v1/events/stream");
  CHECK(third.status == 503);
  CHECK(Code(third) == "too_many_subscribers");
  CHECK(third.Header("retry-after") == "1");
  CHECK(f.Call("acme/service", "GET", "/v1/events").status == 200);
}

TEST_CASE("AnInvalidRequestIdIsReplacedAndTheEventsStayValidJson") {
  ServerFixture f;
  const std::string ids[] = {"\xff\xfe\xc0\xafreq", "a b status=200 forged", std::string(129, 'r')};
  int n = 0;
  for (const std::string& id : ids) {
    const std::string customer = "c" + std::to_string(++n);
    Reply r =
        f.Call("acme/owner", "POST", "/v1/customers",
               R"({"id":")" + customer + R"(","name":"A","email":")" + customer + R"(@a.test"})",
               {{"X-Request-ID", id}});
    CHECK(r.status == 201);
  }
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c9","name":"A","email":"c9@a.test"})",
                 {{"X-Request-ID", "order-42.retry:1_x"}})
              .status == 201);
  Reply events = f.Call("acme/owner", "GET", "/v1/events?from=1&limit=1000");
  REQUIRE(events.status == 200);
  json::error_code ec;
  json::value parsed = json::parse(events.body, ec);
  REQUIRE(!ec);
  const auto& all = parsed.at("events").as_array();
  REQUIRE(all.size() >= 4);
  const std::vector<json::value> items(all.end() - 4, all.end());  // the four creates
  for (size_t i = 0; i < 3; ++i) {
    const std::string id(items[i].at("correlation_id").as_string());
    CHECK(!id.empty());
    CHECK(id != ids[i]);
    CHECK(id.find(' ') == std::string::npos);
  }
  CHECK(items[3].at("correlation_id") == "order-42.retry:1_x");
}

TEST_CASE("ALastEventIdAtTheTopOfTheRangeIsRefusedNotWrappedToTheStart") {
  ServerFixture f;
  testing::SseClient client(f.port, "/v1/events/stream", f.tokens["acme/service"],
                            "18446744073709551615");
  CHECK(client.status() == 400);
}

TEST_CASE("ProblemBodiesCarryTheHttpStatusOfTheirResponse") {
  ServerFixture f;
  Reply not_allowed = f.Call("acme/owner", "PUT", "/v1/customers");
  CHECK(not_allowed.status == 405);
  CHECK(Json(not_allowed).at("status") == 405);
  std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": y\r\n";
  Reply too_large = testing::RawHttp(f.port, many + "\r\n");
  CHECK(too_large.status == 431);
  CHECK(Json(too_large).at("status") == 431);
}

TEST_CASE("AnHttp11RequestWithoutHostAnswers400") {
  ServerFixture f;
  Reply r = testing::RawHttp(f.port, "GET /healthz HTTP/1.1\r\n\r\n");
  CHECK(r.status == 400);
  CHECK(testing::RawHttp(f.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status == 200);
}

// A proxy in front may judge a request by the last of two Authorization headers while the
// server would act on the first: a header that says who asks or what to change comes once.
TEST_CASE("ARequestWithTwoAuthorizationOrIdempotencyHeadersAnswers400AndChangesNothing") {
  ServerFixture f;
  const uint64_t head = f.Head();
  const std::string body = R"({"id":"c9","name":"Twice","email":"t@acme.test"})";
  const std::string post =
      "POST /v1/customers HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n";
  const std::string owner = "Authorization: Bearer " + f.tokens["acme/owner"] + "\r\n";
  const std::string member = "Authorization: Bearer " + f.tokens["acme/member"] + "\r\n";
  Reply two_tokens = testing::RawHttp(f.port, post + owner + member + "\r\n" + body);
  CHECK(two_tokens.status == 400);
  CHECK(two_tokens.body.find("Authorization") != std::string::npos);
  CHECK(two_tokens.body.find(f.tokens["acme/owner"]) == std::string::npos);
  Reply two_keys = testing::RawHttp(
      f.port, post + owner + "Idempotency-Key: a\r\nIdempotency-Key: b\r\n\r\n" + body);
  CHECK(two_keys.status == 400);
  CHECK(f.Head() == head);
  CHECK(testing::RawHttp(f.port, post + owner + "\r\n" + body).status == 201);
}

// A chunked body may end in trailer fields, which a proxy that judged the header never saw:
// a credential or key there is refused with the request, not taken as if in the header.
TEST_CASE("ARequestWithTrailerFieldsAnswers400AndChangesNothing") {
  ServerFixture f;
  const uint64_t head = f.Head();
  const std::string body = R"({"id":"c9","name":"Trailer","email":"t@acme.test"})";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  const std::string chunked =
      "POST /v1/customers HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nTransfer-Encoding: chunked\r\n";
  const std::string chunks = std::string(size) + "\r\n" + body + "\r\n0\r\n";
  const std::string owner = "Authorization: Bearer " + f.tokens["acme/owner"] + "\r\n";
  Reply trailer = testing::RawHttp(f.port, chunked + "\r\n" + chunks + owner + "\r\n");
  CHECK(trailer.status == 400);
  CHECK(trailer.body.find("trailer") != std::string::npos);
  CHECK(f.Head() == head);
  CHECK(testing::RawHttp(f.port, chunked + owner + "\r\n" + chunks + "\r\n").status == 201);
}

TEST_CASE("TheBearerSchemeIsCaseInsensitive") {
  ServerFixture f;
  for (const char* scheme : {"bearer ", "BEARER ", "Bearer "}) {
    CAPTURE(scheme);
    CHECK(testing::Http(f.port, "GET", "/v1/events", "",
                        {{"Authorization", scheme + f.tokens["acme/service"]}})
              .status == 200);
  }
}

TEST_CASE("AnErasureWithoutABodyIsRefusedSayingItNeedsAReason") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const uint64_t head = f.Head();
  Reply r = f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", "");
  CheckRefused(r, 400, "malformed_json", "reason");
  CHECK(std::string(Json(r).at("detail").as_string()).find("\"reason\"") != std::string::npos);
  CHECK(f.Head() == head);
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1").status == 200);
}

// A missing reason is named the same way however it is missing, and its length is counted in
// characters, as the schema's maxLength says.
TEST_CASE("AnErasureReasonIsRequiredAlikeWhenAbsentBlankOrEmptyAndCountedInCharacters") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const uint64_t head = f.Head();
  for (const char* body : {"{}", R"({"reason":""})", R"({"reason":"  "})"}) {
    CAPTURE(body);
    CheckRefused(f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", body), 422, "required",
                 "reason");
  }
  Reply blank = f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", " \r\n\t");
  CHECK(blank.status == 400);
  CHECK(Json(blank).at("field") == "reason");
  std::string long_reason;
  for (int i = 0; i < 501; ++i) long_reason += "\u00e9";  // 2 bytes each in UTF-8
  Reply too_long = f.Call("acme/owner", "POST", "/v1/contacts/k1/erase",
                          R"({"reason":")" + long_reason + R"("})");
  CHECK(too_long.status == 422);
  CHECK(f.Head() == head);
  long_reason.resize(long_reason.size() - 2);  // 500 characters, 1,000 bytes
  Reply longest = f.Call("acme/owner", "POST", "/v1/contacts/k1/erase",
                         R"({"reason":")" + long_reason + R"("})");
  CHECK_MESSAGE(longest.status == 200, longest.body);
}

// A name that reverses what follows it would show the trail's readers something else.
TEST_CASE("ANameWithATextDirectionOverrideIsRefusedNamingTheField") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const uint64_t head = f.Head();
  Reply r =
      f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"last_name":"Smith\u202Eexe.txt"})");
  CheckRefused(r, 422, "invalid_text", "last_name");
  CHECK(f.Head() == head);
  CHECK(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"last_name":"\u05DB\u05D4\u05DF"})")
            .status == 200);
  // A record stored before the check existed still takes edits of its other fields.
  const CommandContext owner{"acme", {"owner-1", "owner"}, {}, {}, {}};
  REQUIRE(f.engine
              ->Execute(owner,
                        EditContact{"k1", [](ContactFields& c) { c.company_name = "Acme\u202E"; }})
              .ok());
  CHECK(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Dr"})").status == 200);
}

// Every route that reads a body names, for an empty one, the first field it needs.
TEST_CASE("AnEmptyBodyIsRefusedNamingTheFirstFieldItNeeds") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const uint64_t head = f.Head();
  CheckRefused(f.Call("acme/owner", "POST", "/v1/customers", ""), 400, "malformed_json", "name");
  CHECK(f.Head() == head);
}

// Each GET of `targets` answers 400 invalid_query naming `field`.
void CheckInvalidQuery(ServerFixture& f, std::initializer_list<const char*> targets,
                       const char* field) {
  for (const char* target : targets) {
    CAPTURE(target);
    CheckRefused(f.Call("acme/owner", "GET", target), 400, "invalid_query", field);
  }
}

TEST_CASE("APageLimitOfZeroOrOverAThousandAnswers400") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  CheckInvalidQuery(f,
                    {"/v1/events?limit=0", "/v1/events?limit=1001",
                     "/v1/customers/c1/contacts?limit=0", "/v1/contacts/k1/history?limit=5000"},
                    "limit");
  CHECK(f.Call("acme/owner", "GET", "/v1/events?limit=1000").status == 200);
}

TEST_CASE("AReadAsOfAPositionAndATimeAtOnceAnswers400") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  CheckInvalidQuery(
      f,
      {"/v1/contacts/k1?at=3&as_of=2026-01-01T00:00:00Z",
       "/v1/customers/c1?as_of=2026-01-01T00:00:00Z&at=3", "/v1/contacts/k1/history?at=3&as_of=x"},
      "as_of");
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1?at=3").status != 400);
}

// As every query parameter that does not parse: the request cannot be read as meant.
TEST_CASE("AQueryParameterThatDoesNotParseAnswers400NamingIt") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  // Positions start at 1, as /v1/events?from= does: 0 names no position.
  CheckInvalidQuery(
      f, {"/v1/contacts/k1?at=x", "/v1/contacts/k1/history?at=-1", "/v1/customers/c1?at=0"}, "at");
  CheckInvalidQuery(
      f, {"/v1/contacts/k1?as_of=yesterday", "/v1/customers/c1/history?as_of=2026-13-01T00:00:00Z"},
      "as_of");
  CheckInvalidQuery(f, {"/v1/audit?from=monday"}, "from");
  CheckInvalidQuery(f, {"/v1/audit?to=2026-01-01"}, "to");
  CheckInvalidQuery(f, {"/v1/customers/c1/contacts?status=deleted"}, "status");
  const Reply plus = f.Call("acme/owner", "GET", "/v1/contacts/k1?as_of=2026-01-01T10:00:00+01:00");
  CHECK(plus.status == 400);
  CHECK(std::string(Json(plus).at("detail").as_string()).find("%2B") != std::string::npos);
  CHECK(f.Call("acme/owner", "GET", "/v1/audit?from=2026-01-01T00:00:00Z").status == 200);
}

TEST_CASE("ADuplicateJsonKeyAnswers400NamingTheField") {
  ServerFixture f;
  const uint64_t head = f.Head();
  Reply r = f.Call("acme/owner", "POST", "/v1/customers",
                   R"({"id":"c1","name":"A","email":"a@a.test","name":"B"})");
  CheckRefused(r, 400, "duplicate_key", "name");
  CHECK(f.Head() == head);
}

// A key of a password request may be the password itself, sent by mistake: a repeated one is
// refused without being said back, at the top of a reset or inside a new contact's password.
TEST_CASE("ARepeatedKeyInAPasswordRequestIsRefusedWithoutNamingIt") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  const uint64_t head = f.Head();
  for (const auto& request : std::vector<std::pair<std::string, std::string>>{
           {"/v1/contacts/k1/password-reset", R"({"MyS3cret!Pass":"a","MyS3cret!Pass":"b"})"},
           {"/v1/contacts/k1/password-reset",
            R"({"password":"Zz9!Zz9!Zz9!","x":{"MyS3cret!Pass":1,"MyS3cret!Pass":1}})"},
           {"/v1/customers/c1/contacts", R"({"id":"k9","first_name":"A","email":"k9@a.test",)"
                                         R"("password":{"MyS3cret!Pass":1,"MyS3cret!Pass":2}})"}}) {
    CAPTURE(request.second);  // clang 14 cannot capture a structured binding
    Reply r = f.Call("acme/owner", "POST", request.first, request.second);
    CheckRefused(r, 400, "duplicate_key", "password");
    CHECK(r.body.find("MyS3cret") == std::string::npos);
  }
  CHECK(f.Head() == head);
}

// Answers carry personal data and secrets: no cache in between may keep them.
TEST_CASE("EveryApiAnswerForbidsCachesToStoreIt") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  for (const auto& request : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/v1/contacts/k1", ""},
           {"POST", "/v1/contacts/k1/password-reset", R"({"generate":true})"},
           {"GET", "/v1/contacts/nobody", ""}}) {
    const auto& [method, target, body] = request;
    CAPTURE(std::get<1>(request));  // clang 14 cannot capture a structured binding
    Reply r = f.Call("acme/owner", method, target, body);
    CHECK(r.Header("cache-control") == "no-store");
  }
}

TEST_CASE("ProblemBodiesAreValidUtf8JsonAndBoundTheIdsTheyEcho") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  for (const std::string& id : {std::string("bad%FFid"), std::string(5000, 'i')}) {
    Reply r = f.Call("acme/owner", "GET", "/v1/contacts/" + id);
    CHECK(r.status == 404);
    json::error_code ec;
    json::value problem = json::parse(r.body, ec);
    REQUIRE(!ec);
    const std::string detail(problem.at("detail").as_string());
    CHECK(detail.size() < 600);
    CHECK(detail.find('\xff') == std::string::npos);
  }
}

TEST_CASE("TheAccessLogNamesRouteTemplatesAndStreamsButNoToken") {
  testing::LogCapture captured;
  {
    ServerFixture f;
    CreateCustomerAndContact(f);
    f.Call("ops", "DELETE", "/v1/admin/tokens/" + f.tokens["acme/member"]);
    { testing::SseClient stream(f.port, "/v1/events/stream", f.tokens["acme/service"]); }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const std::string log = captured.Text();
    CHECK(log.find(f.tokens["acme/member"]) == std::string::npos);
    CHECK(log.find("path=/v1/admin/tokens/{token_hash} status=") != std::string::npos);
    CHECK(log.find("path=/v1/customers/{id}/contacts status=201") != std::string::npos);
    CHECK(log.find("path=/v1/events/stream status=200") != std::string::npos);
  }
}

TEST_CASE("AMethodNoRouteHasIsLoggedAsOtherNeverAsTheClientsText") {
  testing::LogCapture captured;
  {
    ServerFixture f;
    const std::string pasted = f.tokens.at("acme/owner");  // a token pasted as the method
    Reply r = testing::RawHttp(f.port, pasted +
                                           " /v1/customers HTTP/1.1\r\nHost: x\r\n"
                                           "Connection: close\r\n\r\n");
    CHECK(r.status >= 400);
    const std::string log = captured.Text();
    CHECK(log.find(pasted) == std::string::npos);
    CHECK(log.find("method=other") != std::string::npos);
  }
}

TEST_CASE("MetricsNeedAnOpsTokenWhileHealthAndReadinessStayOpen") {
  ServerFixture f;
  CHECK(f.Call("", "GET", "/metrics").status == 401);
  CHECK(f.Call("acme/owner", "GET", "/metrics").status == 403);
  Reply metrics = f.Call("ops", "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("cledger_commits_total") != std::string::npos);
  CHECK(f.Call("", "GET", "/healthz").status == 200);
  CHECK(f.Call("", "GET", "/readyz").status == 200);
}

TEST_CASE("ConcurrentVerificationsShareOneRunAndARepeatWithinTheWindowReusesIt") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  std::vector<std::future<Reply>> replies;
  for (int i = 0; i < 8; ++i) {
    replies.push_back(std::async(
        std::launch::async, [&] { return f.Call("acme/auditor", "GET", "/v1/ledger/verify"); }));
  }
  std::set<std::string> runs;
  for (auto& r : replies) {
    Reply reply = r.get();
    REQUIRE(reply.status == 200);
    CHECK(Json(reply).at("ok") == true);
    runs.insert(std::string(Json(reply).at("verified_at").as_string()));
  }
  CHECK(runs.size() == 1);
}

TEST_CASE("ADeleteWithAStaleIfMatchAnswers412EvenWhenARuleWouldRefuseIt") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  REQUIRE(f.Call("acme/owner", "DELETE", "/v1/contacts/k1").status == 204);
  const uint64_t head = f.Head();
  Reply stale = f.Call("acme/owner", "DELETE", "/v1/contacts/k1", "", {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(Code(stale) == "version_mismatch");
  CHECK(f.Head() == head);
}

// An erasure is a command like the others: If-Match makes it conditional, so a caller that
// judged an older version of the contact is told to read again and nothing is erased.
TEST_CASE("AnErasureWithAStaleIfMatchAnswers412AndErasesNothing") {
  ServerFixture f;
  CreateCustomerAndContact(f);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"first_name":"Anna"})").status ==
          200);
  const uint64_t head = f.Head();
  const std::string body = R"({"reason":"request 9"})";
  Reply stale =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", body, {{"If-Match", "\"1\""}});
  CHECK(stale.status == 412);
  CHECK(Code(stale) == "version_mismatch");
  CHECK(f.Head() == head);
  CHECK(Json(f.Call("acme/owner", "GET", "/v1/contacts/k1")).at("first_name") == "Anna");
  Reply bad = f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", body, {{"If-Match", "x"}});
  CHECK(bad.status == 400);
  CHECK(Json(bad).at("field") == "If-Match");
  Reply current =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", body, {{"If-Match", "\"2\""}});
  CHECK(current.status == 200);
  CHECK(Json(current).at("already_erased") == false);
  // Its retry, with the version it judged then, is the erasure already done (and finishes it).
  Reply retry =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/erase", body, {{"If-Match", "\"2\""}});
  CHECK(retry.status == 200);
  CHECK(Json(retry).at("already_erased") == true);
}

}  // namespace
}  // namespace cledger
