// A small blocking HTTP/1.1 client for tests against a real server on loopback, in plain HTTP
// or, given the CA that signed the server's certificate, over TLS (verified like a browser).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cledger::testing {

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One request on a fresh connection. `headers` are sent as given.
Reply Http(uint16_t port, const std::string& method, const std::string& target,
           const std::string& body = {},
           const std::vector<std::pair<std::string, std::string>>& headers = {});
// The same over TLS, trusting only the CA certificate in `ca_file`; status 0 when the
// handshake fails (a certificate that does not verify) or no reply comes.
Reply Https(uint16_t port, const std::string& ca_file, const std::string& method,
            const std::string& target, const std::string& body = {},
            const std::vector<std::pair<std::string, std::string>>& headers = {});

// Bytes sent as they are, for requests no well-behaved client would make; returns the reply,
// or status 0 when the server closed the connection without one.
Reply RawHttp(uint16_t port, const std::string& bytes);

// A Server-Sent Events subscription: reads frames as they arrive.
class SseClient {
 public:
  struct Frame {
    uint64_t id = 0;
    std::string event;
    std::string data;
  };
  // Over TLS when `ca_file` names the CA to trust.
  SseClient(uint16_t port, const std::string& target, const std::string& token,
            const std::string& last_event_id = {}, const std::string& ca_file = {});
  ~SseClient();
  int status() const;
  // The response's head as it arrived: its status line and header lines.
  const std::string& head() const;
  // The next event frame (comments skipped); false after `timeout_ms` without one or on close.
  bool Next(Frame& frame, int timeout_ms = 5000);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cledger::testing
