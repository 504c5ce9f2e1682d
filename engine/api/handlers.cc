// The routes of customers, contacts and history: matching, authentication, commands, reads.
#include "engine/api/handlers.h"

#include <spdlog/spdlog.h>

#include "cledger/limits.h"
#include "engine/api/handlers_call.h"
#include "engine/domain/validate.h"

namespace cledger::api {
namespace {

// The most of a message a problem repeats: enough for any id we accept, with room to spare.
constexpr size_t kDetailBytesMax = 256;

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
  return "req-" + std::to_string(number);
}

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
                                 "invalid_query", "bad_request", "invalid_target",
                                 "duplicate_key"}) {
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
    case Code::kNoSpace: return 507;
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

std::optional<RouteId> Handlers::Match(const HttpRequest& request,
                                       std::vector<std::string>& params,
                                       HttpResponse& error) const {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    error = Problem(Status::InvalidArgument("invalid_target",
                                            "the request target is not a valid URL", "target"));
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
  const Status wrong_method = Status::InvalidArgument("method_not_allowed", "method not allowed");
  error = path_matched ? Problem(wrong_method, 405)
                       : Problem(Status::NotFound("not_found", "no such route"));
  return std::nullopt;
}

Handlers::Served Handlers::Serve(const HttpRequest& request) {
  std::vector<std::string> params;
  HttpResponse error;
  std::optional<RouteId> route = Match(request, params, error);
  if (!route) return {"-", std::move(error)};
  const std::string_view path = kRoutes[static_cast<size_t>(*route)].path;
  if (*route == RouteId::kHealthz || *route == RouteId::kReadyz) return {path, Ops(*route)};
  // Match parsed the target already: this parse cannot fail.
  Call call{request, std::move(params), *boost::urls::parse_origin_form(request.target), {}};
  auto who = Authenticate(request.authorization);
  if (!who.ok()) return {path, Problem(who.status())};
  call.who = *who;
  // Storage faults arrive as values: 503, or 500 if corrupt.
  if (*route != RouteId::kEventStream) return {path, Dispatch(*route, call)};
  auto plan = PlanStream(call);
  if (!plan.ok()) return {path, Problem(plan.status())};
  return {path, std::move(plan).value()};
}

HttpResponse Handlers::Handle(const HttpRequest& request) {
  Served served = Serve(request);
  if (auto* response = std::get_if<HttpResponse>(&served.answer)) return std::move(*response);
  return HttpResponse{200, "text/event-stream", "", {}};
}

// RFC 9110 §11.1: the scheme's name is case-insensitive.
Result<Principal> Handlers::Authenticate(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  const bool bearer =
      authorization.size() > kScheme.size() &&
      std::equal(kScheme.begin(), kScheme.end(), authorization.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      });
  if (!bearer) return Status(Code::kUnauthenticated, "unauthenticated", "a bearer token is needed");
  return engine_.Authenticate(std::string(authorization.substr(kScheme.size())));
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
    case RouteId::kMetrics:  // figures of every tenant: ops only
      if (call.who.actor.role != "ops") {
        return Problem(Status(Code::kPermissionDenied, "forbidden", "metrics need an ops token"));
      }
      return Metrics();
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
  // A retry answers as the first time did: the record as the command left it, even if it has
  // changed since.
  const AsOf as_of = outcome->replayed ? AsOf{outcome->last_position, {}} : AsOf{};
  if (customer) {
    auto view = engine_.GetCustomer(call.who, outcome->id, as_of);
    if (!view.ok()) return Problem(view.status());
    response.body = json::serialize(ToJson(*view));
  } else {
    auto view = engine_.GetContact(call.who, outcome->id, as_of);
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
        return Problem(
            Status::InvalidArgument("invalid_enum", "status is active, inactive or all", "status"));
      }
      return page(engine_.ListContacts(call.who, id,
                                       status == "all"        ? ContactStatus::kAll
                                       : status == "inactive" ? ContactStatus::kInactive
                                                              : ContactStatus::kActive));
    }
    case RouteId::kRecipients: {
      auto kind = call.Query("kind");
      if (!kind) return Problem(Status::InvalidArgument("required", "kind is required", "kind"));
      return page(engine_.Recipients(call.who, id, *kind));
    }
    case RouteId::kContactHistory: return page(engine_.ContactHistory(call.who, id, *as_of));
    case RouteId::kCustomerHistory: return page(engine_.CustomerHistory(call.who, id, *as_of));
    case RouteId::kAudit: {
      auto actor = call.Query("actor");  // absent: every actor of the tenant
      int64_t from = 0, to = INT64_MAX;
      for (auto [key, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
        if (auto text = call.Query(key)) {
          auto us = ParseRfc3339(*text);
          if (!us.ok()) {
            return Problem(Status::InvalidArgument("invalid_time", "an RFC 3339 time", key));
          }
          *out = *us;
        }
      }
      return page(actor ? engine_.ActorHistory(call.who, *actor, from, to)
                        : engine_.TenantAudit(call.who, from, to));
    }
    default:
      return Problem(Status(Code::kNotFound, "not_found", "no such route"));
  }
}

}  // namespace cledger::api
