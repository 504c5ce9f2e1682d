// The routes' logic, free of sockets: an HTTP request in, an HTTP response out. The server
// does the I/O; tests and the stream session call these directly too.
//
// Thread-safety: Handle may be called from many threads at once (it blocks on the engine).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cledger/engine.h"
#include "engine/api/routes.h"

namespace cledger::api {

struct HttpRequest {
  std::string method;
  std::string target;  // origin-form: path and query
  std::string body;
  std::string authorization;
  std::string if_match;
  std::string idempotency_key;
  std::string accept;
  std::string last_event_id;
  std::string request_id;  // see RequestIdOf
};

// X-Request-ID becomes the events' correlation_id and an access-log field, so only 1-64 of
// [A-Za-z0-9._:-] are kept; any other value is replaced by "req-<number>" (not refused: it
// is the client's label, not its request).
std::string RequestIdOf(std::string_view header, uint64_t number);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What a stream subscriber asked for, once authenticated and validated.
struct StreamPlan {
  Principal who;
  std::string token;  // to see, while the stream lasts, whether it has been revoked
  uint64_t from = 1;
  std::set<std::string> types;  // empty: every type
  std::string stream;
  std::string customer;
  // Whether `event` is for this subscriber: its tenant (ops: all) and its filters.
  bool Wants(const Event& event) const;
};

// Counters the server exposes on /metrics.
struct HttpMetrics {
  static constexpr int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 409, 412, 413,
                                      422, 431, 500, 503};
  std::atomic<uint64_t> responses[std::size(kStatuses) + 1] = {};  // the last: any other
  std::atomic<uint64_t> subscribers{0};
  std::atomic<uint64_t> connections{0};
  void Count(int status);
};

// A problem+json response (RFC 9457) for a failure; its body is valid UTF-8 JSON whatever
// the message echoes, and says the status the response carries.
HttpResponse Problem(const Status& status);
HttpResponse Problem(const Status& status, int http_status);
int HttpStatusOf(const Status& status);

class Handlers {
 public:
  Handlers(Engine& engine, HttpMetrics& metrics) : engine_(engine), metrics_(metrics) {}

  // What to do with a request: answer it, or (the stream route) follow the ledger with a
  // plan. `route` is the matched route's template, "-" when none matched: the access log
  // names it rather than the path, which may carry a secret.
  struct Served {
    std::string_view route;
    std::variant<HttpResponse, StreamPlan> answer;
  };
  Served Serve(const HttpRequest& request);
  // Serve, for callers that only answer: a stream plan is a 200 with no body.
  HttpResponse Handle(const HttpRequest& request);
  // Whether the stream's token is still valid (one key lookup): unauthenticated once it is
  // revoked, or the storage's failure.
  Status Reauthenticate(const StreamPlan& plan);
  // One SSE frame for an event.
  static std::string SseFrame(const Event& event);

 private:
  struct Call;
  // Finds the route; nullopt with a 404/405 problem in `error` when none matches.
  std::optional<RouteId> Match(const HttpRequest& request, std::vector<std::string>& params,
                               HttpResponse& error) const;
  Result<Principal> Authenticate(std::string_view authorization);
  Result<StreamPlan> PlanStream(Call& call);
  HttpResponse Dispatch(RouteId route, Call& call);
  HttpResponse Command(Call& call, cledger::Command command, int success_status);
  HttpResponse Ops(RouteId route);
  HttpResponse Events(Call& call);
  HttpResponse Verify(Call& call);
  struct Verification {
    VerifyReport chain;
    std::vector<ProjectionMismatch> mismatches;
    std::string finished_at;  // RFC 3339: a reused result says how old it is
  };
  Verification SharedVerification();
  HttpResponse Admin(RouteId route, Call& call);
  HttpResponse Metrics();
  HttpResponse Read(RouteId route, Call& call);

  Engine& engine_;
  HttpMetrics& metrics_;
  // A full verification reads the whole ledger: one runs at a time, every caller meanwhile
  // shares it, and a finished one answers for kVerifyReuse (see SharedVerification).
  std::mutex verify_mu_;
  std::shared_future<Verification> verification_;
  std::chrono::steady_clock::time_point verified_at_;
};

}  // namespace cledger::api
