#include "engine/cluster/node.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <chrono>
#include <filesystem>

#include "engine/api/routes.h"
#include "engine/cluster/schema.h"
#include "engine/domain/credentials.h"

namespace cledger::cluster {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

constexpr size_t kCatchUpBatch = 2000;
// An owner that has not answered a forwarded command by then is taken for silent (a lease is
// 3 s; a command that hashes a password under load takes well under a second).
constexpr int kForwardTimeoutSeconds = 10;

void Pause(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

api::HttpResponse Unavailable(const std::string& reason, const std::string& message) {
  return api::Problem(Status::Unavailable(reason, message));
}

// Routes whose handler appends to the log: they run on the partition's owner.
bool Appends(const api::Route& route) {
  if (route.method == "GET" || !route.action) return false;
  using domain::Action;
  return *route.action == Action::kManageRecords || *route.action == Action::kErasePersonalData ||
         route.path.starts_with("/v1/admin/tenants") || route.path.starts_with("/v1/admin/tokens");
}

std::optional<std::string> QueryParam(const std::string& target, std::string_view key) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  auto it = url->params().find(key);
  if (it == url->params().end()) return std::nullopt;
  return std::string((*it).value);
}

// A decimal number of at most 19 digits and nothing else; nullopt otherwise.
std::optional<uint64_t> Decimal(const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(text);
}

std::string BodyField(const std::string& body, std::string_view key) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* field = v.as_object().if_contains(key);
  return field && field->is_string() ? std::string(field->as_string()) : std::string();
}

}  // namespace

// Keep-alive connections to the owners, so a forwarded command costs no connection set-up:
// idle ones are kept as plain descriptors and given to the stream of the next forward.
class Node::Connections {
 public:
  struct Idle {
    int fd = -1;
    tcp protocol = tcp::v4();
  };
  ~Connections() {
    for (auto& [key, idle] : idle_) {
      for (const Idle& connection : idle) ::close(connection.fd);
    }
  }
  std::optional<Idle> Take(const std::string& key) {
    std::lock_guard lock(mu_);
    auto& idle = idle_[key];
    if (idle.empty()) return std::nullopt;
    Idle connection = idle.back();
    idle.pop_back();
    return connection;
  }
  void Give(const std::string& key, Idle connection) {
    std::lock_guard lock(mu_);
    auto& idle = idle_[key];
    if (idle.size() < kIdleMax) {
      idle.push_back(connection);
    } else {
      ::close(connection.fd);
    }
  }

 private:
  static constexpr size_t kIdleMax = 64;
  std::mutex mu_;
  std::map<std::string, std::vector<Idle>> idle_;
};

Result<std::unique_ptr<Node>> Node::Start(NodeOptions options) {
  if (options.node.empty() || options.advertise.empty()) {
    return Status::InvalidArgument("invalid_node", "a cluster node needs --node and --advertise");
  }
  auto pg = Pg::Connect(options.dsn);
  if (!pg.ok()) return pg.status();
  auto count = PartitionCount(**pg);
  if (!count.ok()) return count.status();
  if (Status s = CheckSharedMasterKey(**pg, options.ledger.master_key_file); !s.ok()) return s;
  auto pinned = PinnedTenants(**pg);
  if (!pinned.ok()) return pinned.status();
  std::unique_ptr<Node> node(new Node(std::move(options)));
  node->pinned_ = std::move(pinned).value();
  if (Status s = node->OpenPartitions(*count); !s.ok()) return s;
  for (auto& p : node->partitions_) {
    Partition* raw = p.get();
    p->follower = std::thread([n = node.get(), raw] { n->FollowerLoop(*raw); });
  }
  node->leases_ = std::thread([n = node.get()] { n->LeaseLoop(); });
  return node;
}

Status Node::OpenPartitions(int count) {
  std::error_code ec;
  std::filesystem::create_directories(options_.ledger.path, ec);
  if (ec) {
    return Status::IoError("storage_error",
                           "cannot create " + options_.ledger.path + ": " + ec.message());
  }
  for (int i = 0; i < count; ++i) {
    auto p = std::make_unique<Partition>();
    p->index = i;
    LedgerOptions ledger = options_.ledger;
    ledger.path = options_.ledger.path + "/p" + std::to_string(i);
    ledger.key_store_dir = ledger.path + ".keys";  // each partition's own, beside it
    Partition* raw = p.get();
    ledger.replicate = [this, raw](const ReplicaGroup& group) { return Replicate(*raw, group); };
    ledger.replica_ahead = [this, raw] { StepDown(*raw, "the local write failed"); };
    auto engine = Engine::Open(ledger);
    if (!engine.ok()) return engine.status();
    p->engine = std::move(engine).value();
    partitions_.push_back(std::move(p));
  }
  return Status::Ok();
}

Node::~Node() {
  stopping_ = true;
  stop_cv_.notify_all();
  if (leases_.joinable()) leases_.join();
  for (auto& p : partitions_) {
    p->epoch = 0;  // the writer refuses what is still queued
    if (p->follower.joinable()) p->follower.join();
    p->engine.reset();  // drains the writer, which may still call Replicate
  }
}

bool Node::Owns(int p) const { return partitions_[static_cast<size_t>(p)]->epoch.load() > 0; }

bool Node::AwaitOwner(int p, int timeout_ms) {
  Partition& part = *partitions_[static_cast<size_t>(p)];
  for (int waited = 0; waited < timeout_ms; waited += 50) {
    if (part.epoch.load() > 0) return true;
    {
      std::lock_guard lock(part.owner_mu);
      if (!part.owner_url.empty() && part.owner != options_.node) return false;
    }
    Pause(50);
  }
  return part.epoch.load() > 0;
}

std::vector<Engine*> Node::Engines() {
  std::vector<Engine*> out;
  for (auto& p : partitions_) out.push_back(p->engine.get());
  return out;
}

// A token lives in the partition of its tenant (ops tokens in partition 0): each is asked.
Result<Principal> Node::Authenticate(const std::string& token) {
  Status last = Status(Code::kUnauthenticated, "unauthenticated", "unknown token");
  for (auto& p : partitions_) {
    auto who = p->engine->Authenticate(token);
    if (who.ok() || who.status().reason() != "unauthenticated") return who;
    last = who.status();
  }
  return last;
}

int Node::PartitionOfTenant(const std::string& tenant) const {
  if (auto it = pinned_.find(tenant); it != pinned_.end() && it->second < partitions()) {
    return it->second;
  }
  return cluster::PartitionOfTenant(tenant, partitions());
}

int Node::PartitionOf(const Principal& who, const api::Route& route,
                      const api::HttpRequest& request) {
  const int count = partitions();
  if (!who.tenant.empty()) return PartitionOfTenant(who.tenant);
  // Ops: the tenant an admin command names, or the partition a read asks for.
  if (route.method == "POST" && route.path == "/v1/admin/tenants") {
    return PartitionOfTenant(BodyField(request.body, "name"));
  }
  if (route.method == "POST" && route.path == "/v1/admin/tokens") {
    return PartitionOfTenant(BodyField(request.body, "tenant"));
  }
  if (route.method == "DELETE" && route.path.starts_with("/v1/admin/tokens/")) {
    auto url = boost::urls::parse_origin_form(request.target);
    const std::string digest =
        url && !url->segments().empty() ? std::string(url->segments().back()) : std::string();
    for (auto& p : partitions_) {
      auto tokens = p->engine->ListTokens(who, std::nullopt);
      if (!tokens.ok()) continue;
      for (const TokenInfo& t : *tokens) {
        if (t.token_hash == digest) return p->index;
      }
    }
    return 0;
  }
  auto asked = QueryParam(request.target, "partition");
  if (!asked) return 0;
  auto partition = Decimal(*asked);
  return partition && *partition < static_cast<uint64_t>(count) ? static_cast<int>(*partition) : -1;
}

bool Node::MayBlock(const api::Route& route) const { return Appends(route); }

std::variant<Engine*, api::HttpResponse> Node::Choose(const Principal& who, const api::Route& route,
                                                      const api::HttpRequest& request) {
  const int index = PartitionOf(who, route, request);
  if (index < 0) {
    return api::Problem(Status::InvalidArgument(
        "invalid_query", "partition is a number from 0 to " + std::to_string(partitions() - 1),
        "partition"));
  }
  Partition& p = *partitions_[static_cast<size_t>(index)];
  if (!Appends(route)) return AwaitPosition(p, request);
  // While the partition changes hands, wait (up to a lease) for its new owner to be known.
  std::string url;
  for (int waited = 0;; waited += 50) {
    if (p.epoch.load() > 0) return p.engine.get();
    {
      std::lock_guard lock(p.owner_mu);
      if (p.owner != options_.node) url = p.owner_url;
    }
    if ((!url.empty() && request.forwarded_by.empty()) || waited >= options_.lease_ms) break;
    Pause(50);
  }
  if (!request.forwarded_by.empty() || url.empty()) {
    return Unavailable("partition_owner_changing",
                       "partition " + std::to_string(p.index) +
                           " is changing owner: retry with the same Idempotency-Key");
  }
  // Each forward holds a thread of the server's pool until the owner answers: a silent owner
  // may hold only some of them, never the threads its own partitions' commands need.
  if (p.forwards.fetch_add(1) >= kForwardsMax) {
    --p.forwards;
    return Unavailable("owner_busy", "too many commands are waiting for partition " +
                                         std::to_string(p.index) +
                                         "'s owner: retry with the same Idempotency-Key");
  }
  api::HttpResponse answer = Forward(p, request);
  --p.forwards;
  return answer;
}

// Read-your-writes across nodes: a read may ask to see the ledger at least up to a position a
// command answered (X-Ledger-Position), or as it was at such a position (?at=), waiting a
// bounded time for this node to apply it. Only the owner's head says that a position was not
// reached: it answers `at` past it at once (the read refuses it).
std::variant<Engine*, api::HttpResponse> Node::AwaitPosition(Partition& p,
                                                             const api::HttpRequest& request) {
  std::optional<uint64_t> position;
  if (auto wanted = QueryParam(request.target, "min_position")) {
    position = Decimal(*wanted);
    if (!position) {
      return api::Problem(Status::InvalidArgument("invalid_query", "must be a non-negative integer",
                                                  "min_position"));
    }
  }
  // A malformed `at` is the read's to refuse (400), after no wait.
  const auto at = QueryParam(request.target, "at");
  const std::optional<uint64_t> at_position = at ? Decimal(*at) : std::nullopt;
  if (at_position && p.epoch.load() == 0) position = std::max(position.value_or(0), *at_position);
  if (!position || p.engine->ledger().GetHead().position >= *position) return p.engine.get();
  // Each waiting read holds a thread of the server's pool: a few at a time.
  if (waiting_reads_.fetch_add(1) >= kWaitingReadsMax) {
    --waiting_reads_;
    return Unavailable("not_caught_up",
                       "too many reads are waiting for this node to catch up: retry, or ask "
                       "another node");
  }
  bool caught_up = true;
  for (int waited = 0; p.engine->ledger().GetHead().position < *position; waited += 2) {
    if (waited >= options_.catch_up_wait_ms) {
      caught_up = false;
      break;
    }
    Pause(2);
  }
  --waiting_reads_;
  if (!caught_up) {
    return Unavailable("not_caught_up", "this node has not applied position " +
                                            std::to_string(*position) +
                                            " yet: retry, or ask another node");
  }
  return p.engine.get();
}

// The owner's copy of the request: the same method, target, body and credentials. The owner
// authenticates and authorises it again; the marker only stops a second hop.
Node::Node(NodeOptions options)
    : options_(std::move(options)), connections_(std::make_unique<Connections>()) {}

namespace {

// Runs one asynchronous step of `stream` to its end on `ioc`: the stream's expiry bounds it.
template <typename Start>
beast::error_code Step(boost::asio::io_context& ioc, beast::tcp_stream& stream, Start start) {
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(kForwardTimeoutSeconds));
  start([&ec](beast::error_code e, auto&&...) { ec = e; });
  ioc.restart();
  ioc.run();
  return ec;
}

}  // namespace

api::HttpResponse Node::Forward(Partition& p, const api::HttpRequest& request) {
  std::string url;
  {
    std::lock_guard lock(p.owner_mu);
    url = p.owner_url;
  }
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->scheme() != "http") {
    return Unavailable("owner_unreachable", "the owner's address is not an http:// URL");
  }
  const std::string host(parsed->host());
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : "80";
  http::request<http::string_body> req{http::string_to_verb(request.method), request.target, 11};
  req.set(http::field::host, host + ":" + port);
  req.set(http::field::content_type, "application/json");
  if (!request.authorization.empty()) req.set(http::field::authorization, request.authorization);
  if (!request.if_match.empty()) req.set(http::field::if_match, request.if_match);
  if (!request.idempotency_key.empty()) req.set("Idempotency-Key", request.idempotency_key);
  req.set("X-Request-ID", request.request_id);
  req.set("X-Cledger-Forwarded-By", options_.node);
  req.keep_alive(true);
  req.body() = request.body;
  req.prepare_payload();
  const std::string key = host + ":" + port;
  // A kept connection the owner has closed meanwhile fails at once: one more try on a new
  // one, but only for a request whose Idempotency-Key makes a second delivery harmless.
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    const std::optional<Connections::Idle> kept = connections_->Take(key);
    if (kept) {
      stream.socket().assign(kept->protocol, kept->fd, ec);
    } else {
      tcp::resolver resolver(ioc);
      auto endpoints = resolver.resolve(host, port, ec);
      if (!ec) {
        ec = Step(ioc, stream, [&](auto done) { stream.async_connect(endpoints, done); });
      }
    }
    if (!ec) ec = Step(ioc, stream, [&](auto done) { http::async_write(stream, req, done); });
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    if (!ec) {
      ec = Step(ioc, stream, [&](auto done) { http::async_read(stream, buffer, res, done); });
    }
    if (ec) {
      // A silent owner (a timeout) is not asked twice.
      if (!kept || request.idempotency_key.empty() || ec == beast::error::timeout) break;
      continue;
    }
    api::HttpResponse out{static_cast<int>(res.result_int()),
                          std::string(res[http::field::content_type]),
                          res.body(),
                          {}};
    for (const char* name :
         {"ETag", "Location", "Retry-After", "WWW-Authenticate", "X-Ledger-Position"}) {
      if (auto it = res.find(name); it != res.end()) {
        out.headers.emplace_back(name, std::string(it->value()));
      }
    }
    if (res.keep_alive()) {
      const tcp protocol = stream.socket().local_endpoint(ec).protocol();
      if (!ec) connections_->Give(key, {stream.release_socket().release(), protocol});
    }
    return out;
  }
  // Whether the owner ran it is unknown: the client retries with its Idempotency-Key.
  return Unavailable("owner_unreachable", "the owner of partition " + std::to_string(p.index) +
                                              " did not answer: retry with the same "
                                              "Idempotency-Key");
}

Status Node::Replicate(Partition& p, const ReplicaGroup& group) {
  const int64_t epoch = p.epoch.load();
  if (epoch == 0) {
    return Status::Unavailable("not_owner", "this node does not own partition " +
                                                std::to_string(p.index) +
                                                " (any more): retry with the same Idempotency-Key");
  }
  Status s = AppendToLogOfRecord(p, epoch, group);
  if (!s.ok()) {
    StepDown(p, s.message());
    if (p.writer_pg && p.writer_pg->broken()) p.writer_pg.reset();
    return Status::Unavailable(s.reason() == "unique_violation" ? "not_owner" : s.reason(),
                               "partition " + std::to_string(p.index) +
                                   " could not append to the log of record: retry with the "
                                   "same Idempotency-Key");
  }
  return Status::Ok();
}

// One transaction, sent as one pipeline: the lease still ours (its row locked until the
// commit, so no successor takes it meanwhile), the group at exactly the positions after the
// head, its data keys, a notification. With synchronous_commit on and a synchronous standby,
// the commit returns once both have it.
Status Node::AppendToLogOfRecord(Partition& p, int64_t epoch, const ReplicaGroup& group) {
  if (!p.writer_pg || p.writer_pg->broken()) {
    p.writer_pg.reset();
    auto pg = Pg::Connect(options_.dsn);
    if (!pg.ok()) return pg.status();
    // A writer stopped (SIGSTOP) inside its transaction must not hold the lease row forever.
    if (Status s = (*pg)->Run("SET idle_in_transaction_session_timeout = '2s'"); !s.ok()) return s;
    p.writer_pg = std::move(pg).value();
  }
  // Divides by zero (SQLSTATE 22012), failing the transaction, unless the lease is ours.
  std::vector<PgStatement> statements{
      {"WITH lease AS (UPDATE cledger_leases SET epoch = epoch WHERE part = $1::int8 AND owner = "
       "$2::text AND epoch = $3::int8 AND expires_at > clock_timestamp() RETURNING 1) "
       "SELECT 1 / count(*)::int FROM lease",
       {PgParam::Int(p.index), PgParam::Bytes(options_.node), PgParam::Int(epoch)}}};
  auto append = AppendStatements(p.index, group);
  if (!append.ok()) return append.status();
  for (PgStatement& statement : *append) statements.push_back(std::move(statement));
  statements.push_back(
      {"SELECT pg_notify('cledger_events', $1::text)", {PgParam::Bytes(std::to_string(p.index))}});
  Status s = p.writer_pg->RunPipeline(statements);
  if (s.field() == "22012") {
    return Status::Unavailable("not_owner",
                               "the lease on partition " + std::to_string(p.index) + " has ended");
  }
  return s;
}

void Node::StepDown(Partition& p, const std::string& why) {
  if (p.epoch.exchange(0) > 0) {
    spdlog::warn("cluster: node {} steps down from partition {}: {}", options_.node, p.index, why);
  }
}

Result<size_t> Node::CatchUpOnce(Pg& pg, Partition& p) {
  const uint64_t head = p.engine->ledger().GetHead().position;
  auto rows = pg.Exec(
      "SELECT position, bytes, commit_end, idem_key, idem_value FROM cledger_events "
      "WHERE part = $1::int8 AND position > $2::int8 ORDER BY position LIMIT " +
          std::to_string(kCatchUpBatch),
      {PgParam::Int(p.index), PgParam::Int(static_cast<int64_t>(head))});
  if (!rows.ok()) return rows.status();
  std::vector<ReplicaEvent> events;
  size_t complete = 0;  // a batch ends at a commit's last event
  for (int r = 0; r < rows->size(); ++r) {
    ReplicaEvent e;
    e.position = static_cast<uint64_t>(rows->Int(r, 0));
    e.bytes = std::string(rows->Bytes(r, 1));
    e.commit_end = rows->Bool(r, 2);
    if (!rows->IsNull(r, 3)) {
      e.idempotency_key = std::string(rows->Bytes(r, 3));
      e.idempotency_value = std::string(rows->Bytes(r, 4));
    }
    events.push_back(std::move(e));
    if (events.back().commit_end) complete = events.size();
  }
  events.resize(complete);
  if (events.empty()) return size_t{0};
  ReplicaGroup group{std::move(events), {}};
  auto keys = pg.Exec(
      "SELECT key_id, subject, wrapped FROM cledger_data_keys WHERE part = $1::int8 AND "
      "position > $2::int8 AND position <= $3::int8",
      {PgParam::Int(p.index), PgParam::Int(static_cast<int64_t>(head)),
       PgParam::Int(static_cast<int64_t>(group.events.back().position))});
  if (!keys.ok()) return keys.status();
  for (int r = 0; r < keys->size(); ++r) {
    group.data_keys.push_back({std::string(keys->Bytes(r, 0)), std::string(keys->Bytes(r, 1)),
                               std::string(keys->Bytes(r, 2))});
  }
  if (Status s = p.engine->ApplyReplicated(group); !s.ok()) return s;
  return group.events.size();
}

void Node::FollowerLoop(Partition& p) {
  std::unique_ptr<Pg> pg;
  while (!stopping_) {
    if (!pg || pg->broken()) {
      auto connected = Pg::Connect(options_.dsn);
      if (!connected.ok() || !(*connected)->Run("LISTEN cledger_events").ok()) {
        pg.reset();
        Pause(200);
        continue;
      }
      pg = std::move(connected).value();
    }
    size_t applied = 0;
    if (p.epoch.load() == 0) {
      std::lock_guard lock(p.apply_mu);
      if (p.epoch.load() == 0) {
        auto n = CatchUpOnce(*pg, p);
        if (!n.ok()) {
          spdlog::warn("cluster: partition {} follower: {}", p.index, n.status().message());
          Pause(200);
          continue;
        }
        applied = *n;
      }
    }
    if (applied == 0 && !pg->AwaitNotification(500).ok()) pg.reset();
  }
}

void Node::LeaseLoop() {
  std::unique_ptr<Pg> pg;
  while (!stopping_) {
    if (!pg || pg->broken()) {
      auto connected = Pg::Connect(options_.dsn);
      // A takeover waits at most this long for a row a silent owner still locks.
      if (connected.ok() && (*connected)->Run("SET lock_timeout = '1s'").ok()) {
        pg = std::move(connected).value();
      }
    }
    if (pg) LeaseRound(*pg);
    std::unique_lock lock(stop_mu_);
    stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.heartbeat_ms),
                      [&] { return stopping_.load(); });
  }
  // A clean stop hands the partitions over at once rather than after the lease runs out.
  if (pg) {
    for (auto& p : partitions_) {
      const int64_t epoch = p->epoch.exchange(0);
      if (epoch == 0) continue;
      (void)pg->Run(
          "UPDATE cledger_leases SET owner = NULL, url = NULL, expires_at = '-infinity' "
          "WHERE part = $1::int8 AND owner = $2::text AND epoch = $3::int8",
          {PgParam::Int(p->index), PgParam::Bytes(options_.node), PgParam::Int(epoch)});
    }
  }
}

void Node::LeaseRound(Pg& pg) {
  const PgParam lease = PgParam::Int(options_.lease_ms);
  const PgParam me = PgParam::Bytes(options_.node);
  if (!pg.Run("INSERT INTO cledger_nodes VALUES ($1::text, $2::text, clock_timestamp()) "
              "ON CONFLICT (node) DO UPDATE SET url = EXCLUDED.url, seen_at = EXCLUDED.seen_at",
              {me, PgParam::Bytes(options_.advertise)})
           .ok()) {
    return;
  }
  auto live = pg.Exec(
      "SELECT count(*)::int8 FROM cledger_nodes WHERE seen_at > clock_timestamp() - "
      "$1::int8 * interval '1 millisecond'",
      {lease});
  if (!live.ok()) return;
  const int nodes = std::max<int>(1, static_cast<int>(live->Int(0, 0)));
  const int fair_share = (partitions() + nodes - 1) / nodes;
  int owned = 0;
  for (auto& p : partitions_) owned += p->epoch.load() > 0 ? 1 : 0;
  for (auto& p : partitions_) {
    const int64_t epoch = p->epoch.load();
    if (epoch > 0) {
      const bool release = owned > fair_share;
      auto renewed = pg.Exec(
          release ? "UPDATE cledger_leases SET owner = NULL, url = NULL, expires_at = "
                    "'-infinity' WHERE part = $1::int8 AND owner = $2::text AND epoch = $3::int8"
                  : "UPDATE cledger_leases SET expires_at = clock_timestamp() + $4::int8 * "
                    "interval '1 millisecond' WHERE part = $1::int8 AND owner = $2::text AND "
                    "epoch = $3::int8",
          release ? std::vector<PgParam>{PgParam::Int(p->index), me, PgParam::Int(epoch)}
                  : std::vector<PgParam>{PgParam::Int(p->index), me, PgParam::Int(epoch), lease});
      if (!renewed.ok()) continue;  // a lock held by an appending writer: next round
      if (release) {
        StepDown(*p, "another node may take it (rebalancing)");
        --owned;
      } else if (renewed->affected() != 1) {
        StepDown(*p, "its lease was taken over");
        --owned;
      }
    } else if (owned < fair_share && TryAcquire(pg, *p)) {
      ++owned;
    }
  }
  auto owners = pg.Exec(
      "SELECT part, coalesce(owner, ''), coalesce(url, ''), expires_at > clock_timestamp() "
      "FROM cledger_leases ORDER BY part");
  if (!owners.ok()) return;
  for (int r = 0; r < owners->size(); ++r) {
    const int64_t index = owners->Int(r, 0);
    if (index < 0 || index >= partitions()) continue;
    Partition& p = *partitions_[static_cast<size_t>(index)];
    std::lock_guard lock(p.owner_mu);
    const bool alive = owners->Bool(r, 3);
    p.owner = alive ? std::string(owners->Bytes(r, 1)) : std::string();
    p.owner_url = alive ? std::string(owners->Bytes(r, 2)) : std::string();
  }
}

// Takes an expired lease with the next epoch, applies everything its old owner appended
// (nobody appends meanwhile: the lease is ours), and only then decides commands.
bool Node::TryAcquire(Pg& pg, Partition& p) {
  auto taken = pg.Exec(
      "UPDATE cledger_leases SET owner = $2::text, url = $3::text, epoch = epoch + 1, "
      "expires_at = clock_timestamp() + $4::int8 * interval '1 millisecond' "
      "WHERE part = $1::int8 AND (expires_at < clock_timestamp() OR owner = $2::text) "
      "RETURNING epoch",
      {PgParam::Int(p.index), PgParam::Bytes(options_.node), PgParam::Bytes(options_.advertise),
       PgParam::Int(options_.lease_ms)});
  if (!taken.ok() || taken->size() != 1) return false;
  const int64_t epoch = taken->Int(0, 0);
  std::lock_guard lock(p.apply_mu);
  for (;;) {
    auto n = CatchUpOnce(pg, p);
    if (!n.ok()) {
      spdlog::warn("cluster: partition {}: catching up to take it over: {}", p.index,
                   n.status().message());
      return false;  // the lease runs out; someone (maybe this node) takes it again
    }
    if (*n == 0) break;
    (void)pg.Run(
        "UPDATE cledger_leases SET expires_at = clock_timestamp() + $3::int8 * interval "
        "'1 millisecond' WHERE part = $1::int8 AND epoch = $2::int8",
        {PgParam::Int(p.index), PgParam::Int(epoch), PgParam::Int(options_.lease_ms)});
  }
  p.epoch = epoch;
  spdlog::info("cluster: node {} owns partition {} (epoch {}) at position {}", options_.node,
               p.index, epoch, p.engine->ledger().GetHead().position);
  return true;
}

}  // namespace cledger::cluster
