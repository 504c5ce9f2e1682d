// The routes of customers, contacts and history: matching, authentication, commands, reads.
#include "engine/api/handlers.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <random>

#include "cledger/audit_export.h"
#include "cledger/limits.h"
#include "engine/api/handlers_call.h"
#include "engine/domain/roles.h"
#include "engine/domain/validate.h"

namespace cledger::api {
namespace {

// The most of a message a problem repeats: enough for any id we accept (128 bytes) and for the
// longest list the server itself gives (the event types, about 330 bytes), not for a page of
// echoed input.
constexpr size_t kDetailBytesMax = 512;

// `text` as it may appear in a problem: well-formed UTF-8 (a bad byte becomes U+FFFD), no
// control characters, cut to kDetailBytesMax. Messages echo ids and keys a client sent.
std::string Printable(std::string_view text) {
  std::string out;
  while (!text.empty() && out.size() < kDetailBytesMax) {
    const size_t n = domain::Utf8CharLength(text);
    const auto c = static_cast<unsigned char>(text[0]);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
    } else if (n == 1 && (c < 0x20 || c == 0x7F)) {
      out += '?';
    } else {
      out.append(text.substr(0, n));
    }
    text.remove_prefix(std::max<size_t>(n, 1));
  }
  if (!text.empty()) out += "...";
  return out;
}

bool IsRequestIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
         c == '-';
}

}  // namespace

std::string RequestIdOf(std::string_view header, uint64_t number) {
  constexpr size_t kRequestIdMax = 64;
  if (!header.empty() && header.size() <= kRequestIdMax &&
      std::all_of(header.begin(), header.end(), IsRequestIdChar)) {
    return std::string(header);
  }
  // The run's own prefix keeps generated ids unique across restarts: "req-3f9a0c1d-12".
  static const std::string run = [] {
    std::random_device random;
    char text[9];
    std::snprintf(text, sizeof text, "%08x", random());
    return std::string(text);
  }();
  return "req-" + run + "-" + std::to_string(number);
}

void HttpMetrics::Count(int status) {
  size_t i = 0;
  while (i < std::size(kStatuses) && kStatuses[i] != status) ++i;
  responses[i].fetch_add(1, std::memory_order_relaxed);
}

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return 200;
    case Code::kInvalidArgument:
      // Requests that cannot be read at all are 400; readable but invalid ones are 422.
      for (const char* syntax :
           {"malformed_json", "invalid_utf8", "invalid_header", "invalid_query", "bad_request",
            "invalid_target", "duplicate_key"}) {
        if (status.reason() == syntax) return 400;
      }
      return 422;
    case Code::kNotFound:
      return 404;
    case Code::kPermissionDenied:
      return 403;
    case Code::kConflict:
      return 409;
    case Code::kVersionMismatch:
      return 412;
    case Code::kLimitExceeded:
      return 413;
    case Code::kUnauthenticated:
      return 401;
    case Code::kCorruption:
      return 500;
    case Code::kIoError:
    case Code::kUnavailable:
      return 503;
    case Code::kNoSpace:
      return 507;
  }
  return 500;
}

HttpResponse Problem(const Status& status) { return Problem(status, HttpStatusOf(status)); }

HttpResponse Problem(const Status& status, int code) {
  std::string detail = Printable(status.message());
  if (status.code() == Code::kIoError || status.code() == Code::kCorruption ||
      status.code() == Code::kNoSpace) {
    // Storage messages name files of the server: they go to the log, not to the client.
    spdlog::error("storage failure answered with {}: {}", code, status.message());
    detail = "the storage failed; nothing was applied, try again";
  }
  json::object body{{"type", "/problems/" + status.reason()},
                    {"title", status.reason()},
                    {"status", code},
                    {"detail", detail},
                    {"code", status.reason()}};
  if (!status.field().empty()) body["field"] = Printable(status.field());
  HttpResponse response = JsonResponse(code, body);
  response.content_type = "application/problem+json";
  if (code == 401) response.headers.push_back({"WWW-Authenticate", "Bearer"});
  if (code == 503 || code == 507) {  // a storage fault or a full disk: both clear by themselves
    response.headers.push_back({"Retry-After", std::to_string(limits::kRetryAfterSeconds)});
  }
  return response;
}

Handlers::Match Handlers::Find(const HttpRequest& request) {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    return {nullptr,
            {},
            Problem(Status::InvalidArgument("invalid_target",
                                            "the request target is not a valid URL", "target"))};
  }
  std::vector<std::string> segments;
  for (auto segment : url->segments()) segments.push_back(segment);
  std::string allowed;  // the methods of the routes whose path matched
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
    if (route.method == request.method) return {&route, std::move(captured), {}};
    allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
  }
  if (allowed.empty())
    return {nullptr, {}, Problem(Status::NotFound("not_found", "no such route"))};
  HttpResponse wrong_method =
      Problem(Status::InvalidArgument("method_not_allowed",
                                      "method not allowed; this path takes " + allowed),
              405);
  wrong_method.headers.push_back({"Allow", allowed});  // RFC 9110 §15.5.6
  return {nullptr, {}, std::move(wrong_method)};
}

// A cluster node may wait for a position (Node::AwaitPosition) or for a partition's owner;
// elsewhere a time-travel read is only the kind of work best done off the I/O threads.
bool Handlers::MayWait(const Route& route, const HttpRequest& request) const {
  if (router_.MayBlock(route)) return true;
  auto url = boost::urls::parse_origin_form(request.target);
  return url && (url->params().contains("min_position") || url->params().contains("at"));
}

Handlers::Handlers(EngineRouter& router, HttpMetrics& metrics)
    : router_(router), metrics_(metrics) {
  for (Engine* engine : router_.Engines()) {
    verifications_.emplace(engine, std::make_unique<SharedVerification>());
  }
  if (router_.Engines().size() > 1) partitions_ = router_.Engines();
}

Handlers::Handlers(Engine& engine, HttpMetrics& metrics)
    : single_(std::make_unique<SingleEngine>(engine)), router_(*single_), metrics_(metrics) {
  verifications_.emplace(&engine, std::make_unique<SharedVerification>());
}

namespace {

// Every query parameter must be one the route (or the router) reads, and given once.
Status CheckQuery(const Route& route, const EngineRouter& router, boost::urls::url_view url) {
  std::vector<std::string> seen;
  for (auto param : url.params()) {
    const std::string key = param.key;
    if (key.empty() && !param.has_value) continue;  // "?" or "a=1&": nothing was given
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return Status::InvalidArgument("invalid_query", "given more than once", key);
    }
    seen.push_back(key);
    if (TakesQuery(route, key) || router.RoutesBy(key)) continue;
    const std::string takes = route.query.empty() ? "this route takes no query parameters"
                                                  : "this route takes: " + std::string(route.query);
    return Status::InvalidArgument("invalid_query", "unknown query parameter; " + takes, key);
  }
  return Status::Ok();
}

}  // namespace

Handlers::Served Handlers::Serve(const HttpRequest& request, Match match) {
  if (match.route == nullptr) return {"-", std::move(match.problem)};
  const Route& route = *match.route;
  Principal who;
  Engine* engine = router_.Engines().front();
  if (route.action) {
    auto authenticated = Authenticate(request.authorization);
    if (!authenticated.ok()) return {route.path, Problem(authenticated.status())};
    if (Status s = domain::Authorize(*authenticated, *route.action); !s.ok()) {
      return {route.path, Problem(s)};
    }
    who = std::move(authenticated).value();
    auto chosen = router_.Choose(who, route, request);
    if (auto* elsewhere = std::get_if<HttpResponse>(&chosen)) {
      return {route.path, std::move(*elsewhere)};
    }
    engine = std::get<Engine*>(chosen);
  }
  // Find parsed the target already: this parse cannot fail.
  const boost::urls::url_view url = *boost::urls::parse_origin_form(request.target);
  if (Status s = CheckQuery(route, router_, url); !s.ok()) return {route.path, Problem(s)};
  Call call{request,  std::move(match.params),   url, std::move(who), *engine,
            metrics_, *verifications_.at(engine)};
  if (!partitions_.empty()) call.partitions = &partitions_;
  // Storage faults arrive as values: 503, or 500 if corrupt.
  return {route.path, route.handler(call)};
}

HttpResponse Handlers::Handle(const HttpRequest& request) {
  Served served = Serve(request);
  if (auto* response = std::get_if<HttpResponse>(&served.answer)) return std::move(*response);
  if (auto* command = std::get_if<PendingCommand>(&served.answer)) {
    return command->respond(command->engine->Execute(command->context, command->command));
  }
  return HttpResponse{200, "text/event-stream", "", {}};
}

// RFC 9110 §11.1: the scheme's name is case-insensitive.
Result<Principal> Handlers::Authenticate(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  const bool bearer =
      authorization.size() > kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  if (!bearer) return Status(Code::kUnauthenticated, "unauthenticated", "a bearer token is needed");
  return router_.Authenticate(std::string(authorization.substr(kScheme.size())));
}

namespace {

// The answer to a command once it has run: with the record it touched (read-your-writes).
struct CommandAnswer {
  Engine* engine;
  Principal who;
  bool customer;  // else a contact
  bool password;  // a password reset
  int success_status;

  HttpResponse operator()(const Result<CommandOutcome>& outcome) const {
    if (!outcome.ok()) return Problem(outcome.status());
    HttpResponse response;
    response.status = success_status;
    response.headers.push_back({"ETag", ETag(outcome->version)});
    // Where the command's events are: a read elsewhere can wait for it (?min_position=).
    response.headers.push_back({"X-Ledger-Position", std::to_string(outcome->last_position)});
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
      response.content_type = "application/json";
      response.body =
          json::serialize(json::object{{"temporary_password", outcome->temporary_password}});
      return response;
    }
    const std::string location = (customer ? "/v1/customers/" : "/v1/contacts/") + outcome->id;
    if (success_status == 201) response.headers.push_back({"Location", location});
    auto body = customer ? Record(&Engine::GetCustomer, outcome->customer, *outcome)
                         : Record(&Engine::GetContact, outcome->contact, *outcome);
    if (!body.ok()) return Problem(body.status());
    response.body = std::move(*body);
    return response;
  }

  // The record as the command left it, matching the ETag: as the writer kept it, or, for a
  // retry (or where it kept none), read as of the command's position (the live view, the
  // common case, costs least).
  template <typename Read, typename View>
  Result<std::string> Record(Read read, const std::optional<View>& kept,
                             const CommandOutcome& outcome) const {
    if (kept && kept->system.version == outcome.version) return json::serialize(ToJson(*kept));
    const AsOf then{outcome.last_position, {}};
    auto view = (engine->*read)(who, outcome.id, outcome.replayed ? then : AsOf{});
    if (view.ok() && view->system.version != outcome.version) {
      view = (engine->*read)(who, outcome.id, then);
    }
    if (!view.ok()) return view.status();
    return json::serialize(ToJson(*view));
  }
};

// The command, for the server to run, and how to answer once it has.
Answer RunCommand(Call& call, Command command, int success_status) {
  auto expected = ParseIfMatch(call.request.if_match);
  if (!expected.ok()) return Problem(expected.status());
  CommandContext context{call.who.tenant, call.who.actor, call.request.idempotency_key, *expected,
                         call.request.request_id};
  const bool customer = std::holds_alternative<CreateCustomer>(command) ||
                        std::holds_alternative<UpdateCustomer>(command) ||
                        std::holds_alternative<DeleteCustomer>(command);
  const bool password = std::holds_alternative<ResetPassword>(command);
  // The answer shows the record, to whoever may read it (as a read after the command checks).
  context.wants_record = success_status != 204 && !password &&
                         domain::Can(call.who.actor.role, domain::Action::kReadRecords);
  const auto* create = std::get_if<CreateContact>(&command);
  const bool hashes = password || (create != nullptr && create->password.has_value());
  CommandAnswer answer{&call.engine, call.who, customer, password, success_status};
  return PendingCommand{&call.engine, std::move(context), std::move(command), hashes,
                        std::move(answer)};
}

// Reads the body with `from_json`, makes the command of its value with `make`, and runs it.
template <typename FromJson, typename Make>
Answer RunFromBody(Call& call, int success_status, FromJson from_json, Make make) {
  auto value = FromBody(call, from_json);
  if (!value.ok()) return Problem(value.status());
  return RunCommand(call, make(std::move(value).value()), success_status);
}

template <typename FromJson>
Answer RunFromBody(Call& call, int success_status, FromJson from_json) {
  return RunFromBody(call, success_status, from_json, [](auto command) { return command; });
}

// A record as the engine read it, its version as the ETag.
template <typename View>
Answer Record(const Result<View>& view) {
  if (!view.ok()) return Problem(view.status());
  HttpResponse r = JsonResponse(200, ToJson(*view));
  r.headers.push_back({"ETag", ETag(view->system.version)});
  return r;
}

// One page (?limit=, ?cursor=) of a list the engine read.
template <typename T>
Answer Paged(const Call& call, const Result<std::vector<T>>& items) {
  if (!items.ok()) return Problem(items.status());
  auto body = call.Page(*items);
  return body.ok() ? JsonResponse(200, *body) : Problem(body.status());
}

}  // namespace

namespace route {

Answer PostCustomer(Call& call) { return RunFromBody(call, 201, CreateCustomerFromJson); }

Answer PatchCustomer(Call& call) {
  return RunFromBody(call, 200, UpdateCustomerFromJson, [&](UpdateCustomer c) {
    c.id = call.params[0];
    return c;
  });
}

Answer DeleteCustomer(Call& call) {
  return RunCommand(call, cledger::DeleteCustomer{call.params[0]}, 204);
}

Answer PostDirectContact(Call& call) {
  return RunFromBody(
      call, 201, [&](const json::object& o) { return CreateContactFromJson(o, call.params[0]); });
}

Answer PostSharedContact(Call& call) {
  return RunFromBody(call, 201, [](const json::object& o) { return CreateContactFromJson(o, ""); });
}

Answer PatchContact(Call& call) {
  return RunFromBody(call, 200, ContactPatchFromJson, [&](ContactPatch patch) {
    return EditContact{call.params[0], std::move(patch)};
  });
}

Answer DeleteContact(Call& call) {
  return RunCommand(call, cledger::DeleteContact{call.params[0]}, 204);
}

Answer PostShare(Call& call) {
  return RunFromBody(call, 200, ContactIdFromJson, [&](std::string contact_id) {
    return ShareContact{std::move(contact_id), call.params[0]};
  });
}

Answer DeleteShare(Call& call) {
  return RunCommand(call, UnlinkContact{call.params[1], call.params[0]}, 204);
}

Answer PutLinkRoles(Call& call) {
  return RunFromBody(call, 200, RolesFromJson, [&](std::vector<std::string> roles) {
    return SetLinkRoles{call.params[0], call.params[1], std::move(roles)};
  });
}

Answer PostConvertToShared(Call& call) {
  return RunCommand(call, ConvertToShared{call.params[0]}, 200);
}

Answer PostRestore(Call& call) { return RunCommand(call, RestoreContact{call.params[0]}, 200); }

// 200 with {"already_erased": bool, "certificate": {...}} (FORMAT.md, "Personal data"). As a
// command's answer, it names the erasure's position and the record's version as the erasure
// left it (the first erasure, for one asked again).
Answer PostErase(Call& call, const std::string& subject) {
  auto reason = FromBody(call, ErasureReasonFromJson);
  if (!reason.ok()) return Problem(reason.status());
  auto expected = ParseIfMatch(call.request.if_match);
  if (!expected.ok()) return Problem(expected.status());
  CommandContext context{call.who.tenant, call.who.actor, call.request.idempotency_key, *expected,
                         call.request.request_id};
  auto erased = call.engine.Erase(context, subject, call.params[0], *reason);
  if (!erased.ok()) return Problem(erased.status());
  const AsOf then{erased->certificate.position, {}};
  auto version_of = [](const auto& view) -> Result<uint64_t> {
    if (!view.ok()) return view.status();
    return view->system.version;
  };
  const Result<uint64_t> version =
      subject == "contact" ? version_of(call.engine.GetContact(call.who, call.params[0], then))
                           : version_of(call.engine.GetCustomer(call.who, call.params[0], then));
  if (!version.ok()) return Problem(version.status());
  HttpResponse response =
      JsonResponse(200, json::object{{"already_erased", erased->already_erased},
                                     {"certificate", ToJson(erased->certificate)}});
  response.headers.push_back({"ETag", ETag(*version)});
  response.headers.push_back({"X-Ledger-Position", std::to_string(erased->certificate.position)});
  return response;
}
Answer PostContactErase(Call& call) { return PostErase(call, "contact"); }
Answer PostCustomerErase(Call& call) { return PostErase(call, "customer"); }

// Every key of the request may be a password sent by mistake: a repeated one is not named.
Answer PostPasswordReset(Call& call) {
  auto choice = FromBody(call, PasswordChoiceFromJson);
  if (!choice.ok() && choice.status().reason() == "duplicate_key") {
    return Problem(
        Status::InvalidArgument("duplicate_key", "a key appears twice in the request", "password"));
  }
  if (!choice.ok()) return Problem(choice.status());
  return RunCommand(call, ResetPassword{call.params[0], std::move(choice).value()}, 200);
}

// Every read refuses a malformed ?at= or ?as_of=, also those that answer for now only.

Answer GetCustomer(Call& call) {
  auto as_of = call.As();
  if (!as_of.ok()) return Problem(as_of.status());
  return Record(call.engine.GetCustomer(call.who, call.params[0], *as_of));
}

Answer GetContact(Call& call) {
  auto as_of = call.As();
  if (!as_of.ok()) return Problem(as_of.status());
  return Record(call.engine.GetContact(call.who, call.params[0], *as_of));
}

Answer GetCustomerContacts(Call& call) {
  auto status = call.ListStatus();
  if (!status.ok()) return Problem(status.status());
  return Paged(call, call.engine.ListContacts(call.who, call.params[0], *status));
}

Answer FindCustomers(Call& call) {
  return Paged(call, call.engine.FindCustomers(call.who, call.Query("q").value_or("")));
}

Answer FindContacts(Call& call) {
  auto status = call.ListStatus();
  if (!status.ok()) return Problem(status.status());
  return Paged(call, call.engine.FindContacts(call.who, call.Query("q").value_or(""), *status));
}

Answer GetRecipients(Call& call) {
  auto kind = call.Query("kind");
  if (!kind) return Problem(Status::InvalidArgument("required", "kind is required", "kind"));
  return Paged(call, call.engine.Recipients(call.who, call.params[0], *kind));
}

Answer GetContactHistory(Call& call) {
  auto as_of = call.As();
  if (!as_of.ok()) return Problem(as_of.status());
  return Paged(call, call.engine.ContactHistory(call.who, call.params[0], *as_of));
}

Answer GetCustomerHistory(Call& call) {
  auto as_of = call.As();
  if (!as_of.ok()) return Problem(as_of.status());
  return Paged(call, call.engine.CustomerHistory(call.who, call.params[0], *as_of));
}

// A page of the filtered trail as JSON, or the whole of it as CSV or JSON lines (Accept).
Answer GetAudit(Call& call) {
  AuditQuery query;
  query.actor = call.Query("actor").value_or("");
  query.record = call.Query("record").value_or("");
  query.field = call.Query("field").value_or("");
  for (auto [key, out] : {std::pair{"from", &query.from_us}, std::pair{"to", &query.to_us}}) {
    if (auto text = call.Query(key)) {
      auto us = ParseRfc3339(*text);
      if (!us.ok()) return Problem(BadTimeInQuery(key, *text));
      *out = *us;
    }
  }
  // A trail is read whole (then paged or exported): a few at a time, so that readers cannot
  // take the server's memory between them.
  constexpr int kAuditReadsMax = 4;
  static std::atomic<int> reading{0};
  struct Slot {
    ~Slot() { reading.fetch_sub(1); }
  } slot;
  if (reading.fetch_add(1) >= kAuditReadsMax) {
    return Problem(
        Status(Code::kUnavailable, "busy", "too many audit trails are being read; retry"));
  }
  auto entries = QueryAudit(call.engine, call.who, query);
  const std::string& accept = call.request.accept;
  for (auto [type, format] : {std::pair{"text/csv", AuditFormat::kCsv},
                              std::pair{"application/x-ndjson", AuditFormat::kJsonLines}}) {
    if (accept.find(type) == std::string::npos) continue;
    if (!entries.ok()) return Problem(entries.status());
    return HttpResponse{200,
                        std::string(type) + "; charset=utf-8",
                        ExportAudit(*entries, call.who.tenant, format),
                        {}};
  }
  return Paged(call, entries);
}

}  // namespace route
}  // namespace cledger::api
