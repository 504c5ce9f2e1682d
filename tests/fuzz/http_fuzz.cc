// The HTTP request path end to end: raw bytes on a socket to a real server in this process —
// Beast's parser, the limits, routing, authentication, JSON bodies, the handlers and the
// stream. `{T}` (and the other letters of fuzz_ledger.h) in an input becomes a valid bearer
// token, so mutated requests get past authentication.
//
// A crash of any server thread is a crash of this process, reported with the input being
// served. Each input waits for the server's answer (or, for a stream that stays open, for a
// short while), so a crash is charged to the input that caused it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "engine/api/server.h"
#include "tests/fuzz/fuzz_ledger.h"

namespace {

using cledger::fuzzing::FuzzLedger;

struct Harness {
  FuzzLedger ledger;
  std::unique_ptr<cledger::api::Server> server;
  std::thread runner;
  uint16_t port = 0;

  Harness() {
    spdlog::set_level(spdlog::level::off);  // one access-log line per input is noise
    cledger::api::ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.read_timeout_s = 1;
    options.heartbeat_s = 1;
    server = std::make_unique<cledger::api::Server>(*ledger.engine, options);
    if (!server->Start().ok()) std::abort();
    port = server->port();
    runner = std::thread([this] { server->Run(); });
  }
  void Shutdown() {
    server->Stop();
    runner.join();
    server.reset();
    ledger.engine.reset();
    std::string cleanup = "rm -rf '" + ledger.dir + "'";
    if (std::system(cleanup.c_str()) != 0) {
    }
  }
};

Harness* harness = nullptr;

// Thousands of connections a minute can use up the loopback's ephemeral ports (closed ones
// wait in TIME_WAIT): a failed connect is retried for up to 2 s before the run gives up,
// saying why, and each connection is closed with a reset so it leaves no TIME_WAIT behind.
int Connect(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const linger reset{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      return fd;
    }
    close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::perror("http_fuzz: cannot connect to the server under test");
  std::abort();
}

// Reads until the server closes, or until it has been quiet for `quiet_ms` after an answer
// began (a stream stays open), or 3 s in all.
void ReadAnswer(int fd, int quiet_ms) {
  char buffer[16 * 1024];
  bool answered = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, answered ? quiet_ms : 1000);
    if (ready <= 0) {
      if (answered) return;
      continue;
    }
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    answered = true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  harness = new Harness();
  std::atexit([] { harness->Shutdown(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return -1;
  const std::string request =
      harness->ledger.Substitute({reinterpret_cast<const char*>(data), size});
  const int fd = Connect(harness->port);
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer and close before reading everything
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);  // the request is complete: the server sees the end after it
  ReadAnswer(fd, 50);
  close(fd);
  return 0;
}
