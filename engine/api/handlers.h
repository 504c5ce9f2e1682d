// The routes' logic, free of sockets: an HTTP request in, an HTTP response out. The server
// does the I/O; tests and the stream session call these directly too.
//
// Thread-safety: Serve and Handle may be called from many threads at once (they block on the
// engine).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cledger/engine.h"

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
  // A cluster node that forwarded this append (docs/CLUSTER.md): never forwarded again.
  std::string forwarded_by;
};

// X-Request-ID becomes the events' correlation_id and an access-log field, so only 1-64 of
// [A-Za-z0-9._:-] are kept; any other value is replaced by "req-<run>-<number>", <run> random
// at each start so ids never repeat across restarts (not refused: it
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
  Engine* engine = nullptr;  // whose ledger the stream follows
  // An ops stream across a cluster node's partitions (docs/CLUSTER.md): each event's id is the
  // cursor "partition:position,…" of the last position read in every partition, `cursor`
  // where this stream starts. Empty: one ledger, `engine`, from `from`.
  std::vector<Engine*> partitions;
  std::vector<uint64_t> cursor;
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
  static constexpr int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 409,
                                      412, 413, 422, 431, 500, 503, 507};
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

// A command a route has made of a request and not run yet: the server hands it to the writer
// and answers with `respond` of its outcome, with no thread waiting meanwhile — unless it
// `hashes` a password, which it then runs off the I/O threads.
struct PendingCommand {
  Engine* engine;
  CommandContext context;
  Command command;
  bool hashes = false;
  std::function<HttpResponse(const Result<CommandOutcome>&)> respond;
};

// What a route answers: a response, a command to run, or (the stream route) a plan to follow
// the ledger with.
using Answer = std::variant<HttpResponse, StreamPlan, PendingCommand>;

struct Verification {
  VerifyReport chain;
  std::vector<ProjectionMismatch> mismatches;
  std::string projections_unchecked;  // why the fresh folds could not be compared, when not
  std::string finished_at;            // RFC 3339: a reused result says how old it is
};

// A full verification reads the whole ledger: one runs at a time, every caller meanwhile
// shares it, and a finished one answers for a few seconds. So a full scan happens at most
// once per window, however many callers ask.
//
// Thread-safety: Get may be called from many threads at once.
class SharedVerification {
 public:
  Verification Get(Engine& engine);

 private:
  std::mutex mu_;
  std::shared_future<Verification> verification_;
  std::chrono::steady_clock::time_point verified_at_;
};

struct Route;  // routes.h

// Which engine serves a request: a single node's one engine or, on a cluster node, the engine
// of the partition the request's tenant lives in (docs/CLUSTER.md) — or another node, when the
// request appends to a partition this node does not own.
//
// Thread-safety: every method may be called from many threads at once.
class EngineRouter {
 public:
  virtual ~EngineRouter() = default;
  // Every engine; the first serves the routes that name no tenant.
  virtual std::vector<Engine*> Engines() = 0;
  virtual Result<Principal> Authenticate(const std::string& token) = 0;
  // The engine that serves `request` for `who` (already authorised), or the answer when it is
  // served elsewhere.
  virtual std::variant<Engine*, HttpResponse> Choose(const Principal& who, const Route& route,
                                                     const HttpRequest& request) = 0;
  // Whether Choose reads the query parameter `name` (any route takes it then).
  virtual bool RoutesBy(std::string_view /*name*/) const { return false; }
  // Whether Choose may wait or call another server for `route`: serving it then runs off the
  // I/O threads.
  virtual bool MayBlock(const Route& /*route*/) const { return false; }
};

// One engine serves everything.
class SingleEngine final : public EngineRouter {
 public:
  explicit SingleEngine(Engine& engine) : engine_(engine) {}
  std::vector<Engine*> Engines() override { return {&engine_}; }
  Result<Principal> Authenticate(const std::string& token) override {
    return engine_.Authenticate(token);
  }
  std::variant<Engine*, HttpResponse> Choose(const Principal&, const Route&,
                                             const HttpRequest&) override {
    return &engine_;
  }

 private:
  Engine& engine_;
};

class Handlers {
 public:
  Handlers(EngineRouter& router, HttpMetrics& metrics);
  Handlers(Engine& engine, HttpMetrics& metrics);

  // The route a request names, with its path's {parameters}; with no route, the 400, 404 or
  // 405 problem that says why. Reads nothing but the request, so the server asks it on the
  // I/O thread to learn where the route runs.
  struct Match {
    const Route* route = nullptr;
    std::vector<std::string> params;
    HttpResponse problem;
  };
  static Match Find(const HttpRequest& request);
  // Whether serving `request` on `route` may wait (a cluster read asking for ?min_position= or
  // ?at=, a command a cluster node forwards to its partition's owner): it then runs off the
  // I/O threads whatever its route.
  bool MayWait(const Route& route, const HttpRequest& request) const;

  // What to do with a request: answer it, or follow the ledger with a plan. `route` is the
  // matched route's template, "-" when none matched: the access log names it rather than the
  // path, which may carry a secret.
  struct Served {
    std::string_view route;
    Answer answer;
  };
  // Authenticates the token and checks that its role may do the route's action, then runs
  // the route's handler: nothing else is read or computed for a caller who may not.
  Served Serve(const HttpRequest& request, Match match);
  Served Serve(const HttpRequest& request) { return Serve(request, Find(request)); }
  // Serve, for callers that only answer: a command runs on this thread, waiting for it; a
  // stream plan is a 200 with no body.
  HttpResponse Handle(const HttpRequest& request);
  // Whether the stream's token is still valid (one key lookup): unauthenticated once it is
  // revoked, or the storage's failure.
  Status Reauthenticate(const StreamPlan& plan);
  // One SSE frame for an event.
  static std::string SseFrame(const Event& event);
  // One frame of a stream across partitions: its id the cursor, its data saying the partition.
  static std::string SseFrame(const Event& event, const std::string& id, size_t partition);
  // The id of a stream across partitions: "0:12,1:57" (the last position read in each).
  static std::string CursorId(const std::vector<uint64_t>& next);

 private:
  Result<Principal> Authenticate(std::string_view authorization);

  std::unique_ptr<SingleEngine> single_;  // the router when given one engine
  EngineRouter& router_;
  HttpMetrics& metrics_;
  // One per engine: a full verification reads one partition's ledger.
  std::map<Engine*, std::unique_ptr<SharedVerification>> verifications_;
  std::vector<Engine*> partitions_;  // a cluster node's, when more than one
};

}  // namespace cledger::api
