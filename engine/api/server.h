// The HTTP/JSON server: Boost.Beast on Boost.Asio, every route of routes.h, Server-Sent
// Events for the live stream, limits on everything a client controls. HTTPS (TLS 1.2+) when
// given a certificate and key: the same code serves both.
//
// Thread-safety: Start, then Run on one thread; Stop may be called from any thread (or a
// signal handler through Asio) and lets in-flight requests finish.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cledger/engine.h"
#include "cledger/status.h"

namespace cledger::api {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int threads = 2;
  size_t body_bytes_max = 1024 * 1024;
  size_t header_bytes_max = 16 * 1024;
  size_t connections_max = 1024;
  size_t subscribers_max = 256;  // live streams; beyond, a 503 problem with Retry-After
  int read_timeout_s = 30;       // a request must arrive whole within this
  int idle_timeout_s = 60;       // a keep-alive connection may sit idle this long
  int heartbeat_s = 15;          // SSE comment lines keep proxies from closing the stream
  size_t stream_batch_max = 64;  // events read per step by one stream subscriber
  // What one subscriber holds while its write waits: frames are sent in chunks of about
  // this many bytes, whatever the events weigh (one may be 64 KiB).
  size_t stream_chunk_bytes_max = 256 * 1024;
  bool handle_signals = false;  // SIGINT/SIGTERM stop the server gracefully
  // HTTPS when both are set: PEM files of the certificate chain (the server's own certificate
  // first) and of its private key. TLS 1.2 or newer only; the handshake must finish within
  // read_timeout_s. Neither set: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  bool tls() const { return !tls_cert_file.empty() || !tls_key_file.empty(); }
};

// Whether the TLS files of `options` load and belong together: what Start checks first, for a
// caller that wants to know before it does anything else. Ok when TLS is not asked for.
Status CheckTls(const ServerOptions& options);

class EngineRouter;  // handlers.h
class SingleEngine;

class Server {
 public:
  Server(Engine& engine, ServerOptions options);
  // A cluster node: the router picks each request's partition engine (handlers.h).
  Server(EngineRouter& router, ServerOptions options);
  ~Server();
  // Binds and listens. The port actually bound is port().
  Status Start();
  uint16_t port() const;
  // Serves until Stop(); returns once every connection is closed.
  void Run();
  void Stop();

 private:
  class Impl;
  std::unique_ptr<SingleEngine> single_;  // the router when given one engine
  std::unique_ptr<Impl> impl_;
};

}  // namespace cledger::api
