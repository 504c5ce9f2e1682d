#include "tools/cledger/remote.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <boost/url/url.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "tools/cledger/audit_common.h"

namespace cledger::cli {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr auto kConnectTimeout = std::chrono::seconds(10);  // the TLS handshake too
// Pages of events and verify reports can be large; far more than any reply should need.
constexpr uint64_t kBodyLimit = 512ull << 20;

struct Endpoint {
  std::string host;  // as resolved (no brackets)
  std::string port;
  std::string prefix;  // the URL's path, without a trailing '/'
  std::string host_header;
  bool tls = false;
};

Status InvalidServer(const std::string& why) {
  return Status(Code::kInvalidArgument, "invalid_server", why);
}

Result<Endpoint> ParseServer(const RemoteServer& server) {
  auto parsed = boost::urls::parse_uri(server.url);
  if (parsed.has_error() || parsed->host_address().empty()) {
    return InvalidServer(
        "--server takes a URL like https://ledger.example:8443 or "
        "http://127.0.0.1:8080, not '" +
        server.url + "'");
  }
  const boost::urls::scheme scheme = parsed->scheme_id();
  if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https) {
    return InvalidServer("--server takes an http:// or https:// URL");
  }
  Endpoint e;
  e.tls = scheme == boost::urls::scheme::https;
  if (!e.tls && !server.ca_file.empty()) {
    return InvalidServer("--ca-file is for an https:// server; this one is plain http://");
  }
  e.host = parsed->host_address();
  e.port = parsed->has_port() ? std::string(parsed->port()) : e.tls ? "443" : "80";
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
    // The server's words, made printable: a hostile server cannot drive the terminal.
    auto text = [&](const char* key) -> std::string {
      const json::value* v = o.if_contains(key);
      return v && v->is_string() ? audit_tools::Printable(v->as_string()) : "";
    };
    std::string code = text("code"), detail = text("detail");
    if (detail.empty()) detail = text("title");
    if (!code.empty() || !detail.empty()) {
      return Status(CodeOfHttp(reply.status), code.empty() ? "http_error" : code,
                    "the server refused: " + detail + suffix, text("field"));
    }
  }
  std::string excerpt = audit_tools::Printable(std::string_view(reply.body).substr(0, 200));
  return Status(CodeOfHttp(reply.status), "http_error",
                "the server answered " + (excerpt.empty() ? "with no body" : excerpt) + suffix);
}

Status Unreachable(const Endpoint& e, const std::string& why) {
  return Status(Code::kUnavailable, "server_unreachable",
                "cannot reach the server at " + e.host_header + ": " + why);
}

// TLS 1.2 or newer, and a server that proves itself by a certificate chaining to the system's
// CAs or to `ca_file`: a certificate that does not verify ends the connection, never falls
// back to anything.
Result<std::unique_ptr<ssl::context>> ClientContext(const std::string& ca_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  context->set_default_verify_paths(ec);  // none on this system: only --ca-file is trusted
  if (!ca_file.empty()) {
    // Opened first: for a file it cannot open OpenSSL says only "system lib".
    FILE* file = std::fopen(ca_file.c_str(), "rb");
    if (file == nullptr) {
      return Status(Code::kInvalidArgument, "invalid_ca_file",
                    "cannot read --ca-file " + ca_file + ": " + std::strerror(errno));
    }
    std::fclose(file);
    context->load_verify_file(ca_file, ec);
    if (ec) {
      return Status(Code::kInvalidArgument, "invalid_ca_file",
                    "--ca-file " + ca_file + " holds no PEM certificate: " + ec.message());
    }
  }
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

// The certificate must name the host of the URL: its IP address, or its DNS name (also sent
// as SNI, for a server with several names).
void ExpectHost(TlsStream& stream, const Endpoint& e) {
  SSL* native = stream.native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(native);
  beast::error_code not_an_address;
  net::ip::make_address(e.host, not_an_address);
  if (!not_an_address) {
    X509_VERIFY_PARAM_set1_ip_asc(param, e.host.c_str());
    return;
  }
  SSL_set_tlsext_host_name(native, e.host.c_str());
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  X509_VERIFY_PARAM_set1_host(param, e.host.c_str(), 0);
}

std::optional<Status> Handshake(net::io_context& ioc, TlsStream& stream, const Endpoint& e) {
  ExpectHost(stream, e);
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(kConnectTimeout);
  stream.async_handshake(ssl::stream_base::client,
                         [&ec](beast::error_code result) { ec = result; });
  ioc.restart();
  ioc.run();
  beast::get_lowest_layer(stream).expires_never();
  if (!ec) return std::nullopt;
  const long verified = SSL_get_verify_result(stream.native_handle());
  if (verified != X509_V_OK) {
    return Status(Code::kUnavailable, "certificate_not_verified",
                  "the certificate of the server at " + e.host_header +
                      " did not verify: " + X509_verify_cert_error_string(verified) +
                      " (for a private CA or a self-signed certificate, give --ca-file FILE)");
  }
  return Unreachable(
      e, "TLS handshake failed: " + (ec == beast::error::timeout ? "timed out" : ec.message()));
}

// Connects within kConnectTimeout; the request itself may take as long as the work does
// (a rebuild or a verify of a large ledger), so it has no deadline, but a server silent for
// kSilenceMax is taken for gone rather than waited for forever.
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
  constexpr timeval kSilenceMax{30 * 60, 0};
  setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &kSilenceMax,
             sizeof kSilenceMax);
  return std::nullopt;
}

http::request<http::string_body> Request(const Endpoint& e, const std::string& token,
                                         const std::string& method, const std::string& target,
                                         const std::string& body, const std::string& accept) {
  http::request<http::string_body> req{http::string_to_verb(method), e.prefix + target, 11};
  req.set(http::field::host, e.host_header);
  req.set(http::field::user_agent, "cledger");
  req.set(http::field::authorization, "Bearer " + token);
  req.set(http::field::accept, accept.empty() ? "application/json" : accept);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  return req;
}

// One request and its reply, over a plain or a TLS stream alike.
template <typename AsyncStream>
Result<RemoteReply> Exchange(AsyncStream& stream, const Endpoint& e,
                             const http::request<http::string_body>& req) {
  beast::error_code ec;
  http::write(stream, req, ec);
  if (ec) return Unreachable(e, ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  http::read(stream, buffer, parser, ec);
  if (ec) return Unreachable(e, "no reply: " + ec.message());
  auto res = parser.release();
  RemoteReply reply;
  reply.status = static_cast<int>(res.result_int());
  reply.body = std::move(res.body());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  // One request per connection, so no TLS close_notify: waiting for the server's would only
  // add a round trip.
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  if (reply.status < 200 || reply.status > 299) return ErrorOf(reply);
  return reply;
}

}  // namespace

Result<RemoteReply> Remote(const RemoteServer& server, const std::string& method,
                           const std::string& target, const std::string& body,
                           const std::string& accept) {
  auto endpoint = ParseServer(server);
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<ssl::context> context;
  if (endpoint->tls) {
    auto made = ClientContext(server.ca_file);
    if (!made.ok()) return made.status();
    context = std::move(made).value();
  }
  net::io_context ioc;
  beast::tcp_stream tcp(ioc);
  if (auto failed = Connect(ioc, tcp, *endpoint)) return *failed;
  const auto req = Request(*endpoint, server.token, method, target, body, accept);
  if (!context) return Exchange(tcp, *endpoint, req);
  TlsStream stream(std::move(tcp), *context);
  if (auto failed = Handshake(ioc, stream, *endpoint)) return *failed;
  return Exchange(stream, *endpoint, req);
}

CLI::Option* AddCaFile(CLI::App* cmd, std::string& ca_file) {
  return cmd
      ->add_option("--ca-file", ca_file,
                   "For an https:// --server: a PEM file of CA certificates (or the server's "
                   "self-signed certificate) to trust besides the system's")
      ->type_name("FILE");
}

Result<json::object> RemoteJson(const RemoteServer& server, const std::string& method,
                                const std::string& target, const std::string& body) {
  auto reply = Remote(server, method, target, body);
  if (!reply.ok()) return reply.status();
  boost::system::error_code ec;
  json::value doc = json::parse(reply->body, ec);
  if (ec || !doc.is_object()) {
    return Status(Code::kIoError, "bad_reply", "the server's reply is not a JSON object");
  }
  return std::move(doc.as_object());
}

Result<std::vector<json::object>> ItemsOf(const json::object& reply) {
  const json::value* items = reply.if_contains("items");
  if (items == nullptr || !items->is_array()) {
    return Status(Code::kIoError, "bad_reply", "the server's reply has no list of items");
  }
  std::vector<json::object> out;
  for (const json::value& item : items->as_array()) {
    if (!item.is_object()) return Status(Code::kIoError, "bad_reply", "an item is not an object");
    out.push_back(item.as_object());
  }
  return out;
}

void AddServerOptions(CLI::App* cmd, std::string& url_option, std::string& token,
                      std::string& ca_file, CLI::Option* data, const std::string& token_help) {
  auto* url = cmd->add_option("--server", url_option,
                              "Work through a running server instead, e.g. "
                              "http://127.0.0.1:8080 or https://ledger.example:8443");
  if (data != nullptr) data->excludes(url);
  AddToken(cmd, token, token_help + " for --server");
  AddCaFile(cmd, ca_file)->needs(url);
}

CLI::Option* AddToken(CLI::App* cmd, std::string& token, const std::string& help) {
  if (const char* from_env = std::getenv("CLEDGER_TOKEN")) token = from_env;
  return cmd->add_option("--token", token, help + " (or set CLEDGER_TOKEN)");
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& pairs) {
  boost::urls::url url;
  for (const auto& [key, value] : pairs) {
    if (!value.empty()) url.params().append({key, value});
  }
  return url.encoded_query().empty() ? "" : "?" + std::string(url.encoded_query());
}

std::string PathSegment(const std::string& text) {
  return boost::urls::encode(text, boost::urls::pchars);
}

}  // namespace cledger::cli
