#include "engine/api/handlers.h"

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

#include "engine/api/json_mapping.h"

namespace cledger::api {

namespace json = boost::json;

namespace {

constexpr size_t kPageMax = 1000;
constexpr size_t kPageDefault = 100;

Status Invalid(std::string reason, std::string message, std::string field) {
  return Status(Code::kInvalidArgument, std::move(reason), std::move(message), std::move(field));
}

HttpResponse JsonResponse(int status, const json::value& body) {
  return HttpResponse{status, "application/json", json::serialize(body), {}};
}

std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// `If-Match: "3"` (also W/"3" or a bare 3) → 3.
Result<std::optional<uint64_t>> ParseIfMatch(std::string_view header) {
  if (header.empty()) return std::optional<uint64_t>();
  if (header.starts_with("W/")) header.remove_prefix(2);
  if (header.size() >= 2 && header.front() == '"' && header.back() == '"') {
    header = header.substr(1, header.size() - 2);
  }
  auto version = ParseU64(header);
  if (!version) return Invalid("invalid_header", "If-Match holds a version, e.g. \"3\"", "If-Match");
  return std::optional<uint64_t>(*version);
}

json::object ToJson(const ProjectionStatus& p) {
  return {{"name", p.name},
          {"applied_position", p.applied_position},
          {"lag", p.lag},
          {"generation", p.generation},
          {"inline", p.inline_with_commits}};
}

std::string ETag(uint64_t version) { return "\"" + std::to_string(version) + "\""; }

// "/v1/contacts/{id}" → {"v1", "contacts", "{id}"}
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? "" : path.substr(slash);
  }
  return out;
}

bool CanReadEvents(const Principal& who) {
  const std::string& r = who.actor.role;
  return r == "ops" || r == "owner" || r == "admin" || r == "auditor" || r == "service";
}

}  // namespace

struct Handlers::Call {
  const HttpRequest& request;
  std::vector<std::string> params;
  boost::urls::url_view url;
  Principal who;

  std::optional<std::string> Query(std::string_view key) const {
    auto it = url.params().find(key);
    if (it == url.params().end()) return std::nullopt;
    return std::string((*it).value);
  }
  // A positive integer query parameter, or `fallback` when absent.
  Result<uint64_t> Number(std::string_view key, uint64_t fallback) const {
    auto text = Query(key);
    if (!text) return fallback;
    auto value = ParseU64(*text);
    if (!value) return Invalid("invalid_query", "must be a non-negative integer", std::string(key));
    return *value;
  }
  // One page of `items` by `limit` and an offset `cursor`, with `next_cursor` when more follow.
  template <typename T>
  Result<json::object> Page(const std::vector<T>& items) const {
    auto limit = Number("limit", kPageDefault);
    auto cursor = Number("cursor", 0);
    if (!limit.ok()) return limit.status();
    if (!cursor.ok()) return cursor.status();
    const size_t begin = std::min<size_t>(*cursor, items.size());
    const size_t end = std::min(items.size(), begin + std::min<size_t>(*limit, kPageMax));
    json::array page;
    for (size_t i = begin; i < end; ++i) page.push_back(ToJson(items[i]));
    json::object out{{"items", std::move(page)}};
    if (end < items.size()) out["next_cursor"] = std::to_string(end);
    return out;
  }
  Result<AsOf> As() const {
    AsOf as_of;
    if (auto at = Query("at")) {
      auto position = ParseU64(*at);
      if (!position) return Invalid("invalid_query", "at is a ledger position", "at");
      as_of.position = *position;
    }
    if (auto time = Query("as_of")) {
      auto us = ParseRfc3339(*time);
      if (!us.ok()) return Invalid("invalid_time", "as_of is an RFC 3339 time", "as_of");
      as_of.time_us = *us;
    }
    return as_of;
  }
};

void HttpMetrics::Count(int status) {
  size_t i = 0;
  while (i < std::size(kStatuses) && kStatuses[i] != status) ++i;
  responses[i].fetch_add(1, std::memory_order_relaxed);
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument:
      // Requests that cannot be read at all are 400; readable but invalid ones are 422.
      for (const char* syntax : {"malformed_json", "invalid_utf8", "invalid_header",
                                 "invalid_query", "bad_request", "invalid_target"}) {
        if (status.reason() == syntax) return 400;
      }
      return 422;
    case Code::kNotFound: return 404;
    case Code::kPermissionDenied: return 403;
    case Code::kConflict: return 409;
    case Code::kVersionMismatch: return 412;
    case Code::kLimitExceeded: return 413;
    case Code::kUnauthenticated: return 401;
    case Code::kCorruption: return 500;
    case Code::kIoError:
    case Code::kUnavailable: return 503;
  }
  return 500;
}

HttpResponse Problem(const Status& status) {
  const int code = HttpStatusOf(status);
  std::string detail = status.message();
  if (status.code() == Code::kIoError || status.code() == Code::kCorruption) {
    // Storage messages name files of the server: they go to the log, not to the client.
    spdlog::error("storage failure answered with {}: {}", code, status.message());
    detail = "the storage failed; nothing was applied, try again";
  }
  json::object body{{"type", "/problems/" + status.reason()},
                    {"title", status.reason()},
                    {"status", code},
                    {"detail", detail},
                    {"code", status.reason()}};
  if (!status.field().empty()) body["field"] = status.field();
  HttpResponse response = JsonResponse(code, body);
  response.content_type = "application/problem+json";
  if (code == 401) response.headers.push_back({"WWW-Authenticate", "Bearer"});
  return response;
}

std::optional<RouteId> Handlers::Match(const HttpRequest& request,
                                       std::vector<std::string>& params,
                                       HttpResponse& error) const {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    error = Problem(Invalid("invalid_target", "the request target is not a valid URL", "target"));
    return std::nullopt;
  }
  std::vector<std::string> segments;
  for (auto segment : url->segments()) segments.push_back(segment);
  bool path_matched = false;
  for (const Route& route : kRoutes) {
    const std::vector<std::string_view> pattern = Split(route.path);
    if (pattern.size() != segments.size()) continue;
    std::vector<std::string> captured;
    bool ok = true;
    for (size_t i = 0; i < pattern.size() && ok; ++i) {
      if (pattern[i].starts_with('{')) {
        ok = !segments[i].empty();
        captured.push_back(segments[i]);
      } else {
        ok = pattern[i] == segments[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method != request.method) continue;
    params = std::move(captured);
    return route.id;
  }
  error = path_matched
              ? Problem(Status(Code::kInvalidArgument, "method_not_allowed", "method not allowed"))
              : Problem(Status(Code::kNotFound, "not_found", "no such route"));
  if (path_matched) error.status = 405;
  return std::nullopt;
}

HttpResponse Handlers::Handle(const HttpRequest& request) {
  std::vector<std::string> params;
  HttpResponse error;
  std::optional<RouteId> route = Match(request, params, error);
  if (!route) return error;
  if (*route == RouteId::kHealthz || *route == RouteId::kReadyz || *route == RouteId::kMetrics) {
    return Ops(*route);
  }
  Call call{request, std::move(params), *boost::urls::parse_origin_form(request.target), {}};
  std::string_view auth = request.authorization;
  if (!auth.starts_with("Bearer ")) {
    return Problem(Status(Code::kUnauthenticated, "unauthenticated", "a bearer token is needed"));
  }
  auto who = engine_.Authenticate(std::string(auth.substr(7)));
  if (!who.ok()) return Problem(who.status());
  call.who = *who;
  try {
    return Dispatch(*route, call);
  } catch (const std::exception&) {  // a storage read failed under us
    return Problem(Status(Code::kIoError, "storage_error", "the storage failed; try again"));
  }
}

HttpResponse Handlers::Dispatch(RouteId route, Call& call) {
  const auto body = [&]() { return ParseObject(call.request.body); };
  const std::string& id = call.params.empty() ? call.request.target : call.params[0];
  switch (route) {
    case RouteId::kCreateCustomer: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto c = CreateCustomerFromJson(*o);
      return c.ok() ? Command(call, *c, 201) : Problem(c.status());
    }
    case RouteId::kUpdateCustomer: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto c = UpdateCustomerFromJson(*o);
      if (!c.ok()) return Problem(c.status());
      c->id = id;
      return Command(call, *c, 200);
    }
    case RouteId::kDeleteCustomer: return Command(call, DeleteCustomer{id}, 204);
    case RouteId::kCreateDirectContact:
    case RouteId::kCreateSharedContact: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto c = CreateContactFromJson(*o, route == RouteId::kCreateDirectContact ? id : "");
      return c.ok() ? Command(call, *c, 201) : Problem(c.status());
    }
    case RouteId::kEditContact: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto patch = ContactPatchFromJson(*o);
      return patch.ok() ? Command(call, EditContact{id, *patch}, 200) : Problem(patch.status());
    }
    case RouteId::kDeleteContact: return Command(call, DeleteContact{id}, 204);
    case RouteId::kShareContact: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto contact = ContactIdFromJson(*o);
      return contact.ok() ? Command(call, ShareContact{*contact, id}, 200)
                          : Problem(contact.status());
    }
    case RouteId::kUnlinkContact:
      return Command(call, UnlinkContact{call.params[1], id}, 204);
    case RouteId::kSetLinkRoles: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto roles = RolesFromJson(*o);
      return roles.ok() ? Command(call, SetLinkRoles{id, call.params[1], *roles}, 200)
                        : Problem(roles.status());
    }
    case RouteId::kConvertToShared: return Command(call, ConvertToShared{id}, 200);
    case RouteId::kRestoreContact: return Command(call, RestoreContact{id}, 200);
    case RouteId::kResetPassword: {
      auto o = body();
      if (!o.ok()) return Problem(o.status());
      auto choice = PasswordChoiceFromJson(*o);
      return choice.ok() ? Command(call, ResetPassword{id, *choice}, 200)
                         : Problem(choice.status());
    }
    case RouteId::kEvents: return Events(call);
    case RouteId::kLedgerDigest:
    case RouteId::kLedgerVerify: return Verify(call);
    case RouteId::kAdminCreateTenant:
    case RouteId::kAdminIssueToken:
    case RouteId::kAdminRevokeToken:
    case RouteId::kAdminProjections:
    case RouteId::kAdminRebuildProjection:
    case RouteId::kAdminBackup:
    case RouteId::kAdminStats: return Admin(route, call);
    default: return Read(route, call);
  }
}

// Runs a command, then answers with the record it touched (read-your-writes).
HttpResponse Handlers::Command(Call& call, cledger::Command command, int success_status) {
  auto expected = ParseIfMatch(call.request.if_match);
  if (!expected.ok()) return Problem(expected.status());
  CommandContext context{call.who.tenant, call.who.actor, call.request.idempotency_key, *expected,
                         call.request.request_id};
  const bool customer = std::holds_alternative<CreateCustomer>(command) ||
                        std::holds_alternative<UpdateCustomer>(command) ||
                        std::holds_alternative<DeleteCustomer>(command);
  const bool password = std::holds_alternative<ResetPassword>(command);
  auto outcome = engine_.Execute(context, std::move(command));
  if (!outcome.ok()) return Problem(outcome.status());
  HttpResponse response;
  response.status = success_status;
  response.headers.push_back({"ETag", ETag(outcome->version)});
  if (success_status == 204) {
    response.content_type.clear();
    return response;
  }
  if (password) {
    if (outcome->temporary_password.empty()) {
      response.status = 204;
      response.content_type.clear();
      return response;
    }
    return JsonResponse(200, json::object{{"temporary_password", outcome->temporary_password}});
  }
  const std::string location =
      (customer ? "/v1/customers/" : "/v1/contacts/") + outcome->id;
  if (success_status == 201) response.headers.push_back({"Location", location});
  if (customer) {
    auto view = engine_.GetCustomer(call.who, outcome->id);
    if (!view.ok()) return Problem(view.status());
    response.body = json::serialize(ToJson(*view));
  } else {
    auto view = engine_.GetContact(call.who, outcome->id);
    if (!view.ok()) return Problem(view.status());
    response.body = json::serialize(ToJson(*view));
  }
  return response;
}

HttpResponse Handlers::Read(RouteId route, Call& call) {
  const std::string& id = call.params.empty() ? std::string() : call.params[0];
  auto as_of = call.As();
  if (!as_of.ok()) return Problem(as_of.status());
  auto page = [&](const auto& items) {
    if (!items.ok()) return Problem(items.status());
    auto body = call.Page(*items);
    return body.ok() ? JsonResponse(200, *body) : Problem(body.status());
  };
  switch (route) {
    case RouteId::kGetCustomer: {
      auto view = engine_.GetCustomer(call.who, id, *as_of);
      if (!view.ok()) return Problem(view.status());
      HttpResponse r = JsonResponse(200, ToJson(*view));
      r.headers.push_back({"ETag", ETag(view->system.version)});
      return r;
    }
    case RouteId::kGetContact: {
      auto view = engine_.GetContact(call.who, id, *as_of);
      if (!view.ok()) return Problem(view.status());
      HttpResponse r = JsonResponse(200, ToJson(*view));
      r.headers.push_back({"ETag", ETag(view->system.version)});
      return r;
    }
    case RouteId::kListContacts: {
      const std::string status = call.Query("status").value_or("active");
      if (status != "active" && status != "inactive" && status != "all") {
        return Problem(Invalid("invalid_enum", "status is active, inactive or all", "status"));
      }
      return page(engine_.ListContacts(call.who, id,
                                       status == "all"        ? ContactStatus::kAll
                                       : status == "inactive" ? ContactStatus::kInactive
                                                              : ContactStatus::kActive));
    }
    case RouteId::kRecipients: {
      auto kind = call.Query("kind");
      if (!kind) return Problem(Invalid("required", "kind is required", "kind"));
      return page(engine_.Recipients(call.who, id, *kind));
    }
    case RouteId::kContactHistory: return page(engine_.ContactHistory(call.who, id, *as_of));
    case RouteId::kCustomerHistory: return page(engine_.CustomerHistory(call.who, id, *as_of));
    case RouteId::kAudit: {
      auto actor = call.Query("actor");
      if (!actor) return Problem(Invalid("required", "actor is required", "actor"));
      int64_t from = 0, to = INT64_MAX;
      for (auto [key, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
        if (auto text = call.Query(key)) {
          auto us = ParseRfc3339(*text);
          if (!us.ok()) return Problem(Invalid("invalid_time", "an RFC 3339 time", key));
          *out = *us;
        }
      }
      return page(engine_.ActorHistory(call.who, *actor, from, to));
    }
    default:
      return Problem(Status(Code::kNotFound, "not_found", "no such route"));
  }
}

HttpResponse Handlers::Events(Call& call) {
  if (!CanReadEvents(call.who)) {
    return Problem(Status(Code::kPermissionDenied, "forbidden", "this role may not read events"));
  }
  auto from = call.Number("from", 1);
  auto limit = call.Number("limit", kPageDefault);
  if (!from.ok()) return Problem(from.status());
  if (!limit.ok()) return Problem(limit.status());
  StreamPlan plan{call.who};
  auto events = engine_.ledger().Read(std::max<uint64_t>(*from, 1), std::min<size_t>(*limit, kPageMax));
  if (!events.ok()) return Problem(events.status());
  const uint64_t next = events->empty() ? *from : events->back().position + 1;
  if (call.request.accept.find("application/x-flatbuffers") != std::string::npos) {
    HttpResponse response{200, "application/x-flatbuffers", {}, {}};
    for (const Event& e : *events) {
      if (!plan.Wants(e)) continue;
      auto raw = engine_.ledger().ReadRaw(e.position);
      if (!raw.ok()) return Problem(raw.status());
      const uint32_t size = static_cast<uint32_t>(raw->size());
      for (int i = 0; i < 4; ++i) response.body.push_back(static_cast<char>(size >> (8 * i)));
      response.body += *raw;
    }
    response.headers.push_back({"X-Next-Position", std::to_string(next)});
    return response;
  }
  json::array items;
  for (const Event& e : *events) {
    if (plan.Wants(e)) items.push_back(ToJson(e));
  }
  return JsonResponse(200, json::object{{"events", std::move(items)}, {"next", next}});
}

HttpResponse Handlers::Verify(Call& call) {
  const std::string& role = call.who.actor.role;
  if (role != "ops" && role != "auditor" && role != "owner" && role != "admin") {
    return Problem(Status(Code::kPermissionDenied, "forbidden", "this role may not verify"));
  }
  const bool digest_only = call.request.target.starts_with("/v1/ledger/digest");
  if (digest_only) {
    const Head head = engine_.ledger().GetHead();
    return JsonResponse(200, json::object{{"position", head.position}, {"hash", HexOf(head.hash)}});
  }
  const VerifyReport chain = engine_.ledger().VerifyChain();
  json::array projections;
  if (auto mismatches = engine_.VerifyProjections(); mismatches.ok()) {
    for (const auto& m : *mismatches) {
      // A key names some tenant's record: only ops, who see every tenant, get it.
      json::object item{{"projection", m.projection}};
      if (call.who.actor.role == "ops") item["key"] = m.key;
      projections.push_back(std::move(item));
    }
  }
  json::object report{{"ok", chain.ok && projections.empty()},
                      {"events_checked", chain.events_checked},
                      {"first_broken_position", chain.first_broken_position},
                      {"problem", chain.problem},
                      {"position", chain.head.position},
                      {"hash", HexOf(chain.head.hash)},
                      {"projections", std::move(projections)}};
  return JsonResponse(200, report);
}

HttpResponse Handlers::Admin(RouteId route, Call& call) {
  if (call.who.actor.role != "ops") {
    return Problem(Status(Code::kPermissionDenied, "forbidden", "admin routes need an ops token"));
  }
  CommandContext context{"", call.who.actor, call.request.idempotency_key, {},
                         call.request.request_id};
  switch (route) {
    case RouteId::kAdminCreateTenant: {
      auto o = ParseObject(call.request.body);
      if (!o.ok()) return Problem(o.status());
      auto c = CreateTenantFromJson(*o);
      if (!c.ok()) return Problem(c.status());
      auto outcome = engine_.Execute(context, *c);
      if (!outcome.ok()) return Problem(outcome.status());
      return JsonResponse(201, json::object{{"name", c->name}, {"plan", c->plan}});
    }
    case RouteId::kAdminIssueToken: {
      auto o = ParseObject(call.request.body);
      if (!o.ok()) return Problem(o.status());
      auto c = IssueTokenFromJson(*o);
      if (!c.ok()) return Problem(c.status());
      auto outcome = engine_.Execute(context, *c);
      if (!outcome.ok()) return Problem(outcome.status());
      return JsonResponse(201, json::object{{"token", outcome->token},
                                            {"token_hash", outcome->token_hash},
                                            {"tenant", c->tenant},
                                            {"actor", c->actor_id},
                                            {"role", c->role}});
    }
    case RouteId::kAdminRevokeToken: {
      auto outcome = engine_.Execute(context, RevokeToken{"", call.params[0]});
      if (!outcome.ok()) return Problem(outcome.status());
      return HttpResponse{204, "", "", {}};
    }
    case RouteId::kAdminBackup: {
      auto o = ParseObject(call.request.body);
      if (!o.ok()) return Problem(o.status());
      const json::value* dir = o->if_contains("dir");
      if (o->size() != 1 || dir == nullptr || !dir->is_string() || dir->as_string().empty()) {
        return Problem(Invalid("required", "the body is {\"dir\": \"<backup directory>\"}", "dir"));
      }
      if (Status s = engine_.Backup(std::string(dir->as_string())); !s.ok()) return Problem(s);
      const Head head = engine_.ledger().GetHead();
      return JsonResponse(201, json::object{{"dir", *dir}, {"position", head.position}});
    }
    case RouteId::kAdminStats: {
      auto stats = engine_.Stats();
      if (!stats.ok()) return Problem(stats.status());
      return JsonResponse(200, json::object{{"position", stats->head.position},
                                            {"hash", HexOf(stats->head.hash)},
                                            {"events", stats->head.position},
                                            {"commits", stats->ledger.commits},
                                            {"tenants", stats->tenants},
                                            {"customers", stats->customers},
                                            {"contacts", stats->contacts},
                                            {"size_bytes", stats->size_bytes}});
    }
    case RouteId::kAdminRebuildProjection: {
      if (Status s = engine_.Rebuild(call.params[0]); !s.ok()) return Problem(s);
      for (const ProjectionStatus& p : engine_.Projections()) {
        if (p.name == call.params[0]) return JsonResponse(200, ToJson(p));
      }
      return Problem(Status(Code::kNotFound, "projection_not_found", "no such projection"));
    }
    default: {
      json::array items;
      for (const ProjectionStatus& p : engine_.Projections()) items.push_back(ToJson(p));
      return JsonResponse(200, json::object{{"items", std::move(items)}});
    }
  }
}

HttpResponse Handlers::Ops(RouteId route) {
  if (route == RouteId::kMetrics) return Metrics();
  if (route == RouteId::kHealthz) return JsonResponse(200, json::object{{"status", "ok"}});
  uint64_t lag = 0;  // of the projections commands validate against; followers may trail
  for (const ProjectionStatus& p : engine_.Projections()) {
    if (p.inline_with_commits) lag = std::max(lag, p.lag);
  }
  return JsonResponse(lag == 0 ? 200 : 503,
                      json::object{{"status", lag == 0 ? "ready" : "catching up"}, {"lag", lag}});
}

HttpResponse Handlers::Metrics() {
  const LedgerStats stats = engine_.ledger().Stats();
  std::string out;
  auto line = [&](const std::string& text) { out += text + "\n"; };
  line("# HELP cledger_commits_total Commits acknowledged since start.");
  line("# TYPE cledger_commits_total counter");
  line("cledger_commits_total " + std::to_string(stats.commits));
  line("# HELP cledger_commits_rejected_total Commands refused by a rule, version or limit.");
  line("# TYPE cledger_commits_rejected_total counter");
  line("cledger_commits_rejected_total " + std::to_string(stats.rejected));
  line("# HELP cledger_events_total Events in the ledger (head position).");
  line("# TYPE cledger_events_total gauge");
  line("cledger_events_total " + std::to_string(engine_.ledger().GetHead().position));
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
  line("# HELP cledger_stream_subscribers Live event stream subscribers.");
  line("# TYPE cledger_stream_subscribers gauge");
  line("cledger_stream_subscribers " + std::to_string(metrics_.subscribers.load()));
  line("# HELP cledger_projection_lag_events Events a projection has yet to apply.");
  line("# TYPE cledger_projection_lag_events gauge");
  for (const ProjectionStatus& p : engine_.Projections()) {
    line("cledger_projection_lag_events{projection=\"" + p.name + "\"} " + std::to_string(p.lag));
  }
  line("# HELP cledger_http_responses_total HTTP responses by status code.");
  line("# TYPE cledger_http_responses_total counter");
  for (size_t i = 0; i < std::size(HttpMetrics::kStatuses); ++i) {
    line("cledger_http_responses_total{code=\"" + std::to_string(HttpMetrics::kStatuses[i]) +
         "\"} " + std::to_string(metrics_.responses[i].load()));
  }
  return HttpResponse{200, "text/plain; version=0.0.4", out, {}};
}

Result<StreamPlan> Handlers::PlanStream(const HttpRequest& request) {
  std::string_view auth = request.authorization;
  if (!auth.starts_with("Bearer ")) {
    return Status(Code::kUnauthenticated, "unauthenticated", "a bearer token is needed");
  }
  auto who = engine_.Authenticate(std::string(auth.substr(7)));
  if (!who.ok()) return who.status();
  if (!CanReadEvents(*who)) {
    return Status(Code::kPermissionDenied, "forbidden", "this role may not read the stream");
  }
  Call call{request, {}, *boost::urls::parse_origin_form(request.target), *who};
  StreamPlan plan{*who};
  plan.from = engine_.ledger().GetHead().position + 1;  // live, unless told where to resume
  if (!request.last_event_id.empty()) {
    auto last = ParseU64(request.last_event_id);
    if (!last) return Invalid("invalid_header", "Last-Event-ID is a position", "Last-Event-ID");
    plan.from = *last + 1;
  } else if (call.Query("from")) {
    auto from = call.Number("from", 1);
    if (!from.ok()) return from.status();
    plan.from = std::max<uint64_t>(*from, 1);
  }
  if (auto types = call.Query("types")) {
    for (std::string_view rest = *types; !rest.empty();) {
      const size_t comma = rest.find(',');
      const std::string type(rest.substr(0, comma));
      if (!IsEventTypeName(type)) {
        return Invalid("invalid_enum", "unknown event type in types", "types");
      }
      plan.types.insert(type);
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
  }
  plan.stream = call.Query("stream").value_or("");
  plan.customer = call.Query("customer").value_or("");
  return plan;
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

std::string Handlers::SseFrame(const Event& event) {
  return "id: " + std::to_string(event.position) + "\nevent: " +
         std::string(EventTypeName(event.body)) + "\ndata: " + json::serialize(ToJson(event)) +
         "\n\n";
}

}  // namespace cledger::api
