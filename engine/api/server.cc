#include "engine/api/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/experimental/as_tuple.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "engine/api/handlers.h"
#include "engine/api/routes.h"
#include "engine/api/tls.h"

namespace cledger::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
constexpr auto kNoThrow = net::experimental::as_tuple(use_awaitable);
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// How long a closing connection may take to say goodbye (TLS close_notify, draining).
constexpr auto kCloseTimeout = std::chrono::seconds(2);
// How long the accept loop waits after an accept failed (no descriptor left) before it tries
// again.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

// The last frame of a stream that ends on a failure, with its reason.
constexpr std::string_view kTokenRevokedFrame =
    "event: error\ndata: {\"code\":\"token_revoked\"}\n\n";
constexpr std::string_view kTokenExpiredFrame =
    "event: error\ndata: {\"code\":\"token_expired\"}\n\n";
constexpr std::string_view kStorageErrorFrame =
    "event: error\ndata: {\"code\":\"storage_error\"}\n\n";

// Threads that run blocking engine calls (a command waits for its group commit): enough for
// many commits to share one sync.
constexpr int kBlockingThreads = 64;

std::string Header(const http::request<http::string_body>& req, http::field field) {
  auto it = req.find(field);
  return it == req.end() ? std::string() : std::string(it->value());
}
std::string Header(const http::request<http::string_body>& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
}

HttpRequest ToHttpRequest(const http::request<http::string_body>& req, uint64_t number) {
  HttpRequest out;
  out.method = std::string(req.method_string());
  out.target = std::string(req.target());
  out.body = req.body();
  out.authorization = Header(req, http::field::authorization);
  out.if_match = Header(req, http::field::if_match);
  out.idempotency_key = Header(req, "Idempotency-Key");
  out.accept = Header(req, http::field::accept);
  out.last_event_id = Header(req, "Last-Event-ID");
  out.request_id = RequestIdOf(Header(req, "X-Request-ID"), number);
  out.forwarded_by = Header(req, "X-Cledger-Forwarded-By");
  return out;
}

http::response<http::string_body> ToBeast(const HttpResponse& response, unsigned version,
                                          bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(response.status), version};
  res.set(http::field::server, "cledger");
  if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
  // Answers carry personal data, tokens and temporary passwords: no cache keeps them. The
  // console's files say otherwise for themselves.
  res.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : response.headers) res.set(name, value);
  res.body() = response.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

// Headers the request cannot be served with. One that names who is asking or what to
// change must come once: with two, a proxy in front may have judged by the other one.
std::optional<HttpResponse> MalformedHeaders(const http::request<http::string_body>& req,
                                             std::ptrdiff_t header_fields) {
  if (std::distance(req.begin(), req.end()) != header_fields) {
    return Problem(Status(Code::kInvalidArgument, "bad_request",
                          "trailer fields are not accepted: send every field in the header"));
  }
  if (req.version() == 11 && req.find(http::field::host) == req.end()) {  // RFC 9112 §3.2
    return Problem(
        Status(Code::kInvalidArgument, "bad_request", "an HTTP/1.1 request needs a Host header"));
  }
  for (const std::string_view name : {"Authorization", "If-Match", "Idempotency-Key",
                                      "X-Cledger-Forwarded-By", "Last-Event-ID"}) {
    if (req.count(name) > 1) {
      return Problem(Status(Code::kInvalidArgument, "bad_request",
                            "the " + std::string(name) + " header is given more than once"));
    }
  }
  return std::nullopt;
}

// A parse failure the client caused, as a problem.
HttpResponse ReadFailure(const beast::error_code& ec) {
  if (ec == http::error::body_limit) {
    return Problem(Status(Code::kLimitExceeded, "payload_too_large", "the body exceeds 1 MiB"));
  }
  if (ec == http::error::header_limit) {
    return Problem(
        Status(Code::kLimitExceeded, "headers_too_large", "the request headers exceed 16 KiB"),
        431);
  }
  return Problem(
      Status(Code::kInvalidArgument, "bad_request", "the request is not valid HTTP/1.1"));
}

}  // namespace

// Wakes every waiting stream subscriber when the ledger's head moves. Subscribers keep no
// queue: each reads the log from its own position, so a slow one costs no memory here.
//
// A waiter is used on its stream's executor only, whose io_context one thread runs: the
// posts below never run beside the stream's own coroutine.
class Hub {
 public:
  struct Waiter {
    Waiter(net::any_io_executor executor, beast::tcp_stream* transport)
        : timer(executor), transport(transport) {}
    net::steady_timer timer;
    beast::tcp_stream* transport;  // null once the stream has ended
  };
  std::shared_ptr<Waiter> Subscribe(net::any_io_executor executor, beast::tcp_stream& transport) {
    auto waiter = std::make_shared<Waiter>(executor, &transport);
    std::lock_guard lock(mu_);
    waiters_.insert(waiter);
    return waiter;
  }
  void Unsubscribe(const std::shared_ptr<Waiter>& waiter) {
    waiter->transport = nullptr;  // a cut posted before this finds nothing to cut
    std::lock_guard lock(mu_);
    waiters_.erase(waiter);
  }
  void WakeAll() {
    Post([](Waiter& waiter) { waiter.timer.cancel(); });
  }
  // Ends every stream now, even one whose write is waiting for a reader that stopped reading:
  // the server is stopping, and a subscriber resumes with Last-Event-ID.
  void CutAll() {
    Post([](Waiter& waiter) {
      waiter.timer.cancel();
      if (waiter.transport != nullptr) waiter.transport->cancel();
    });
  }

 private:
  template <typename Work>
  void Post(Work work) {
    std::lock_guard lock(mu_);
    for (const auto& waiter : waiters_) {
      net::post(waiter->timer.get_executor(), [waiter, work] { work(*waiter); });
    }
  }

  std::mutex mu_;
  std::set<std::shared_ptr<Waiter>> waiters_;
};

// The SSE frames of recent events, shared by every subscriber: an event is turned into JSON
// once, not once per subscriber. Bounded in bytes (a frame may be 64 KiB or more); an old
// position is simply rendered again. A frame is kept with whether the event's personal fields
// were open: once an erasure has blanked them, the frame that showed them is never served.
class FrameCache {
 public:
  // `ledger` tells apart the partitions of a cluster node, whose positions repeat.
  std::shared_ptr<const std::string> Get(const Engine* ledger, const Event& event) {
    const Key key{ledger, event.position, event.personal};
    {
      std::lock_guard lock(mu_);
      if (auto it = frames_.find(key); it != frames_.end()) return it->second;
    }
    auto frame = std::make_shared<const std::string>(Handlers::SseFrame(event));
    std::lock_guard lock(mu_);
    if (frames_.emplace(key, frame).second) {
      order_.push_back(key);
      bytes_ += frame->size();
    }
    while (bytes_ > kBytesMax) {
      bytes_ -= frames_.at(order_.front())->size();
      frames_.erase(order_.front());
      order_.pop_front();
    }
    return frame;
  }

 private:
  static constexpr size_t kBytesMax = 8 * 1024 * 1024;
  std::mutex mu_;
  size_t bytes_ = 0;
  using Key = std::tuple<const Engine*, uint64_t, Personal>;
  std::map<Key, std::shared_ptr<const std::string>> frames_;
  std::deque<Key> order_;
};

class Server::Impl {
 public:
  Impl(EngineRouter& router, ServerOptions options)
      : router_(router),
        options_(std::move(options)),
        handlers_(router, metrics_),
        contexts_(MakeContexts(options_.threads)),
        accept_strand_(net::make_strand(*contexts_.front())),
        acceptor_(accept_strand_),
        signals_(*contexts_.front()),
        blocking_(kBlockingThreads) {
    // The others have nothing to do until a connection comes: they wait for one.
    for (size_t i = 1; i < contexts_.size(); ++i) {
      waiting_.push_back(net::make_work_guard(*contexts_[i]));
    }
  }

  ~Impl() {
    for (Engine* engine : router_.Engines()) engine->ledger().SetCommitListener({});
    blocking_.join();
  }

  Status Start() {
    if (options_.tls()) {
      auto context = MakeTlsContext(options_);
      if (!context.ok()) return context.status();
      tls_ = std::move(context).value();
    }
    beast::error_code ec;
    auto address = net::ip::make_address(options_.host, ec);
    if (ec)
      return Status(Code::kInvalidArgument, "invalid_listen", "bad address: " + options_.host);
    tcp::endpoint endpoint(address, options_.port);
    if (acceptor_.open(endpoint.protocol(), ec); ec) return Failed("open", ec);
    acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (acceptor_.bind(endpoint, ec); ec) return Failed("bind", ec);
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec); ec) {
      return Failed("listen", ec);
    }
    for (Engine* engine : router_.Engines()) {
      engine->ledger().SetCommitListener([this](uint64_t) { hub_.WakeAll(); });
    }
    net::co_spawn(accept_strand_, Accept(), net::detached);
    if (options_.handle_signals) {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.async_wait([this](const beast::error_code& ec, int) {
        if (!ec) Stop();
      });
    }
    return Status::Ok();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Run() {
    std::vector<std::thread> threads;
    for (size_t i = 1; i < contexts_.size(); ++i) {
      threads.emplace_back([this, i] { contexts_[i]->run(); });
    }
    contexts_.front()->run();
    for (auto& t : threads) t.join();
  }

  // Stops accepting, wakes streams so they end, and lets requests in flight finish.
  void Stop() {
    net::post(*contexts_.front(), [this] {
      stopping_ = true;
      beast::error_code ignored;
      // On the accept loop's strand: closing beside a starting accept is a data race.
      net::post(accept_strand_, [this] {
        beast::error_code closed;
        acceptor_.close(closed);
      });
      signals_.cancel(ignored);
      hub_.CutAll();
      std::lock_guard lock(idle_mu_);
      for (auto* stream : idle_) {
        // On the stream's own thread, and only if it is still idle (so still alive).
        net::post(stream->get_executor(), [this, stream] {
          std::lock_guard again(idle_mu_);
          if (idle_.contains(stream)) stream->cancel();
        });
      }
    });
  }

 private:
  // One io_context per I/O thread, run by that thread alone: a connection's handlers never
  // change threads, so the threads share no scheduler lock and wake each other for nothing.
  static std::vector<std::unique_ptr<net::io_context>> MakeContexts(int threads) {
    std::vector<std::unique_ptr<net::io_context>> contexts;
    for (int i = 0; i < std::max(threads, 1); ++i) {
      contexts.push_back(std::make_unique<net::io_context>(1));
    }
    return contexts;
  }

  // The context the next connection runs on: each in turn. Accept loop only.
  net::io_context::executor_type NextContext() {
    return contexts_[accepted_++ % contexts_.size()]->get_executor();
  }

  static Status Failed(const char* what, const beast::error_code& ec) {
    return Status(Code::kIoError, "listen_failed", std::string(what) + ": " + ec.message());
  }

  awaitable<void> Accept() {
    net::steady_timer pause(co_await net::this_coro::executor);
    for (bool failing = false; !stopping_;) {
      auto [ec, socket] = co_await acceptor_.async_accept(NextContext(), kNoThrow);
      if (ec == net::error::connection_aborted) continue;  // its client went first
      if (ec) {
        if (stopping_) break;
        // Out of descriptors, most often: the connection stays queued and the next accept
        // would fail at once, a core spinning, until one is closed.
        if (!failing) {
          spdlog::warn("accepting connections failed: {}; trying again every {} ms", ec.message(),
                       kAcceptRetry.count());
        }
        failing = true;
        pause.expires_after(kAcceptRetry);
        co_await pause.async_wait(kNoThrow);
        continue;
      }
      if (failing) spdlog::info("accepting connections again");
      failing = false;
      auto executor = socket.get_executor();
      // Counted here, not once the connection runs: a burst accepted before any of them ran
      // would pass the limit.
      const bool over_limit = metrics_.connections.load() >= options_.connections_max;
      if (!over_limit) ++metrics_.connections;
      net::co_spawn(executor, Connection(std::move(socket), over_limit), net::detached);
    }
    // No connection comes after this: each context's thread ends once its own have. Not
    // before: a connection accepted as the server stopped would go to a context no thread
    // runs any more, and its client would wait for an answer for ever.
    waiting_.clear();
  }

  // One connection, plain or TLS: both run the very same Session (or Refuse) on their stream.
  awaitable<void> Connection(tcp::socket socket, bool over_limit) {
    if (!tls_) {
      beast::tcp_stream stream(std::move(socket));
      co_await Converse(stream, over_limit);
    } else {
      TlsStream stream(std::move(socket), *tls_);
      if (co_await Handshake(stream)) co_await Converse(stream, over_limit);
    }
    if (!over_limit) --metrics_.connections;
  }

  // Spelled out with `if`: GCC 12 crashes on `co_await (c ? A() : B())` of two coroutines.
  template <typename AsyncStream>
  awaitable<void> Converse(AsyncStream& stream, bool over_limit) {
    if (over_limit) {
      co_await Refuse(stream);
    } else {
      co_await Session(stream);
    }
  }

  // Within read_timeout_s, like a request: a client that connects and says nothing, or
  // speaks something else (plain HTTP), is closed without an answer.
  awaitable<bool> Handshake(TlsStream& stream) {
    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    transport.expires_after(std::chrono::seconds(options_.read_timeout_s));
    // Nothing to finish yet: Stop may cut it short, or (stopping already) not begin it.
    if (!MarkIdle(&transport, true)) co_return false;
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, kNoThrow);
    MarkIdle(&transport, false);
    if (ec) {
      spdlog::debug("tls handshake failed: {}", ec.message());
      beast::error_code ignored;
      transport.socket().shutdown(tcp::socket::shutdown_both, ignored);
    }
    co_return !ec;
  }

  // Over the connection limit: a 503 problem without reading the request, then close.
  template <typename AsyncStream>
  awaitable<void> Refuse(AsyncStream& stream) {
    metrics_.Count(503);
    HttpResponse problem = Problem(Status(Code::kUnavailable, "too_many_connections",
                                          "the server is at its connection limit; retry later"));
    auto res = ToBeast(problem, 11, false);
    beast::get_lowest_layer(stream).expires_after(kCloseTimeout);
    co_await http::async_write(stream, res, kNoThrow);
    co_await Drain(stream);
  }

  template <typename AsyncStream>
  awaitable<void> Session(AsyncStream& stream) {
    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    beast::flat_buffer buffer;
    for (bool open = true; open && !stopping_;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options_.header_bytes_max));
      parser.body_limit(options_.body_bytes_max);
      transport.expires_after(std::chrono::seconds(options_.read_timeout_s));
      if (!MarkIdle(&transport, true)) break;
      auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      MarkIdle(&transport, false);
      // Counted before the body: a chunked body's trailer fields join the header's, and a
      // proxy in front judged the request by the header alone.
      const auto header_fields = std::distance(parser.get().begin(), parser.get().end());
      if (!ec) std::tie(ec, bytes) = co_await http::async_read(stream, buffer, parser, kNoThrow);
      if (ClosedByPeerOrClock(ec)) break;
      if (ec) {  // malformed or oversized: answer, then close
        co_await Respond(stream, ReadFailure(ec), 11, false);
        co_await Drain(stream);
        co_return;
      }
      http::request<http::string_body> req = parser.release();
      if (auto refused = MalformedHeaders(req, header_fields)) {
        co_await Respond(stream, *refused, req.version(), false);
        break;
      }
      open = co_await Answer(stream, req);
    }
    co_await Close(stream);
  }

  // The ends of a conversation that are nobody's fault: no answer is owed.
  static bool ClosedByPeerOrClock(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == beast::error::timeout ||
           ec == net::error::operation_aborted || ec == net::error::connection_reset ||
           ec == net::ssl::error::stream_truncated;  // a TLS peer that left without goodbye
  }

  // Serves one request; whether the connection may carry another.
  template <typename AsyncStream>
  awaitable<bool> Answer(AsyncStream& stream, const http::request<http::string_body>& req) {
    const HttpRequest request = ToHttpRequest(req, ++requests_);
    const auto started = std::chrono::steady_clock::now();
    Handlers::Match match = Handlers::Find(request);
    std::optional<Handlers::Served> served;
    if (match.route != nullptr &&
        (match.route->runs == Runs::kOffIoThread || handlers_.MayWait(*match.route, request))) {
      served = co_await OffIoThread([&] { return handlers_.Serve(request, std::move(match)); });
    } else {
      served = handlers_.Serve(request, std::move(match));
    }
    if (auto* command = std::get_if<PendingCommand>(&served->answer)) {
      served->answer = co_await Run(*command);
    }
    if (auto* plan = std::get_if<StreamPlan>(&served->answer)) {
      co_await StreamEvents(stream, *plan, req.version(),
                            [&](int status) { Log(request, served->route, status, started); });
      co_return false;
    }
    const HttpResponse& response = std::get<HttpResponse>(served->answer);
    const bool open = req.keep_alive() && !stopping_;
    Log(request, served->route, response.status, started);
    co_await Respond(stream, response, req.version(), open);
    co_return open;
  }

  // No more bytes go out; a TLS peer first gets its close_notify, so it can tell the end of a
  // stream from a cut. Bounded: a peer that never answers the close_notify is not waited for.
  awaitable<void> Close(beast::tcp_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  awaitable<void> Close(TlsStream& stream) {
    beast::get_lowest_layer(stream).expires_after(kCloseTimeout);
    co_await stream.async_shutdown(kNoThrow);
    co_await Close(beast::get_lowest_layer(stream));
  }

  // A command: handed to the writer, with this coroutine (not a thread) waiting for it. One
  // that hashes a password blocks a thread for as long: it runs off the I/O threads.
  awaitable<HttpResponse> Run(PendingCommand& command) {
    if (command.hashes) {
      co_return co_await OffIoThread([&] {
        return command.respond(command.engine->Execute(command.context, command.command));
      });
    }
    Engine::FinishOutcome finish =
        co_await Committed(*command.engine, std::move(command.context), std::move(command.command));
    co_return command.respond(finish());
  }

  // Resumes the calling coroutine, on its own executor, once the writer has answered the
  // command, with how to finish its outcome. co_spawn keeps the I/O threads running while the
  // coroutine waits: Stop lets a command in flight be answered.
  static awaitable<Engine::FinishOutcome> Committed(Engine& engine, CommandContext context,
                                                    Command command) {
    return net::async_initiate<decltype(use_awaitable), void(Engine::FinishOutcome)>(
        [&engine](auto handler, CommandContext context, Command command) {
          const auto executor = net::get_associated_executor(handler);
          // Shared: the engine's callback is copyable, the coroutine's handler is not.
          auto resume = std::make_shared<decltype(handler)>(std::move(handler));
          engine.ExecuteThen(context, std::move(command),
                             [resume, executor](Engine::FinishOutcome finish) {
                               net::post(executor, [resume, finish = std::move(finish)] {
                                 auto handler = std::move(*resume);  // called once
                                 handler(finish);
                               });
                             });
        },
        use_awaitable, std::move(context), std::move(command));
  }

  // Runs `work`, which may block on the engine (a command waits for its group commit), on the
  // blocking pool, and resumes the calling coroutine on its own thread with the result.
  // I/O threads never block, and many commands can wait for one sync together.
  template <typename Work>
  auto OffIoThread(Work work) -> awaitable<decltype(work())> {
    using Value = decltype(work());
    // co_spawn wants a default-constructible result; the optional is always filled.
    std::optional<Value> result = co_await net::co_spawn(
        blocking_.get_executor(),
        [&work]() -> awaitable<std::optional<Value>> { co_return work(); }, use_awaitable);
    co_return std::move(*result);
  }

  // Closing a socket with unread bytes makes the kernel send a reset, which can destroy the
  // answer before the client reads it; so stop sending, then read and discard for a moment.
  // Under TLS the bytes are discarded still encrypted: reading them is all that matters.
  template <typename AsyncStream>
  awaitable<void> Drain(AsyncStream& stream) {
    beast::tcp_stream& transport = beast::get_lowest_layer(stream);
    beast::error_code ignored;
    transport.socket().shutdown(tcp::socket::shutdown_send, ignored);
    transport.expires_after(kCloseTimeout);
    static thread_local char scratch[64 * 1024];
    for (size_t total = 0; total < 32 * 1024 * 1024;) {
      auto [ec, n] = co_await transport.async_read_some(net::buffer(scratch), kNoThrow);
      if (ec) break;
      total += n;
    }
  }

  template <typename AsyncStream>
  awaitable<void> Respond(AsyncStream& stream, const HttpResponse& response, unsigned version,
                          bool keep_alive) {
    metrics_.Count(response.status);
    auto res = ToBeast(response, version, keep_alive);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.read_timeout_s));
    co_await http::async_write(stream, res, kNoThrow);
  }

  // Server-Sent Events: catch up from the requested position, then follow the head. The
  // same loop does both, so the hand-over has neither gap nor duplicate.
  template <typename AsyncStream, typename LogStatus>
  awaitable<void> StreamEvents(AsyncStream& stream, const StreamPlan& plan, unsigned version,
                               LogStatus log) {
    if (metrics_.subscribers.fetch_add(1) >= options_.subscribers_max) {
      --metrics_.subscribers;
      log(503);
      const Status full(Code::kUnavailable, "too_many_subscribers",
                        "the server is at its subscriber limit; retry later");
      co_await Respond(stream, Problem(full), version, false);
      co_return;
    }
    log(200);
    metrics_.Count(200);
    http::response<http::empty_body> head{http::status::ok, version};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-store");
    head.keep_alive(true);
    http::response_serializer<http::empty_body> serializer(head);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.read_timeout_s));
    if (auto [ec, n] = co_await http::async_write_header(stream, serializer, kNoThrow); !ec) {
      auto waiter = hub_.Subscribe(stream.get_executor(), beast::get_lowest_layer(stream));
      co_await Follow(stream, plan, *waiter);
      hub_.Unsubscribe(waiter);
    }
    --metrics_.subscribers;
  }

  // What a plan follows: one ledger, or every partition of a cluster node.
  static std::vector<Engine*> Sources(const StreamPlan& plan) {
    return plan.partitions.empty() ? std::vector<Engine*>{plan.engine} : plan.partitions;
  }

  // Frames after `next` (a position per source) that the plan wants, up to about
  // stream_chunk_bytes_max: what a subscriber holds while its write waits is bounded in bytes,
  // whatever its events weigh.
  Result<std::string> NextChunk(const StreamPlan& plan, std::vector<uint64_t>& next) {
    const std::vector<Engine*> sources = Sources(plan);
    std::string chunk;
    for (size_t k = 0; k < sources.size(); ++k) {
      while (chunk.size() < options_.stream_chunk_bytes_max) {
        auto events = sources[k]->ledger().Read(next[k], options_.stream_batch_max);
        if (!events.ok()) return events.status();
        for (const Event& e : *events) {
          if (chunk.size() >= options_.stream_chunk_bytes_max) break;
          next[k] = e.position + 1;
          if (!plan.Wants(e)) continue;
          chunk += plan.partitions.empty() ? *frames_.Get(plan.engine, e)
                                           : Handlers::SseFrame(e, Handlers::CursorId(next), k);
        }
        if (events->size() < options_.stream_batch_max) break;
      }
    }
    return chunk;
  }

  static bool Behind(const StreamPlan& plan, const std::vector<uint64_t>& next) {
    const std::vector<Engine*> sources = Sources(plan);
    for (size_t k = 0; k < sources.size(); ++k) {
      if (sources[k]->ledger().GetHead().position >= next[k]) return true;
    }
    return false;
  }

  // Writes `text` to a subscriber whose token is still valid, checked again first (from the
  // ledger's memory of tokens: one keyed hash); a revoked or expired token (or a failed check)
  // gets a last error frame instead. False when the stream is over.
  template <typename AsyncStream>
  awaitable<bool> Send(AsyncStream& stream, const StreamPlan& plan, std::string_view text) {
    const Status valid = handlers_.Reauthenticate(plan);
    if (!valid.ok()) {
      text = valid.reason() == "token_expired"        ? kTokenExpiredFrame
             : valid.code() == Code::kUnauthenticated ? kTokenRevokedFrame
                                                      : kStorageErrorFrame;
    }
    if (text.empty()) co_return true;
    // A subscriber that cannot take a chunk within the timeout is cut off; it resumes with
    // Last-Event-ID. Nothing queues up for it meanwhile.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(options_.read_timeout_s));
    auto [ec, n] = co_await net::async_write(stream, net::buffer(text), kNoThrow);
    co_return valid.ok() && !ec;
  }

  // Every wake-up checks the token, even with nothing to send: a revocation's own commit
  // wakes every subscriber, so a revoked token's stream ends at once.
  template <typename AsyncStream>
  awaitable<void> Follow(AsyncStream& stream, const StreamPlan& plan, Hub::Waiter& waiter) {
    std::vector<uint64_t> next =
        plan.partitions.empty() ? std::vector<uint64_t>{plan.from} : plan.cursor;
    while (!stopping_) {
      Result<std::string> chunk = NextChunk(plan, next);
      if (!chunk.ok()) {
        co_await Send(stream, plan, kStorageErrorFrame);
        co_return;
      }
      if (!co_await Send(stream, plan, *chunk)) co_return;
      if (Behind(plan, next)) continue;
      // Stop's wake-up may have come while this stream was writing: not waited for again.
      if (stopping_) co_return;
      waiter.timer.expires_after(std::chrono::seconds(options_.heartbeat_s));
      auto [ec] = co_await waiter.timer.async_wait(kNoThrow);
      // No event for a while: a comment keeps the connection warm.
      if (!ec && !co_await Send(stream, plan, ": heartbeat\n\n")) co_return;
    }
  }

  // False when the server is stopping: a connection that would wait for its next request
  // then closes instead. (Stop sets stopping_ before it cancels the idle ones, under the same
  // lock: a connection either is among them or sees stopping_ here.)
  bool MarkIdle(beast::tcp_stream* stream, bool idle) {
    std::lock_guard lock(idle_mu_);
    if (!idle) {
      idle_.erase(stream);
    } else if (!stopping_) {
      idle_.insert(stream);
    }
    return !stopping_;
  }

  // One access-log line per request: never a header value, body or token. The path is the
  // route's template ("-" when none matched): a raw path may hold a token sent by mistake.
  static void Log(const HttpRequest& request, std::string_view route, int status,
                  std::chrono::steady_clock::time_point started) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    // An unknown method is client text too (a token pasted there was logged): named, not quoted.
    const bool known = std::any_of(kRoutes.begin(), kRoutes.end(),
                                   [&](const Route& r) { return r.method == request.method; });
    spdlog::info("http method={} path={} status={} us={} request_id={}",
                 known ? std::string_view(request.method) : "other", route, status, micros,
                 request.request_id);
  }

  EngineRouter& router_;
  ServerOptions options_;
  HttpMetrics metrics_;
  Handlers handlers_;
  std::vector<std::unique_ptr<net::io_context>> contexts_;  // the first runs the accept loop
  std::vector<net::executor_work_guard<net::io_context::executor_type>> waiting_;
  size_t accepted_ = 0;
  net::strand<net::io_context::executor_type> accept_strand_;  // the accept loop runs on it
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::thread_pool blocking_;
  std::unique_ptr<net::ssl::context> tls_;  // null: plain HTTP
  Hub hub_;
  FrameCache frames_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> requests_{0};
  std::mutex idle_mu_;
  std::set<beast::tcp_stream*> idle_;
};

Server::Server(Engine& engine, ServerOptions options)
    : single_(std::make_unique<SingleEngine>(engine)),
      impl_(std::make_unique<Impl>(*single_, std::move(options))) {}
Server::Server(EngineRouter& router, ServerOptions options)
    : impl_(std::make_unique<Impl>(router, std::move(options))) {}
Server::~Server() = default;
Status Server::Start() { return impl_->Start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Run() { impl_->Run(); }
void Server::Stop() { impl_->Stop(); }

}  // namespace cledger::api
