#include "tests/support/http_client.h"

#include <poll.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>

namespace cledger::testing {
namespace {

namespace net = boost::asio;
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

}  // namespace

Reply Http(uint16_t port, const std::string& method, const std::string& target,
           const std::string& body,
           const std::vector<std::pair<std::string, std::string>>& headers) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(Loopback(port));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  http::write(socket, req, ec);  // the server may answer (413) and close before taking it all
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(socket, buffer, parser, ec);
  if (ec) return Reply{};
  auto res = parser.release();
  return FromBeast(res);
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
  net::io_context ioc;
  tcp::socket socket{ioc};
  std::string pending;
  int status = 0;
};

SseClient::SseClient(uint16_t port, const std::string& target, const std::string& token,
                     const std::string& last_event_id)
    : state_(std::make_unique<State>()) {
  state_->socket.connect(Loopback(port));
  std::string request = "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                        "Authorization: Bearer " +
                        token + "\r\n";
  if (!last_event_id.empty()) request += "Last-Event-ID: " + last_event_id + "\r\n";
  request += "\r\n";
  net::write(state_->socket, net::buffer(request));
  // Read up to the end of the response head.
  for (;;) {
    char chunk[4096];
    beast::error_code ec;
    const size_t n = state_->socket.read_some(net::buffer(chunk), ec);
    if (ec) return;
    state_->pending.append(chunk, n);
    const size_t end = state_->pending.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    state_->status = std::stoi(state_->pending.substr(9, 3));
    state_->pending.erase(0, end + 4);
    return;
  }
}

SseClient::~SseClient() = default;
int SseClient::status() const { return state_->status; }

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
    pollfd pfd{state_->socket.native_handle(), POLLIN, 0};
    if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[16384];
    beast::error_code ec;
    const size_t n = state_->socket.read_some(net::buffer(chunk), ec);
    if (ec) return false;
    state_->pending.append(chunk, n);
  }
}

}  // namespace cledger::testing
