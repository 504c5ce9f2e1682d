// The routes' logic, free of sockets: an HTTP request in, an HTTP response out. The server
// does the I/O; tests and the stream session call these directly too.
//
// Thread-safety: Handle may be called from many threads at once (it blocks on the engine).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
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
  std::string request_id;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What a stream subscriber asked for, once authenticated and validated.
struct StreamPlan {
  Principal who;
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
                                      422, 431, 500, 503, 507};
  std::atomic<uint64_t> responses[std::size(kStatuses) + 1] = {};  // the last: any other
  std::atomic<uint64_t> subscribers{0};
  std::atomic<uint64_t> connections{0};
  void Count(int status);
};

// A problem+json response (RFC 9457) for a failure.
HttpResponse Problem(const Status& status);
int HttpStatusOf(const Status& status);

class Handlers {
 public:
  Handlers(Engine& engine, HttpMetrics& metrics) : engine_(engine), metrics_(metrics) {}

  // Finds the route; nullopt with a 404/405 problem in `error` when none matches.
  std::optional<RouteId> Match(const HttpRequest& request, std::vector<std::string>& params,
                               HttpResponse& error) const;
  HttpResponse Handle(const HttpRequest& request);
  // Authenticates and validates a stream request.
  Result<StreamPlan> PlanStream(const HttpRequest& request);
  // One SSE frame for an event.
  static std::string SseFrame(const Event& event);

 private:
  struct Call;
  HttpResponse Dispatch(RouteId route, Call& call);
  HttpResponse Command(Call& call, cledger::Command command, int success_status);
  HttpResponse Ops(RouteId route);
  HttpResponse Events(Call& call);
  HttpResponse Verify(Call& call);
  HttpResponse Admin(RouteId route, Call& call);
  HttpResponse Metrics();
  HttpResponse Read(RouteId route, Call& call);

  Engine& engine_;
  HttpMetrics& metrics_;
};

}  // namespace cledger::api
