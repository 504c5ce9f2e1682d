// The routes of events, the ledger, admin and ops, and the stream's plan and frames.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/hex.h"
#include "base/time.h"
#include "engine/api/handlers_call.h"
#include "engine/domain/roles.h"
#include "engine/domain/rules.h"
#include "events/codec.h"

namespace cledger::api {
namespace {

// Tenants, tokens and backups are no tenant's: the admin routes' commands run for none.
CommandContext AdminContext(const Call& call) {
  return CommandContext{
      "", call.who.actor, call.request.idempotency_key, {}, call.request.request_id};
}

}  // namespace

// Callers during a run wait for it and share its result; a result younger than kVerifyReuse
// answers at once. So a full scan of the ledger happens at most once per window, however
// many callers ask.
Verification SharedVerification::Get(Engine& engine) {
  constexpr auto kVerifyReuse = std::chrono::seconds(10);
  std::unique_lock lock(mu_);
  const bool running = verification_.valid() &&
                       verification_.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
  if (running ||
      (verification_.valid() && std::chrono::steady_clock::now() - verified_at_ < kVerifyReuse)) {
    std::shared_future<Verification> shared = verification_;
    lock.unlock();
    return shared.get();
  }
  std::promise<Verification> promise;
  verification_ = promise.get_future().share();
  lock.unlock();
  Verification run{engine.ledger().VerifyChain(), {}, {}, {}};
  if (auto mismatches = engine.VerifyProjections(); mismatches.ok()) {
    run.mismatches = std::move(mismatches).value();
  } else {
    run.projections_unchecked = mismatches.status().message();
  }
  run.finished_at = base::Rfc3339Micros(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  lock.lock();
  verified_at_ = std::chrono::steady_clock::now();
  promise.set_value(run);
  return run;
}

namespace route {

// Up to `limit` events the caller may see, from `from` on, and the position to go on from. A
// tenant's events are scattered through every tenant's log: the scan stops after kScanMax
// positions (a few milliseconds, off the I/O threads), so a page may hold fewer (even none)
// before the head; go on from `next`.
Answer GetEvents(Call& call) {
  constexpr uint64_t kScanMax = 10'000;
  auto from = call.Number("from", 1);
  auto limit = call.Limit();
  if (!from.ok()) return Problem(from.status());
  if (!limit.ok()) return Problem(limit.status());
  if (*from == 0) {
    return Problem(
        Status::InvalidArgument("invalid_query", "from is a position, 1 or more", "from"));
  }
  StreamPlan plan{call.who, &call.engine, {}, {}};
  std::vector<Event> page;
  uint64_t next = *from;
  while (page.size() < *limit && next - *from < kScanMax) {
    auto events = call.engine.ledger().Read(next, std::max<size_t>(*limit, 256));
    if (!events.ok()) return Problem(events.status());
    if (events->empty()) break;
    for (Event& e : *events) {
      next = e.position + 1;
      if (plan.Wants(e)) page.push_back(std::move(e));
      if (page.size() == *limit) break;
    }
  }
  if (call.request.accept.find("application/x-flatbuffers") != std::string::npos) {
    HttpResponse response{200, "application/x-flatbuffers", {}, {}};
    for (const Event& e : page) {
      auto raw = call.engine.ledger().ReadRedacted(e.position);
      if (!raw.ok()) return Problem(raw.status());
      cledger::events::AppendSizePrefixed(response.body, *raw);
    }
    response.headers.push_back({"X-Next-Position", std::to_string(next)});
    return response;
  }
  json::array items;
  for (const Event& e : page) items.push_back(ToJson(e));
  return JsonResponse(200, json::object{{"events", std::move(items)}, {"next", next}});
}

// The head is the whole ledger's, every tenant's events hashed into one chain: a tenant
// learns how many events there are in all, never what they hold (see the README).
Answer GetLedgerDigest(Call& call) {
  const Head head = call.engine.ledger().GetHead();
  return JsonResponse(200,
                      json::object{{"position", head.position}, {"hash", base::Hex(head.hash)}});
}

Answer GetLedgerVerify(Call& call) {
  const Verification verification = call.verification.Get(call.engine);
  const VerifyReport& chain = verification.chain;
  json::array projections;
  for (const auto& m : verification.mismatches) {
    // A key names some tenant's record: only a token that sees every tenant gets it.
    json::object item{{"projection", m.projection}};
    if (domain::Can(call.who.actor.role, domain::Action::kReadEveryTenant)) item["key"] = m.key;
    projections.push_back(std::move(item));
  }
  // The signed heads go out whole: the caller checks their signatures with a key it trusts,
  // which this server, holding its own key beside the log, cannot stand in for.
  json::array tree_problems;
  for (const std::string& problem : chain.tree_problems)
    tree_problems.push_back(json::string(problem));
  json::array signed_heads;
  bool heads_held = true;
  for (const VerifyReport::SignedHeadCheck& check : chain.signed_heads) {
    heads_held = heads_held && check.root_matches;
    signed_heads.push_back(
        json::object{{"head", ToJson(check.head)}, {"root_matches", check.root_matches}});
  }
  const bool log_intact =
      chain.ok && chain.first_tree_mismatch == 0 && chain.tree_problems.empty() && heads_held;
  json::object report{
      {"ok", log_intact && projections.empty() && verification.projections_unchecked.empty()},
      {"events_checked", chain.events_checked},
      {"first_broken_position", chain.first_broken_position},
      {"problem", chain.problem},
      {"position", chain.head.position},
      {"hash", base::Hex(chain.head.hash)},
      {"projections", std::move(projections)},
      {"projections_unchecked", verification.projections_unchecked},
      {"first_tree_mismatch", chain.first_tree_mismatch},
      {"tree_leaves_rebuilt", chain.tree_leaves_rebuilt},
      {"tree_problems", std::move(tree_problems)},
      {"signed_heads", std::move(signed_heads)},
      {"verified_at", verification.finished_at}};
  return JsonResponse(200, report);
}

Answer PostTenant(Call& call) {
  auto c = FromBody(call, CreateTenantFromJson);
  if (!c.ok()) return Problem(c.status());
  auto outcome = call.engine.Execute(AdminContext(call), *c);
  if (!outcome.ok()) return Problem(outcome.status());
  return JsonResponse(201, json::object{{"name", c->name}, {"plan", c->plan}});
}

Answer GetTenants(Call& call) {
  auto tenants = call.engine.Tenants(call.who);
  if (!tenants.ok()) return Problem(tenants.status());
  json::array items;
  for (const TenantView& t : *tenants)
    items.push_back(json::object{{"name", t.name}, {"plan", t.plan}});
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

Answer PostToken(Call& call) {
  auto c = FromBody(call, IssueTokenFromJson);
  if (!c.ok()) return Problem(c.status());
  auto outcome = call.engine.Execute(AdminContext(call), *c);
  if (!outcome.ok()) return Problem(outcome.status());
  json::object issued{
      {"token_hash", outcome->token_hash},
      {"tenant", c->tenant},
      {"actor", c->actor_id},
      {"role", c->role},
      {"expires_in", c->expires_in_s == 0 ? json::value(nullptr) : json::value(c->expires_in_s)}};
  // A token is shown once: a replay answers without it.
  if (!outcome->replayed) issued["token"] = outcome->token;
  return JsonResponse(201, issued);
}

Answer GetTokens(Call& call) {
  auto tokens = call.engine.ListTokens(call.who, call.Query("tenant"));
  if (!tokens.ok()) return Problem(tokens.status());
  json::array items;
  for (const TokenInfo& t : *tokens) items.push_back(ToJson(t));
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

Answer DeleteToken(Call& call) {
  auto outcome = call.engine.Execute(AdminContext(call), RevokeToken{"", call.params[0]});
  if (!outcome.ok()) return Problem(outcome.status());
  return HttpResponse{204, "", "", {}};
}

// A backup directory as a caller names it: absolute, since a relative one would land in the
// server's working directory.
Result<std::string> BackupDir(const std::string& dir) {
  if (dir.empty()) {
    return Status::InvalidArgument("required",
                                   "dir is required: the backup directory, an "
                                   "absolute path on the server's machine",
                                   "dir");
  }
  if (!dir.starts_with('/')) {
    return Status::InvalidArgument("invalid_value",
                                   "dir must be an absolute path on the server's machine", "dir");
  }
  return dir;
}

// The backup directory a body {"dir": "…"} names.
Result<std::string> BackupDirOf(const Call& call) {
  auto o = ParseObject(call.request.body);
  if (!o.ok()) return o.status();
  const json::value* dir = o->if_contains("dir");
  if (o->size() != 1 || dir == nullptr || !dir->is_string()) {
    return Status::InvalidArgument("required", "the body is {\"dir\": \"<backup directory>\"}",
                                   "dir");
  }
  return BackupDir(std::string(dir->as_string()));
}

Answer PostBackup(Call& call) {
  auto dir = BackupDirOf(call);
  if (!dir.ok()) return Problem(dir.status());
  // Read before: the backup holds at least this head, and maybe commits made meanwhile.
  const Head head = call.engine.ledger().GetHead();
  if (Status s = call.engine.Backup(*dir); !s.ok()) return Problem(s);
  json::object made{{"dir", *dir}, {"position", head.position}};
  // The newest backup of the directory is this one (ops take one backup of a ledger at a time).
  if (auto backups = Engine::ListBackups(*dir); backups.ok() && !backups->empty()) {
    made["id"] = backups->back().id;
  }
  return JsonResponse(201, made);
}

Answer GetBackups(Call& call) {
  auto dir = BackupDir(call.Query("dir").value_or(""));
  if (!dir.ok()) return Problem(dir.status());
  auto backups = Engine::ListBackups(*dir);
  if (!backups.ok()) return Problem(backups.status());
  json::array items;
  for (const BackupInfo& b : *backups) {
    items.push_back(json::object{{"id", b.id},
                                 {"created_at", base::Rfc3339Micros(b.created_at_us)},
                                 {"size_bytes", b.size_bytes},
                                 {"position", b.position}});
  }
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

Answer PostBackupVerify(Call& call) {
  auto id = ParseU64(call.params[0]);
  if (!id || *id > UINT32_MAX)
    return Problem(Status::NotFound("backup_not_found", "no such backup"));
  auto dir = BackupDirOf(call);
  if (!dir.ok()) return Problem(dir.status());
  const Status checked = Engine::VerifyBackup(*dir, static_cast<uint32_t>(*id));
  // Damage is the check's finding; anything else (no such backup, not a backup) is a refusal.
  if (!checked.ok() && checked.code() != Code::kCorruption) return Problem(checked);
  json::object report{{"id", *id}, {"ok", checked.ok()}};
  if (!checked.ok()) report["problem"] = checked.message();
  return JsonResponse(200, report);
}

Answer GetStats(Call& call) {
  auto stats = call.engine.Stats();
  if (!stats.ok()) return Problem(stats.status());
  return JsonResponse(200, json::object{{"position", stats->head.position},
                                        {"hash", base::Hex(stats->head.hash)},
                                        {"events", stats->head.position},
                                        {"commits", stats->ledger.total_commits},
                                        {"tenants", stats->tenants},
                                        {"customers", stats->customers},
                                        {"contacts", stats->contacts},
                                        {"size_bytes", stats->size_bytes}});
}

Answer PostRebuild(Call& call) {
  if (Status s = call.engine.Rebuild(call.params[0]); !s.ok()) return Problem(s);
  for (const ProjectionStatus& p : call.engine.Projections()) {
    if (p.name == call.params[0]) return JsonResponse(200, ToJson(p));
  }
  return Problem(Status(Code::kNotFound, "projection_not_found", "no such projection"));
}

Answer GetProjections(Call& call) {
  json::array items;
  for (const ProjectionStatus& p : call.engine.Projections()) items.push_back(ToJson(p));
  return JsonResponse(200, json::object{{"items", std::move(items)}});
}

Answer GetHealthz(Call&) { return JsonResponse(200, json::object{{"status", "ok"}}); }

Answer GetReadyz(Call& call) {
  // Not ready while the storage refuses writes: a fault being recovered, or a full disk.
  if (const LedgerStats stats = call.engine.ledger().Stats(); stats.storage_state != "ok") {
    HttpResponse r = JsonResponse(503, json::object{{"status", "storage " + stats.storage_state},
                                                    {"reason", stats.storage_reason}});
    r.headers.push_back({"Retry-After", std::to_string(limits::kRetryAfterSeconds)});
    return r;
  }
  uint64_t lag = 0;  // of the projections commands validate against; followers may trail
  for (const ProjectionStatus& p : call.engine.Projections()) {
    if (p.inline_with_commits) lag = std::max(lag, p.lag);
  }
  return JsonResponse(lag == 0 ? 200 : 503,
                      json::object{{"status", lag == 0 ? "ready" : "catching up"}, {"lag", lag}});
}

// Figures of every tenant.
Answer GetMetrics(Call& call) {
  const LedgerStats stats = call.engine.ledger().Stats();
  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line("# HELP cledger_commits_total Commits acknowledged since start.");
  line("# TYPE cledger_commits_total counter");
  line("cledger_commits_total " + std::to_string(stats.commits));
  line("# HELP cledger_commits_rejected_total Commands refused by a rule, version or limit.");
  line("# TYPE cledger_commits_rejected_total counter");
  line("cledger_commits_rejected_total " + std::to_string(stats.rejected));
  line("# HELP cledger_head_position The ledger's head: the position of its last event.");
  line("# TYPE cledger_head_position gauge");
  line("cledger_head_position " + std::to_string(call.engine.ledger().GetHead().position));
  line("# HELP cledger_sync_seconds Latency of each group commit's synced write.");
  line("# TYPE cledger_sync_seconds histogram");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(LedgerStats::kBucketsUs); ++i) {
    cumulative += stats.write_us_buckets[i];
    line("cledger_sync_seconds_bucket{le=\"" + std::to_string(LedgerStats::kBucketsUs[i] / 1e6) +
         "\"} " + std::to_string(cumulative));
  }
  cumulative += stats.write_us_buckets[std::size(LedgerStats::kBucketsUs)];
  line("cledger_sync_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative));
  line("cledger_sync_seconds_sum " + std::to_string(stats.write_us_sum / 1e6));
  line("cledger_sync_seconds_count " + std::to_string(stats.groups));
  line(
      "# HELP cledger_storage_state 1 for the storage's current state: ok, degraded (recovering "
      "from a fault, writes answer 503) or no_space (writes answer 507).");
  line("# TYPE cledger_storage_state gauge");
  for (const char* state : {"ok", "degraded", "no_space"}) {
    line(std::string("cledger_storage_state{state=\"") + state + "\"} " +
         (stats.storage_state == state ? "1" : "0"));
  }
  line("# HELP cledger_password_hashes_total Password hashes and verifications (argon2id).");
  line("# TYPE cledger_password_hashes_total counter");
  line("cledger_password_hashes_total " + std::to_string(call.engine.PasswordHashes()));
  line("# HELP cledger_storage_reopens_total Times the database was reopened after a fault.");
  line("# TYPE cledger_storage_reopens_total counter");
  line("cledger_storage_reopens_total " + std::to_string(stats.reopens));
  line("# HELP cledger_storage_no_space_refusals_total Commit groups refused for lack of space.");
  line("# TYPE cledger_storage_no_space_refusals_total counter");
  line("cledger_storage_no_space_refusals_total " + std::to_string(stats.no_space_refusals));
  line("# HELP cledger_stream_subscribers Live event stream subscribers.");
  line("# TYPE cledger_stream_subscribers gauge");
  line("cledger_stream_subscribers " + std::to_string(call.metrics.subscribers.load()));
  line("# HELP cledger_projection_lag_events Events a projection has yet to apply.");
  line("# TYPE cledger_projection_lag_events gauge");
  for (const ProjectionStatus& p : call.engine.Projections()) {
    line("cledger_projection_lag_events{projection=\"" + p.name + "\"} " + std::to_string(p.lag));
  }
  line("# HELP cledger_http_responses_total HTTP responses by status code.");
  line("# TYPE cledger_http_responses_total counter");
  for (size_t i = 0; i < std::size(HttpMetrics::kStatuses); ++i) {
    line("cledger_http_responses_total{code=\"" + std::to_string(HttpMetrics::kStatuses[i]) +
         "\"} " + std::to_string(call.metrics.responses[i].load()));
  }
  return HttpResponse{200, "text/plain; version=0.0.4", out, {}};
}

// Where an ops stream across a cluster node's partitions starts: after the cursor a
// Last-Event-ID gives ("0:12,1:57", every partition named once), at `from` in every one, or
// live.
Status PlanAcrossPartitions(Call& call, StreamPlan& plan) {
  plan.partitions = *call.partitions;
  const size_t count = plan.partitions.size();
  auto from = call.Number("from", 0);
  if (!from.ok()) return from.status();
  for (Engine* engine : plan.partitions) {
    plan.cursor.push_back(*from > 0 ? *from : engine->ledger().GetHead().position + 1);
  }
  if (call.request.last_event_id.empty()) return Status::Ok();
  const Status invalid = Status::InvalidArgument(
      "invalid_header",
      "Last-Event-ID is the cursor of a stream across partitions: partition:position, one for "
      "each of the " +
          std::to_string(count) + " partitions, comma-separated",
      "Last-Event-ID");
  std::vector<bool> seen(count, false);
  std::string_view rest = call.request.last_event_id;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    const size_t colon = item.find(':');
    if (colon == std::string_view::npos) return invalid;
    auto partition = ParseU64(item.substr(0, colon));
    auto last = ParseU64(item.substr(colon + 1));
    if (!partition || !last || *partition >= count || seen[*partition] || *last == UINT64_MAX) {
      return invalid;
    }
    seen[*partition] = true;
    plan.cursor[*partition] = *last + 1;
  }
  return std::find(seen.begin(), seen.end(), false) == seen.end() ? Status::Ok() : invalid;
}

// The stream's plan; the server then follows the ledger with it.
Answer GetEventStream(Call& call) {
  const HttpRequest& request = call.request;
  StreamPlan plan{call.who, &call.engine, {}, {}, request.authorization.substr(7)};
  plan.from = call.engine.ledger().GetHead().position + 1;  // live, unless told where to resume
  if (call.partitions != nullptr && call.who.tenant.empty() && !call.Query("partition")) {
    if (Status s = PlanAcrossPartitions(call, plan); !s.ok()) return Problem(s);
  } else if (!request.last_event_id.empty()) {
    auto last = ParseU64(request.last_event_id);
    // The largest position would wrap to the start of the ledger.
    if (!last || *last == UINT64_MAX) {
      return Problem(Status::InvalidArgument("invalid_header", "Last-Event-ID is a position",
                                             "Last-Event-ID"));
    }
    plan.from = *last + 1;
  } else if (call.Query("from")) {
    auto from = call.Number("from", 1);
    if (!from.ok()) return Problem(from.status());
    plan.from = std::max<uint64_t>(*from, 1);
  }
  if (auto types = call.Query("types")) {
    for (std::string_view rest = *types; !rest.empty();) {
      const size_t comma = rest.find(',');
      const std::string type(rest.substr(0, comma));
      if (!IsEventTypeName(type)) {
        std::string known;
        for (std::string_view name : kEventTypeNames)
          known += (known.empty() ? "" : ", ") + std::string(name);
        return Problem(Status::InvalidArgument(
            "invalid_enum", "unknown event type in types; the types are " + known, "types"));
      }
      plan.types.insert(type);
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
  }
  plan.stream = call.Query("stream").value_or("");
  // Every stream's name starts with its kind; a bare record id would match nothing, silently.
  if (!plan.stream.empty() &&
      std::none_of(domain::kStreamKinds.begin(), domain::kStreamKinds.end(),
                   [&](std::string_view kind) { return plan.stream.starts_with(kind); })) {
    return Problem(Status::InvalidArgument(
        "invalid_query",
        "stream takes a stream's name (contact-<id>, customer-<id>, tenant-<name> or "
        "token-<id>); for contact k1 give stream=contact-k1",
        "stream"));
  }
  plan.customer = call.Query("customer").value_or("");
  return plan;
}

}  // namespace route

Status Handlers::Reauthenticate(const StreamPlan& plan) {
  auto who = router_.Authenticate(plan.token);
  return who.ok() ? Status::Ok() : who.status();
}

bool StreamPlan::Wants(const Event& event) const {
  if (!who.tenant.empty() && event.tenant != who.tenant) return false;
  if (!types.empty() && !types.contains(std::string(EventTypeName(event.body)))) return false;
  if (!stream.empty() && event.stream != stream) return false;
  if (customer.empty()) return true;
  if (event.stream == "customer-" + customer) return true;
  return std::visit(
      [&](const auto& body) {
        if constexpr (requires { body.customer_id; }) {
          return body.customer_id == customer;
        } else {
          return false;
        }
      },
      event.body);
}

std::string Handlers::SseFrame(const Event& event, const std::string& id, size_t partition) {
  json::object data = ToJson(event);
  data["partition"] = partition;
  return "id: " + id + "\nevent: " + std::string(EventTypeName(event.body)) +
         "\ndata: " + json::serialize(data) + "\n\n";
}

std::string Handlers::CursorId(const std::vector<uint64_t>& next) {
  std::string id;
  for (size_t k = 0; k < next.size(); ++k) {
    id += (k == 0 ? "" : ",") + std::to_string(k) + ":" + std::to_string(next[k] - 1);
  }
  return id;
}

std::string Handlers::SseFrame(const Event& event) {
  return "id: " + std::to_string(event.position) +
         "\nevent: " + std::string(EventTypeName(event.body)) +
         "\ndata: " + json::serialize(ToJson(event)) + "\n\n";
}

}  // namespace cledger::api
