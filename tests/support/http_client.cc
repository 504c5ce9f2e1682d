#include "tests/support/http_client.h"

#include <openssl/x509v3.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <optional>

namespace cledger::testing {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

tcp::endpoint Loopback(uint16_t port) { return {net::ip::make_address("127.0.0.1"), port}; }

Reply FromBeast(http::response<http::string_body>& res) {
  Reply reply;
  reply.status = static_cast<int>(res.result_int());
  for (const auto& field : res) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = res.body();
  return reply;
}

// A connection to 127.0.0.1:port, plain, or TLS verified against `ca_file` for the name
// 127.0.0.1. `With(op)` runs `op` on whichever stream it is, so each exchange is written once.
class Connection {
 public:
  Connection(uint16_t port, const std::string& ca_file) : socket_(ioc_) {
    socket_.connect(Loopback(port));
    if (ca_file.empty()) return;
    context_.emplace(ssl::context::tls_client);
    context_->load_verify_file(ca_file);
    context_->set_verify_mode(ssl::verify_peer);
    tls_.emplace(socket_, *context_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tls_->native_handle()), "127.0.0.1");
    beast::error_code ec;
    tls_->handshake(ssl::stream_base::client, ec);
    handshake_failed_ = static_cast<bool>(ec);
  }
  bool usable() const { return !handshake_failed_; }
  net::io_context& ioc() { return ioc_; }
  tcp::socket& socket() { return socket_; }
  template <typename Op>
  auto With(Op op) {
    return tls_ ? op(*tls_) : op(socket_);
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
  std::optional<ssl::context> context_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  bool handshake_failed_ = false;
};

Reply Exchange(uint16_t port, const std::string& ca_file, const std::string& method,
               const std::string& target, const std::string& body,
               const std::vector<std::pair<std::string, std::string>>& headers) {
  Connection connection(port, ca_file);
  if (!connection.usable()) return Reply{};
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  return connection.With([&](auto& stream) {
    beast::error_code ec;
    http::write(stream, req, ec);  // the server may answer (413) and close before taking it all
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser, ec);
    if (ec) return Reply{};
    auto res = parser.release();
    return FromBeast(res);
  });
}

}  // namespace

Reply Http(uint16_t port, const std::string& method, const std::string& target,
           const std::string& body,
           const std::vector<std::pair<std::string, std::string>>& headers) {
  return Exchange(port, "", method, target, body, headers);
}

Reply Https(uint16_t port, const std::string& ca_file, const std::string& method,
            const std::string& target, const std::string& body,
            const std::vector<std::pair<std::string, std::string>>& headers) {
  return Exchange(port, ca_file, method, target, body, headers);
}

Reply RawHttp(uint16_t port, const std::string& bytes) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(Loopback(port));
  beast::error_code ec;
  net::write(socket, net::buffer(bytes), ec);  // the server may close before taking it all
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  if (ec) return Reply{};
  return FromBeast(res);
}

struct SseClient::State {
  State(uint16_t port, const std::string& ca_file) : connection(port, ca_file) {}
  Connection connection;
  std::string pending;
  std::string head;
  int status = 0;

  // Appends what arrives within `timeout`; false on a timeout or when the stream ended. Read
  // through Asio, not poll(): under TLS, bytes may wait decrypted where poll cannot see them.
  bool Receive(std::chrono::milliseconds timeout) {
    char chunk[16384];
    beast::error_code ec = net::error::timed_out;
    size_t n = 0;
    connection.With([&](auto& stream) {
      stream.async_read_some(net::buffer(chunk), [&](beast::error_code result, size_t got) {
        ec = result;
        n = got;
      });
      return 0;
    });
    net::io_context& ioc = connection.ioc();
    ioc.restart();
    ioc.run_for(timeout);
    if (!ioc.stopped()) {  // timed out: cancel the read and let it finish
      connection.socket().cancel();
      ioc.run();
      return false;
    }
    if (ec) return false;
    pending.append(chunk, n);
    return true;
  }
};

SseClient::SseClient(uint16_t port, const std::string& target, const std::string& token,
                     const std::string& last_event_id, const std::string& ca_file)
    : state_(std::make_unique<State>(port, ca_file)) {
  if (!state_->connection.usable()) return;
  std::string request = "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                        "Authorization: Bearer " +
                        token + "\r\n";
  if (!last_event_id.empty()) request += "Last-Event-ID: " + last_event_id + "\r\n";
  request += "\r\n";
  state_->connection.With([&](auto& stream) { return net::write(stream, net::buffer(request)); });
  // Read up to the end of the response head.
  while (state_->Receive(std::chrono::seconds(30))) {
    const size_t end = state_->pending.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    state_->status = std::stoi(state_->pending.substr(9, 3));
    state_->head = state_->pending.substr(0, end + 2);  // each line with its CRLF
    state_->pending.erase(0, end + 4);
    return;
  }
}

SseClient::~SseClient() = default;
int SseClient::status() const { return state_->status; }
const std::string& SseClient::head() const { return state_->head; }

bool SseClient::Next(Frame& frame, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const size_t end = state_->pending.find("\n\n");
    if (end != std::string::npos) {
      const std::string block = state_->pending.substr(0, end);
      state_->pending.erase(0, end + 2);
      if (block.starts_with(":")) continue;  // a heartbeat comment
      frame = Frame{};
      size_t start = 0;
      while (start < block.size()) {
        size_t line_end = block.find('\n', start);
        if (line_end == std::string::npos) line_end = block.size();
        const std::string line = block.substr(start, line_end - start);
        if (line.starts_with("id: ")) frame.id = std::stoull(line.substr(4));
        if (line.starts_with("event: ")) frame.event = line.substr(7);
        if (line.starts_with("data: ")) frame.data = line.substr(6);
        start = line_end + 1;
      }
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !state_->Receive(left)) return false;
  }
}

}  // namespace cledger::testing
