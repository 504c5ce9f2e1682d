// cledger_bench_stream: live fan-out latency of the event stream (SPEC §6: p99 ≤ 20 ms).
//
// One process: an engine on a fresh data directory, the HTTP server on loopback, S
// Server-Sent-Events subscribers (one thread each, plain sockets), and W writers that
// commit, together, at a steady rate (one caller waits for each fsync and reaches about a
// thousand commits a second; the writers' commits share them). For every (subscriber, event)
// the latency is the time from the commit's acknowledgement to the frame's arrival. A writer
// that is not scheduled at once notes its acknowledgement late, which shortens the latency
// measured (it can even come out negative): the figures flatter fan-out, never the reverse. The
// baseline, measured in the same run, is the round trip of GET /healthz on the same server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "cledger/engine.h"
#include "engine/api/server.h"

namespace {

using Clock = std::chrono::steady_clock;

int Connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  return fd;
}

void Send(int fd, const std::string& text) {
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::abort();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

// Reads SSE frames until `stop`, recording when each id arrived and counting it in `delivered`.
void Subscribe(uint16_t port, const std::string& token, std::atomic<bool>& stop,
               std::atomic<size_t>& delivered,
               std::vector<std::pair<uint64_t, Clock::time_point>>& arrivals) {
  const int fd = Connect(port);
  Send(fd,
       "GET /v1/events/stream HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer " + token + "\r\n\r\n");
  std::string pending;
  char buffer[65536];
  while (!stop) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    const auto now = Clock::now();
    pending.append(buffer, static_cast<size_t>(n));
    // Every complete "id: " line, then what is left kept for the next read (one erase per
    // read: the client must not be what falls behind).
    size_t done = 0;
    for (size_t at; (at = pending.find("id: ", done)) != std::string::npos;) {
      if (at != 0 && pending[at - 1] != '\n') {
        done = at + 4;
        continue;
      }
      const size_t end = pending.find('\n', at + 4);
      if (end == std::string::npos) {
        done = at;
        break;
      }
      arrivals.push_back({std::stoull(pending.substr(at + 4, end - at - 4)), now});
      ++delivered;
      done = end;
    }
    pending.erase(0, std::min(done, pending.size()));
  }
  close(fd);
}

double HealthzRoundTripUs(uint16_t port) {
  const int fd = Connect(port);
  const auto started = Clock::now();
  Send(fd, "GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n");
  char buffer[4096];
  std::string reply;
  while (reply.find("\r\n\r\n") == std::string::npos || reply.find("ok") == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  const double us = std::chrono::duration<double, std::micro>(Clock::now() - started).count();
  close(fd);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cledger_bench_stream: live fan-out latency of the SSE event stream"};
  int subscribers = 50;
  int rate = 500;
  int writers = 32;
  double seconds = 5;
  app.add_option("--subscribers", subscribers, "SSE subscribers")->capture_default_str();
  app.add_option("--rate", rate, "Commits per second, all writers together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--writers", writers, "Callers committing side by side, each at rate/writers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seconds", seconds, "How long the writer commits")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // no access log lines in the report

  const auto dir =
      std::filesystem::temp_directory_path() / ("cledger-bench-stream-" + std::to_string(getpid()));
  cledger::LedgerOptions options;
  options.path = dir.string();
  auto engine = std::move(cledger::Engine::Open(options)).value();
  const cledger::CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
  const cledger::CommandContext owner{"acme", {"bench", "owner"}, {}, {}, {}};
  (void)engine->Execute(ops, cledger::CreateTenant{"acme"});
  const std::string token =
      engine->Execute(ops, cledger::IssueToken{"acme", "reader", "service"})->token;
  cledger::api::ServerOptions server_options;
  server_options.port = 0;
  auto server = std::make_unique<cledger::api::Server>(*engine, server_options);
  if (!server->Start().ok()) return 1;
  std::thread runner([&] { server->Run(); });
  const uint16_t port = server->port();

  std::vector<double> baseline;
  for (int i = 0; i < 200; ++i) baseline.push_back(HealthzRoundTripUs(port));

  std::atomic<bool> stop{false};
  std::atomic<size_t> delivered{0};
  std::vector<std::vector<std::pair<uint64_t, Clock::time_point>>> arrivals(subscribers);
  std::vector<std::thread> readers;
  for (int s = 0; s < subscribers; ++s) {
    readers.emplace_back([&, s] { Subscribe(port, token, stop, delivered, arrivals[s]); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  std::map<uint64_t, Clock::time_point> committed;
  std::mutex committed_mu;
  // Writer w commits at w/rate, (w + writers)/rate, …: together, one commit every 1/rate s.
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const int commits = static_cast<int>(seconds * rate);
  const auto writing = Clock::now();
  std::vector<std::thread> committers;
  for (int w = 0; w < writers; ++w) {
    committers.emplace_back([&, w] {
      for (int i = w; i < commits; i += writers) {
        std::this_thread::sleep_until(writing +
                                      std::chrono::duration_cast<Clock::duration>(interval * i));
        auto outcome = engine->Execute(owner, cledger::CreateCustomer{"", "C", "c@bench.test"});
        const auto acknowledged = Clock::now();
        if (!outcome.ok()) continue;
        std::lock_guard lock(committed_mu);
        committed[outcome->last_position] = acknowledged;
      }
    });
  }
  for (auto& c : committers) c.join();
  // Past what the writers sustain, the rate is what they reached.
  const double wrote_for = std::chrono::duration<double>(Clock::now() - writing).count();
  // Late frames are late, not lost: a delivery counts as missing only after 10 s more.
  const size_t expected = committed.size() * static_cast<size_t>(subscribers);
  for (auto until = Clock::now() + std::chrono::seconds(10);
       delivered < expected && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& r : readers) r.join();

  std::vector<double> latencies;
  size_t missing = 0;
  for (const auto& received : arrivals) {
    std::map<uint64_t, Clock::time_point> by_id(received.begin(), received.end());
    for (const auto& [position, at] : committed) {
      auto it = by_id.find(position);
      if (it == by_id.end()) {
        ++missing;
        continue;
      }
      latencies.push_back(std::chrono::duration<double, std::micro>(it->second - at).count());
    }
  }
  server->Stop();
  runner.join();
  server.reset();  // the server holds the engine: it goes first
  engine.reset();
  for (const char* suffix : {"", ".keys", ".master-key"}) {
    std::filesystem::remove_all(dir.string() + suffix);  // the ledger and what it keeps beside it
  }

  const double p99 = Percentile(latencies, 0.99) / 1000;
  const double base_p99 = Percentile(baseline, 0.99) / 1000;
  std::printf(
      "cledger_bench_stream: %d subscribers, %d commits/s asked for %.0f s from %d writers\n",
      subscribers, rate, seconds, writers);
  std::printf("  commits   %zu in %.1f s = %.0f/s reached\n", committed.size(), wrote_for,
              static_cast<double>(committed.size()) / wrote_for);
  std::printf(
      "  fan-out   p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms   (%zu deliveries, %zu missing)\n",
      Percentile(latencies, 0.5) / 1000, p99, Percentile(latencies, 1.0) / 1000, latencies.size(),
      missing);
  std::printf("  baseline  GET /healthz round trip p50 %.2f ms, p99 %.2f ms\n",
              Percentile(baseline, 0.5) / 1000, base_p99);
  std::printf("  fan-out p99 = %.1f x the baseline p99; target p99 <= 20 ms: %s\n",
              base_p99 > 0 ? p99 / base_p99 : 0, p99 <= 20 ? "PASS" : "FAIL");
  return missing == 0 ? 0 : 1;
}
