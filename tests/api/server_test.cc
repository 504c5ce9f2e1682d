// Every route over real HTTP on loopback, tenants and roles, bad input, and the live stream.
#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <sstream>
#include <thread>

#include "engine/api/routes.h"
#include "engine/domain/roles.h"
#include "engine/engine_internal.h"
#include "tests/support/log_capture.h"
#include "tests/support/server_fixture.h"

namespace cledger {
namespace {

namespace json = boost::json;
using testing::Reply;
using testing::ServerFixture;

json::value Json(const Reply& r) { return json::parse(r.body); }
std::string Code(const Reply& r) {
  return r.body.empty() ? "" : std::string(Json(r).at("code").as_string());
}

void CreateCustomerAndContacts(ServerFixture& f) {
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test, ceo@acme.test"})")
              .status == 201);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                 R"({"id":"k1","first_name":"Ann","email":"ann@x.test"})")
              .status == 201);
}

TEST_CASE("EveryRouteAnswersOverRealHttp") {
  ServerFixture f;
  CHECK(f.Call("", "GET", "/healthz").status == 200);
  CHECK(f.Call("", "GET", "/readyz").status == 200);

  Reply created = f.Call("acme/owner", "POST", "/v1/customers",
                         R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test"})");
  REQUIRE(created.status == 201);
  CHECK(created.Header("location") == "/v1/customers/c1");
  CHECK(created.Header("etag") == "\"1\"");
  CHECK(f.Call("acme/owner", "GET", "/v1/customers/c1").status == 200);
  CHECK(f.Call("acme/owner", "PATCH", "/v1/customers/c1", R"({"bill_format":"full"})",
               {{"If-Match", "\"9\""}})
            .status == 412);
  Reply patched = f.Call("acme/owner", "PATCH", "/v1/customers/c1", R"({"bill_format":"full"})",
                         {{"If-Match", "\"1\""}});
  CHECK(patched.status == 200);
  CHECK(Json(patched).at("bill_format") == "full");
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/customers", R"({"id":"c2","name":"B","email":"b@b.test"})")
          .status == 201);

  Reply direct = f.Call("acme/owner", "POST", "/v1/customers/c1/contacts",
                        R"({"id":"k1","first_name":"Ann","email":"ann@x.test",
                            "phones":[{"type":"work","number":"+44 20 7946 0000"}]})");
  REQUIRE(direct.status == 201);
  CHECK(Json(direct).at("kind") == "direct");
  CHECK(Json(direct).at("portal_enabled") == true);
  Reply taken =
      f.Call("acme/owner", "POST", "/v1/contacts", R"({"first_name":"X","email":"ANN@x.test"})");
  CHECK(taken.status == 409);
  CHECK(Code(taken) == "email_taken");
  CHECK(taken.Header("content-type") == "application/problem+json");
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/contacts", R"({"id":"s1","first_name":"Sam"})").status ==
      201);
  CHECK(f.Call("acme/owner", "POST", "/v1/customers/c2/shared-contacts", R"({"contact_id":"s1"})")
            .status == 200);
  CHECK(
      f.Call("acme/owner", "PUT", "/v1/customers/c1/contacts/k1/roles", R"({"roles":["billing"]})")
          .status == 200);
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/k1/convert-to-shared").status == 200);
  CHECK(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Dr"})").status == 200);
  CHECK(Code(f.Call("acme/owner", "PATCH", "/v1/contacts/profile-c1", R"({"title":"Dr"})")) ==
        "profile_contact_read_only");
  Reply list = f.Call("acme/owner", "GET", "/v1/customers/c1/contacts?status=all");
  REQUIRE(list.status == 200);
  CHECK(Json(list).at("items").as_array().size() == 2);
  CHECK(Json(list).at("items").at(0).at("profile") == true);
  Reply reset =
      f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset", R"({"generate":true})");
  CHECK(reset.status == 200);
  CHECK(Json(reset).at("temporary_password").as_string().size() >= 16);
  CHECK(f.Call("acme/owner", "DELETE", "/v1/customers/c2/shared-contacts/s1").status == 204);
  CHECK(f.Call("acme/owner", "DELETE", "/v1/contacts/s1").status == 204);
  CHECK(f.Call("acme/owner", "POST", "/v1/contacts/s1/restore").status == 200);
  Reply then = f.Call("acme/owner", "GET", "/v1/contacts/k1?at=" + std::to_string(f.Head() - 6));
  CHECK(then.status == 200);
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1/history").status == 200);
  CHECK(f.Call("acme/owner", "GET", "/v1/customers/c1/history").status == 200);
  CHECK(f.Call("acme/owner", "GET", "/v1/audit?actor=owner-1").status == 200);
  Reply everyone = f.Call("acme/auditor", "GET", "/v1/audit?limit=1000");
  CHECK(everyone.status == 200);
  CHECK(Json(everyone).at("items").as_array().size() > 10);
  Reply invoice = f.Call("acme/owner", "GET", "/v1/customers/c1/recipients?kind=invoice");
  CHECK(Json(invoice).at("items").as_array().size() == 2);
  Reply events = f.Call("acme/auditor", "GET", "/v1/events?from=1&limit=5");
  CHECK(events.status == 200);
  CHECK(events.body.find("argon2") == std::string::npos);
  Reply raw = f.Call("acme/auditor", "GET", "/v1/events?from=1&limit=5", {},
                     {{"Accept", "application/x-flatbuffers"}});
  CHECK(raw.status == 200);
  CHECK(raw.body.substr(8, 4) == "CLEV");  // 4-byte size prefix, then the FlatBuffer
  CHECK(Json(f.Call("acme/auditor", "GET", "/v1/ledger/digest")).at("position").as_int64() ==
        static_cast<int64_t>(f.Head()));
  CHECK(Json(f.Call("ops", "GET", "/v1/ledger/verify")).at("ok") == true);
  CHECK(f.Call("acme/owner", "DELETE", "/v1/customers/c1").status == 204);
  CHECK(f.Call("ops", "POST", "/v1/admin/tenants", R"({"name":"initech"})").status == 201);
  Reply token = f.Call("ops", "POST", "/v1/admin/tokens",
                       R"({"tenant":"initech","actor":"ivy","role":"owner"})");
  REQUIRE(token.status == 201);
  CHECK(f.Call("ops", "DELETE",
               "/v1/admin/tokens/" + std::string(Json(token).at("token_hash").as_string()))
            .status == 204);
  CHECK(f.Call("ops", "GET", "/v1/admin/projections").status == 200);
  CHECK(f.Call("ops", "POST", "/v1/admin/projections/contacts/rebuild").status == 200);
  Reply metrics = f.Call("ops", "GET", "/metrics");
  CHECK(metrics.body.find("cledger_commits_total") != std::string::npos);
  CHECK(metrics.body.find("cledger_sync_seconds_bucket") != std::string::npos);
}

TEST_CASE("ARetriedCommandAnswersAsTheFirstTimeAndAppendsNothing") {
  ServerFixture f;
  const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "create-c7"}};
  Reply first = f.Call("acme/owner", "POST", "/v1/customers",
                       R"({"id":"c7","name":"First","email":"a@a.test"})", key);
  REQUIRE(first.status == 201);
  REQUIRE(f.Call("acme/owner", "PATCH", "/v1/customers/c7", R"({"name":"Renamed"})").status == 200);
  const uint64_t head = f.Head();
  Reply retry = f.Call("acme/owner", "POST", "/v1/customers",
                       R"({"id":"c7","name":"First","email":"a@a.test"})", key);
  CHECK(retry.status == 201);
  CHECK(retry.body == first.body);
  CHECK(retry.Header("etag") == first.Header("etag"));
  CHECK(retry.Header("location") == "/v1/customers/c7");
  CHECK(f.Head() == head);
}

// Concurrent edits of one contact: each answer is the record as its own edit left it.
TEST_CASE("ConcurrentEditsEachAnswerTheRecordAtTheirOwnETag") {
  ServerFixture f;
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/customers", R"({"id":"c1","name":"A","email":"a@a.test"})")
          .status == 201);
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/customers/c1/contacts", R"({"id":"k1","first_name":"Ann"})")
          .status == 201);
  std::vector<std::thread> editors;
  std::vector<std::vector<std::pair<std::string, Reply>>> replies(6);
  for (int t = 0; t < 6; ++t) {
    editors.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string name = "L" + std::to_string(t) + "-" + std::to_string(i);
        replies[t].emplace_back(name, f.Call("acme/owner", "PATCH", "/v1/contacts/k1",
                                             R"({"last_name":")" + name + R"("})"));
      }
    });
  }
  for (auto& editor : editors) editor.join();
  for (const auto& mine : replies) {
    for (const auto& [name, reply] : mine) {
      REQUIRE(reply.status == 200);
      CHECK(Json(reply).at("last_name").as_string() == name);
      CHECK("\"" + std::to_string(Json(reply).at("version").as_int64()) + "\"" ==
            reply.Header("etag"));
      // The very record a read at the command's position finds.
      CHECK(Json(reply) == Json(f.Call("acme/owner", "GET",
                                       "/v1/contacts/k1?at=" + reply.Header("x-ledger-position"))));
    }
  }
}

// No thread waits for a command over HTTP: the connection's coroutine is resumed when the
// writer answers. Stopping the server meanwhile must neither drop the answer of a command
// that was kept nor keep one that was not answered.
TEST_CASE("WhenTheServerStopsEveryCommandItKeptWasAnsweredAndNoOtherWasKept") {
  ServerFixture f;
  constexpr int kClients = 16;
  std::atomic<int> answered{0};
  std::vector<std::vector<std::pair<std::string, int>>> sent(kClients);  // id, status
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        const std::string id = "s" + std::to_string(t) + "-" + std::to_string(i);
        int status = 0;
        try {
          status = f.Call("acme/owner", "POST", "/v1/customers",
                          R"({"id":")" + id + R"(","name":"N","email":"n@n.test"})")
                       .status;
        } catch (const std::exception&) {
          return;  // refused: the server stopped listening
        }
        sent[t].emplace_back(id, status);
        if (status == 201) ++answered;
        if (status != 201) return;  // cut off while the server stops
      }
    });
  }
  while (answered < 200) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  f.server->Stop();
  f.runner.join();
  for (auto& client : clients) client.join();
  const Principal owner{"acme", {"o", "owner"}};
  int kept = 0;
  for (const auto& mine : sent) {
    for (const auto& one : mine) {  // no structured binding: INFO captures what it names
      const bool stored = f.engine->GetCustomer(owner, one.first).ok();
      INFO(one.first << " answered " << one.second);
      CHECK(stored == (one.second == 201));
      kept += stored ? 1 : 0;
    }
  }
  CHECK(kept >= 200);
}

TEST_CASE("ATokenOfOneTenantGets404ForEveryIdOfAnother") {
  ServerFixture f;
  CreateCustomerAndContacts(f);
  const uint64_t head = f.Head();
  for (const auto& call : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/customers/c1"},
           {"GET", "/v1/contacts/k1"},
           {"GET", "/v1/customers/c1/contacts"},
           {"GET", "/v1/customers/c1/recipients?kind=invoice"},
           {"PATCH", "/v1/contacts/k1"},
           {"DELETE", "/v1/contacts/k1"},
           {"DELETE", "/v1/customers/c1"},
           {"POST", "/v1/contacts/k1/restore"}}) {
    const auto& [method, target] = call;
    CAPTURE(call.second);  // clang 14 cannot capture a structured binding
    CHECK(f.Call("globex/owner", method, target, method == "PATCH" ? R"({"title":"x"})" : "")
              .status == 404);
  }
  CHECK(f.Call("globex/owner", "GET", "/v1/contacts/k1/history").status == 404);
  CHECK(f.Head() == head);
  auto events =
      Json(f.Call("globex/owner", "GET", "/v1/events?from=1&limit=1000")).at("events").as_array();
  const auto all = f.engine->ledger().Read(1, 1000);
  REQUIRE(all.ok());
  size_t globex = 0;
  for (const Event& e : *all) globex += e.tenant == "globex" ? 1 : 0;
  REQUIRE(globex > 0);
  REQUIRE(events.size() == globex);
  for (const auto& e : events) CHECK(e.at("tenant") == "globex");
}

TEST_CASE("RolesAreEnforcedOnEveryRoute") {
  ServerFixture f;
  CreateCustomerAndContacts(f);
  const uint64_t head = f.Head();
  CHECK(f.Call("acme/member", "GET", "/v1/contacts/k1").status == 403);
  CHECK(f.Call("acme/member", "POST", "/v1/contacts", R"({"first_name":"M"})").status == 403);
  CHECK(f.Call("acme/member", "GET", "/v1/events").status == 403);
  CHECK(f.Call("acme/auditor", "GET", "/v1/contacts/k1/history").status == 200);
  CHECK(f.Call("acme/auditor", "DELETE", "/v1/contacts/k1").status == 403);
  CHECK(f.Call("acme/auditor", "POST", "/v1/customers", R"({"name":"A","email":"a@a.test"})")
            .status == 403);
  CHECK(f.Call("acme/service", "GET", "/v1/contacts/k1").status == 403);
  CHECK(f.Call("acme/service", "GET", "/v1/events").status == 200);
  CHECK(f.Call("acme/owner", "GET", "/v1/admin/projections").status == 403);
  CHECK(f.Call("", "GET", "/v1/contacts/k1").status == 401);
  CHECK(testing::Http(f.port, "GET", "/v1/contacts/k1", "", {{"Authorization", "Bearer nope"}})
            .status == 401);
  CHECK(f.Head() == head);
}

// Every row of routes.h with every role's token, through the handlers (the stream route
// would not end over HTTP): refused exactly when the roles table refuses the row's action.
TEST_CASE("EveryRouteRefusesExactlyTheRolesTheTableRefuses") {
  ServerFixture f;
  const uint64_t head = f.Head();
  api::HttpMetrics metrics;
  api::Handlers handlers(*f.engine, metrics);
  for (const api::Route& route : api::kRoutes) {
    CAPTURE(route.method);
    CAPTURE(route.path);
    std::string target(route.path);
    for (size_t open; (open = target.find('{')) != std::string::npos;) {
      target.replace(open, target.find('}', open) - open + 1, "nope");
    }
    api::HttpRequest request{std::string(route.method), target, "{}"};
    const int anonymous = handlers.Handle(request).status;
    if (!route.action) {  // the probes and the console's files: no such file is a 404
      CHECK(anonymous == (route.path == "/console/{file}" ? 404 : 200));
      continue;
    }
    CHECK(anonymous == 401);
    for (const auto& entry : f.tokens) {
      const auto& [who, token] = entry;
      const std::string role = who == "ops" ? who : who.substr(who.find('/') + 1);
      request.authorization = "Bearer " + token;
      const api::HttpResponse response = handlers.Handle(request);
      CAPTURE(entry.first);  // clang 14 cannot capture a structured binding
      CAPTURE(response.body);
      const bool refused =
          response.status == 403 && json::parse(response.body).at("code") == "forbidden";
      CHECK(refused == !domain::Can(role, *route.action));
    }
  }
  CHECK(f.Head() == head);
}

TEST_CASE("BadInputGetsA4xxProblemAppendsNothingAndTheServerKeepsServing") {
  ServerFixture f;
  CreateCustomerAndContacts(f);
  const uint64_t head = f.Head();
  auto post = [&](const std::string& body) {
    return f.Call("acme/owner", "POST", "/v1/customers/c1/contacts", body);
  };
  CHECK(Code(post("{\"first_name\": ")) == "malformed_json");
  Reply unknown = post(R"({"first_name":"A","shoe_size":44})");
  CHECK(Code(unknown) == "unknown_field");
  CHECK(Json(unknown).at("field") == "shoe_size");
  CHECK(Code(post("{\"first_name\":\"\xC3\x28\"}")) == "invalid_utf8");
  Reply phones = post(R"({"first_name":"A","phones":[{"type":"work","number":"1"}]})");
  CHECK(phones.status == 422);
  CHECK(Json(phones).at("field") == "phones[0].number");
  const std::string big(10 * 1024 * 1024, 'x');
  CHECK(post("{\"first_name\":\"" + big + "\"}").status == 413);
  std::string many = "GET /v1/contacts/k1 HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 10000; ++i) many += "X-H" + std::to_string(i) + ": y\r\n";
  many += "\r\n";
  CHECK(testing::RawHttp(f.port, many).status == 431);
  CHECK(testing::RawHttp(f.port, "NONSENSE\r\n\r\n").status == 400);
  CHECK(f.Head() == head);
  CHECK(f.Call("acme/owner", "GET", "/v1/contacts/k1").status == 200);
}

TEST_CASE("AResumedStreamGetsEveryEventExactlyOnceInOrderWhileWritersAppend") {
  ServerFixture f;
  CreateCustomerAndContacts(f);
  std::atomic<bool> writing{true};
  std::atomic<int> written{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; writing && i < 150; ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
        if (f.Call("acme/owner", "POST", "/v1/contacts",
                   R"({"id":")" + id + R"(","first_name":"W"})")
                .status == 201) {
          ++written;
        }
      }
    });
  }
  // globex writes too: its events must never reach acme's stream.
  writers.emplace_back([&] {
    for (int i = 0; i < 20; ++i) {
      f.Call("globex/owner", "POST", "/v1/customers", R"({"name":"G","email":"g@g.test"})");
    }
  });
  std::vector<uint64_t> seen;
  uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    testing::SseClient client(f.port, "/v1/events/stream?from=1", f.tokens["acme/auditor"],
                              last ? std::to_string(last) : "");
    REQUIRE(client.status() == 200);
    testing::SseClient::Frame frame;
    for (int i = 0; i < 100 && client.Next(frame); ++i) {
      seen.push_back(frame.id);
      last = frame.id;
      CHECK(frame.data.find("\"tenant\":\"acme\"") != std::string::npos);
    }
  }
  for (auto& w : writers) w.join();
  // Catch up to the end after the writers stopped.
  testing::SseClient client(f.port, "/v1/events/stream", f.tokens["acme/auditor"],
                            std::to_string(last));
  testing::SseClient::Frame frame;
  while (client.Next(frame, 1500)) seen.push_back(frame.id);

  std::vector<uint64_t> expected;
  auto all = Json(f.Call("acme/auditor", "GET", "/v1/events?from=1&limit=1000"));
  for (const auto& e : all.at("events").as_array())
    expected.push_back(e.at("position").to_number<uint64_t>());
  CHECK(seen == expected);
  CHECK(written == 450);
}

TEST_CASE("AStreamFollowsLiveCommitsAndFiltersByType") {
  ServerFixture f;
  CreateCustomerAndContacts(f);
  testing::SseClient client(f.port, "/v1/events/stream?types=ContactDeleted",
                            f.tokens["acme/service"]);
  REQUIRE(client.status() == 200);
  CHECK(f.Call("acme/owner", "PATCH", "/v1/contacts/k1", R"({"title":"Dr"})").status == 200);
  CHECK(f.Call("acme/owner", "DELETE", "/v1/contacts/k1").status == 204);
  testing::SseClient::Frame frame;
  REQUIRE(client.Next(frame));
  CHECK(frame.event == "ContactDeleted");
  CHECK(frame.id == f.Head());
  testing::SseClient refused(f.port, "/v1/events/stream?types=Nope", f.tokens["acme/service"]);
  CHECK(refused.status() == 422);
}

TEST_CASE("ASlowOrHalfOpenClientIsDroppedAfterTheReadTimeout") {
  ServerFixture f(/*read_timeout_s=*/1);
  namespace net = boost::asio;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), f.port});
  net::write(socket, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  char byte;
  boost::system::error_code ec;
  socket.read_some(net::buffer(&byte, 1), ec);
  CHECK(ec == net::error::eof);  // closed by the server, no answer to half a request
  CHECK(f.Call("", "GET", "/healthz").status == 200);
}

// 10,000 events of about 1 KiB: more than a subscriber's socket buffers take.
void AppendBulk(ServerFixture& f) {
  ContactFields filler;
  filler.first_name = std::string(900, 'f');
  for (int c = 0; c < 10; ++c) {
    Commit commit;
    commit.tenant = "acme";
    commit.actor = {"bulk", "owner"};
    for (int i = 0; i < 1000; ++i) {
      commit.events.push_back(
          {"contact-bulk" + std::to_string(i), ContactEdited{"bulk" + std::to_string(i), filler}});
    }
    REQUIRE(RawLedgerOf(*f.engine).Append(commit).ok());
  }
}

// A subscriber to the whole stream that never reads: the server's write to it soon waits.
boost::asio::ip::tcp::socket StalledSubscriber(ServerFixture& f, boost::asio::io_context& ioc) {
  namespace net = boost::asio;
  net::ip::tcp::socket stalled(ioc);
  stalled.open(net::ip::tcp::v4());
  stalled.set_option(net::socket_base::receive_buffer_size(4096));
  stalled.connect({net::ip::make_address("127.0.0.1"), f.port});
  net::write(stalled, net::buffer("GET /v1/events/stream?from=1 HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer " +
                                  f.tokens["acme/auditor"] + "\r\n\r\n"));
  return stalled;
}

int Subscribers(ServerFixture& f) {
  const std::string metrics = f.Call("ops", "GET", "/metrics").body;
  const size_t at = metrics.find("\ncledger_stream_subscribers ");
  return std::stoi(metrics.substr(at + 28));
}

// Subscribers keep no queue on the server; one that stops reading is cut off once a write
// has made no progress for the read timeout, and may resume later with Last-Event-ID.
TEST_CASE("ASubscriberThatStopsReadingIsCutOffAndTheServerCarriesOn") {
  ServerFixture f(/*read_timeout_s=*/1);
  AppendBulk(f);
  boost::asio::io_context ioc;
  auto stalled = StalledSubscriber(f, ioc);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(Subscribers(f) == 1);
  for (int i = 0; i < 50 && Subscribers(f) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(Subscribers(f) == 0);
  CHECK(f.Call("acme/owner", "GET", "/v1/events?from=1&limit=1").status == 200);
}

// Stopping does not wait for a stream's reader: a write waiting on one that stopped reading
// ends at once (the read timeout here is a minute).
TEST_CASE("AStoppingServerEndsAStreamWhoseReaderStoppedReadingAtOnce") {
  ServerFixture f(/*read_timeout_s=*/60);
  AppendBulk(f);
  boost::asio::io_context ioc;
  auto stalled = StalledSubscriber(f, ioc);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(Subscribers(f) == 1);
  const auto stopping = std::chrono::steady_clock::now();
  f.server->Stop();
  f.runner.join();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::seconds(30));
}

TEST_CASE("OverTheConnectionLimitANewClientGetsA503AndTheOthersCarryOn") {
  ServerFixture f(/*read_timeout_s=*/5, /*connections_max=*/2);
  namespace net = boost::asio;
  net::io_context ioc;
  std::vector<net::ip::tcp::socket> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(ioc).connect({net::ip::make_address("127.0.0.1"), f.port});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Reply refused = f.Call("", "GET", "/healthz");
  CHECK(refused.status == 503);
  CHECK(Code(refused) == "too_many_connections");
  CHECK(refused.Header("retry-after") == "1");
  held.clear();  // the held connections close; room again
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(f.Call("", "GET", "/healthz").status == 200);
}

// Connections that arrive together are counted as they are accepted: a burst does not get
// past the limit before any of them has begun.
TEST_CASE("ABurstOfConnectionsGetsNoMoreSessionsThanTheLimit") {
  ServerFixture f(/*read_timeout_s=*/5, /*connections_max=*/2);
  namespace net = boost::asio;
  net::io_context ioc;
  std::vector<net::ip::tcp::socket> burst;
  for (int i = 0; i < 24; ++i) {
    burst.emplace_back(ioc).connect({net::ip::make_address("127.0.0.1"), f.port});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int served = 0;
  int refused = 0;
  for (net::ip::tcp::socket& socket : burst) {
    boost::system::error_code ec;
    net::write(socket, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
    std::string answer;
    net::read_until(socket, net::dynamic_buffer(answer), "\r\n", ec);
    served += answer.starts_with("HTTP/1.1 200");
    refused += answer.starts_with("HTTP/1.1 503");
  }
  CHECK(served == 2);
  CHECK(refused == 22);
}

TEST_CASE("TheAccessLogNamesEachRequestButNoSecret") {
  testing::LogCapture captured;
  {
    ServerFixture f;
    CreateCustomerAndContacts(f);
    f.Call("acme/owner", "POST", "/v1/contacts/k1/password-reset",
           R"({"password":"Sup3r-Secret-Passw0rd"})");
    const std::string log = captured.Text();
    CHECK(log.find("method=POST path=/v1/customers/{id}/contacts status=201") != std::string::npos);
    for (const auto& [name, token] : f.tokens) CHECK(log.find(token) == std::string::npos);
    CHECK(log.find("Sup3r-Secret") == std::string::npos);
  }
}

// Mistakes are answered with what would have been right, and an unknown record is 404
// everywhere, its history included.
TEST_CASE("UnknownNamesAreAnsweredWithTheValidOnesAndAnUnknownRecordsHistoryIs404") {
  ServerFixture f;
  Reply types = f.Call("acme/auditor", "GET", "/v1/events/stream?types=ContactMoved");
  CHECK(types.status == 422);
  CHECK(types.body.find("ContactCreated") != std::string::npos);
  Reply rebuild = f.Call("ops", "POST", "/v1/admin/projections/nosuch/rebuild");
  CHECK(rebuild.status == 404);
  CHECK(rebuild.body.find("the projections are") != std::string::npos);
  CHECK(rebuild.body.find("contacts") != std::string::npos);
  CHECK(Code(f.Call("acme/auditor", "GET", "/v1/contacts/nosuch/history")) == "contact_not_found");
  CHECK(Code(f.Call("acme/auditor", "GET", "/v1/customers/nosuch/history")) ==
        "customer_not_found");
  REQUIRE(
      f.Call("acme/owner", "POST", "/v1/customers", R"({"id":"c1","name":"A","email":"a@a.test"})")
          .status == 201);
  CHECK(f.Call("acme/auditor", "GET", "/v1/customers/c1/history").status == 200);
  CHECK(Code(f.Call("globex/owner", "GET", "/v1/customers/c1/history")) ==
        "customer_not_found");  // another tenant's record is unknown, not empty
}

}  // namespace
}  // namespace cledger
