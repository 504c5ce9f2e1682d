// Private to the handlers: the call a handler gets and small helpers the route files share.
#pragma once

#include <boost/json.hpp>
#include <boost/url.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "cledger/json.h"
#include "engine/api/handlers.h"
#include "engine/api/routes.h"

namespace cledger::api {

namespace json = boost::json;

inline constexpr size_t kPageMax = 1000;
inline constexpr size_t kPageDefault = 100;

inline HttpResponse JsonResponse(int status, const json::value& body) {
  return HttpResponse{status, "application/json", json::serialize(body), {}};
}

// A time in the query that does not parse: 400, naming the parameter. A "+01:00" offset sent
// as is arrives as " 01:00" (a + in a query is a space), which the answer says.
inline Status BadTimeInQuery(const std::string& key, std::string_view text) {
  const bool plus = text.find(' ') != std::string_view::npos;
  return Status::InvalidArgument(
      "invalid_query",
      key + " is an RFC 3339 time, e.g. 2026-01-31T09:30:00Z" +
          (plus ? "; a + in the query reads as a space: send it as %2B" : ""),
      key);
}

inline std::optional<uint64_t> ParseU64(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// `If-Match: "3"` (also W/"3" or a bare 3) → 3.
inline Result<std::optional<uint64_t>> ParseIfMatch(std::string_view header) {
  if (header.empty()) return std::optional<uint64_t>();
  if (header.starts_with("W/")) header.remove_prefix(2);
  if (header.size() >= 2 && header.front() == '"' && header.back() == '"') {
    header = header.substr(1, header.size() - 2);
  }
  auto version = ParseU64(header);
  if (!version) {
    return Status::InvalidArgument("invalid_header", "If-Match holds a version, e.g. \"3\"",
                                   "If-Match");
  }
  return std::optional<uint64_t>(*version);
}

// A listed token: its digest (what revocation takes) and metadata, never the token.
inline json::object ToJson(const TokenInfo& t) {
  const std::optional<int64_t>& expires = t.expires_at_us;
  return json::object{
      {"token_hash", t.token_hash},
      {"tenant", t.principal.tenant},
      {"actor", t.principal.actor.id},
      {"role", t.principal.actor.role},
      {"issued_at", base::Rfc3339Micros(t.issued_at_us)},
      {"expires_at", expires ? json::value(base::Rfc3339Micros(*expires)) : json::value(nullptr)}};
}

inline json::object ToJson(const ProjectionStatus& p) {
  return {{"name", p.name},
          {"applied_position", p.applied_position},
          {"lag", p.lag},
          {"generation", p.generation},
          {"inline", p.inline_with_commits}};
}

inline std::string ETag(uint64_t version) { return "\"" + std::to_string(version) + "\""; }

// "/v1/contacts/{id}" → {"v1", "contacts", "{id}"}
inline std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    path.remove_prefix(1);  // the '/'
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? "" : path.substr(slash);
  }
  return out;
}

// One request on its way through its route's handler, and what the handlers work with.
struct Call {
  const HttpRequest& request;
  std::vector<std::string> params;  // the path's {parameters}, in order
  boost::urls::url_view url;
  Principal who;  // no one on the routes that need no token
  Engine& engine;
  HttpMetrics& metrics;
  SharedVerification& verification;
  // A cluster node's partitions, in order, when it has more than one (else null): what an
  // ops stream follows when it names none.
  const std::vector<Engine*>* partitions = nullptr;

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
    if (!value) {
      return Status::InvalidArgument("invalid_query", "must be a non-negative integer",
                                     std::string(key));
    }
    return *value;
  }
  // Items per page: 1 to kPageMax, kPageDefault when absent. Zero would make a cursor that
  // never advances; more than kPageMax is refused rather than quietly cut.
  Result<size_t> Limit() const {
    auto limit = Number("limit", kPageDefault);
    if (!limit.ok()) return limit.status();
    if (*limit == 0 || *limit > kPageMax) {
      return Status::InvalidArgument("invalid_query", "limit is 1 to " + std::to_string(kPageMax),
                                     "limit");
    }
    return static_cast<size_t>(*limit);
  }
  // One page of `items` by `limit` and an offset `cursor`, with `next_cursor` when more follow.
  template <typename T>
  Result<json::object> Page(const std::vector<T>& items) const {
    auto limit = Limit();
    auto cursor = Number("cursor", 0);
    if (!limit.ok()) return limit.status();
    if (!cursor.ok()) return cursor.status();
    const size_t begin = std::min<size_t>(*cursor, items.size());
    const size_t end = std::min(items.size(), begin + *limit);
    json::array page;
    for (size_t i = begin; i < end; ++i) page.push_back(ToJson(items[i]));
    json::object out{{"items", std::move(page)}};
    if (end < items.size()) out["next_cursor"] = std::to_string(end);
    return out;
  }
  // ?status= of a contact list: active (the default), inactive (deleted) or all.
  Result<ContactStatus> ListStatus() const {
    const std::string status = Query("status").value_or("active");
    if (status == "active") return ContactStatus::kActive;
    if (status == "inactive") return ContactStatus::kInactive;
    if (status == "all") return ContactStatus::kAll;
    return Status::InvalidArgument("invalid_query", "status is active, inactive or all", "status");
  }
  Result<AsOf> As() const {
    AsOf as_of;
    // Both would name two moments that need not agree: which one was meant is not guessed.
    if (Query("at") && Query("as_of")) {
      return Status::InvalidArgument(
          "invalid_query", "give at (a ledger position) or as_of (a time), not both", "as_of");
    }
    if (auto at = Query("at")) {
      auto position = ParseU64(*at);
      if (!position || *position == 0) {  // positions start at 1, as `from` does
        return Status::InvalidArgument("invalid_query", "at is a ledger position, 1 or more", "at");
      }
      as_of.position = *position;
    }
    if (auto time = Query("as_of")) {
      auto us = ParseRfc3339(*time);
      if (!us.ok()) {
        return BadTimeInQuery("as_of", *time);
      }
      as_of.time_us = *us;
    }
    return as_of;
  }
};

// The request body's JSON object read by `from_json` (which returns a Result), or the
// failure of either. An empty (or blank) body is refused naming what to send: the first field an
// empty object lacks, when `from_json` names one.
template <typename FromJson>
auto FromBody(const Call& call, FromJson from_json) -> decltype(from_json(json::object())) {
  if (call.request.body.find_first_not_of(" \t\r\n") == std::string::npos) {  // JSON blanks
    const auto of_nothing = from_json(json::object());
    const std::string field = of_nothing.ok() ? "" : of_nothing.status().field();
    return Status::InvalidArgument(
        "malformed_json",
        "the body is empty; send a JSON object" +
            (field.empty() ? std::string() : R"(, such as {")" + field + R"(": ...})"),
        field);
  }
  auto o = ParseObject(call.request.body);
  if (!o.ok()) return o.status();
  return from_json(*o);
}

}  // namespace cledger::api
