#include "tools/cledger/remote.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <optional>

namespace cledger::cli {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
// Pages of events and verify reports can be large; far more than any reply should need.
constexpr uint64_t kBodyLimit = 512ull << 20;

struct Endpoint {
  std::string host;  // as resolved (no brackets)
  std::string port;
  std::string prefix;  // the URL's path, without a trailing '/'
  std::string host_header;
};

Result<Endpoint> ParseServer(const std::string& server) {
  auto parsed = boost::urls::parse_uri(server);
  if (parsed.has_error() || parsed->host_address().empty()) {
    return Status(Code::kInvalidArgument, "invalid_server",
                  "--server takes a URL like http://127.0.0.1:8080, not '" + server + "'");
  }
  if (parsed->scheme_id() != boost::urls::scheme::http) {
    return Status(Code::kInvalidArgument, "invalid_server",
                  "--server supports http:// only (put a TLS proxy's plain side here)");
  }
  Endpoint e;
  e.host = parsed->host_address();
  e.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  e.prefix = std::string(parsed->encoded_path());
  while (!e.prefix.empty() && e.prefix.back() == '/') e.prefix.pop_back();
  e.host_header = std::string(parsed->encoded_host_and_port());
  return e;
}

Code CodeOfHttp(int status) {
  switch (status) {
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kConflict;
    case 412:
      return Code::kVersionMismatch;
    case 503:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kIoError : Code::kInvalidArgument;
  }
}

// An error reply as a Status: the problem document's code and detail when there is one.
Status ErrorOf(const RemoteReply& reply) {
  const std::string suffix = " (HTTP " + std::to_string(reply.status) + ")";
  boost::system::error_code ec;
  json::value doc = json::parse(reply.body, ec);
  if (!ec && doc.is_object()) {
    const json::object& o = doc.as_object();
    auto text = [&](const char* key) -> std::string {
      const json::value* v = o.if_contains(key);
      return v && v->is_string() ? std::string(v->as_string()) : "";
    };
    std::string code = text("code"), detail = text("detail");
    if (detail.empty()) detail = text("title");
    if (!code.empty() || !detail.empty()) {
      return Status(CodeOfHttp(reply.status), code.empty() ? "http_error" : code,
                    "the server refused: " + detail + suffix, text("field"));
    }
  }
  std::string excerpt = reply.body.substr(0, 200);
  return Status(CodeOfHttp(reply.status), "http_error",
                "the server answered " + (excerpt.empty() ? "with no body" : excerpt) + suffix);
}

Status Unreachable(const Endpoint& e, const std::string& why) {
  return Status(Code::kUnavailable, "server_unreachable",
                "cannot reach the server at " + e.host_header + ": " + why);
}

// Connects within kConnectTimeout; the request itself may take as long as the work does
// (a rebuild or a verify of a large ledger), so it has no deadline.
std::optional<Status> Connect(net::io_context& ioc, beast::tcp_stream& stream, const Endpoint& e) {
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto addresses = resolver.resolve(e.host, e.port, ec);
  if (ec) return Unreachable(e, ec.message());
  stream.expires_after(kConnectTimeout);
  stream.async_connect(addresses,
                       [&ec](beast::error_code result, const tcp::endpoint&) { ec = result; });
  ioc.run();
  stream.expires_never();
  if (ec) return Unreachable(e, ec == beast::error::timeout ? "timed out" : ec.message());
  return std::nullopt;
}

}  // namespace

Result<RemoteReply> Remote(const std::string& server, const std::string& token,
                           const std::string& method, const std::string& target,
                           const std::string& body, const std::string& accept) {
  auto endpoint = ParseServer(server);
  if (!endpoint.ok()) return endpoint.status();
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  if (auto failed = Connect(ioc, stream, *endpoint)) return *failed;

  http::request<http::string_body> req{http::string_to_verb(method), endpoint->prefix + target, 11};
  req.set(http::field::host, endpoint->host_header);
  req.set(http::field::user_agent, "cledger");
  req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::accept, accept.empty() ? "application/json" : accept);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return Unreachable(*endpoint, ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  http::read(stream, buffer, parser, ec);
  if (ec) return Unreachable(*endpoint, "no reply: " + ec.message());
  auto res = parser.release();
  RemoteReply reply;
  reply.status = static_cast<int>(res.result_int());
  reply.body = std::move(res.body());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  if (reply.status < 200 || reply.status > 299) return ErrorOf(reply);
  return reply;
}

}  // namespace cledger::cli
