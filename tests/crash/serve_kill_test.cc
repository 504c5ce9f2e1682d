// kill -9 of a real `cledger serve` under 8 concurrent HTTP writers, round after round: after
// each restart every command a writer saw acknowledged (201) exists exactly once, nothing
// else is duplicated, and the chain verifies. Commands in flight at the kill are retried in
// the next round with their idempotency key, as a client would.
//
//   CLEDGER_CRASH_ROUNDS=100 build/tests/crash_test -tc='*KillNineOfServe*'
// (default 3 rounds: what CI runs).
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "cledger/engine.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

using testing::After;
using testing::ReadBanner;

constexpr int kWriters = 8;

struct Served {
  testing::Child child;
  uint16_t port = 0;
  std::string owner_token;  // printed on the first start only
  std::string ops_token;    // likewise
};

Served Serve(const std::string& data_dir) {
  Served s;
  s.child = testing::Spawn({"serve", "--data", data_dir, "--listen", "127.0.0.1:0"});
  const std::string banner = ReadBanner(s.child.out);
  const std::string port = After(banner, "serving http://127.0.0.1:", " \n");
  REQUIRE_MESSAGE(!port.empty(), "no banner: " << banner);
  s.port = static_cast<uint16_t>(std::stoul(port));
  s.owner_token = After(banner, "owner token  ", " \n");
  s.ops_token = After(banner, "ops token    ", " \n");
  return s;
}

// The body of a request creating customer `id`.
std::string CustomerBody(const std::string& id) {
  return "{\"id\":\"" + id + "\",\"name\":\"W\",\"email\":\"" + id + "@crash.test\"}";
}

// One writer: creates customers w<t>-<n> until the server goes away. Acknowledged ids go to
// `acked`; the one in flight at the end is left in `pending` for the next round.
void Write(int t, uint16_t port, const std::string& token, std::atomic<int>& next_id,
           std::vector<std::string>& pending, std::mutex& mu, std::set<std::string>& acked,
           std::atomic<uint64_t>& acked_count) {
  for (;;) {
    std::string id;
    {
      std::lock_guard lock(mu);
      if (!pending.empty()) {
        id = pending.back();
        pending.pop_back();
      }
    }
    if (id.empty()) id = "w" + std::to_string(t) + "-" + std::to_string(next_id++);
    testing::Reply reply;
    try {
      reply = testing::Http(port, "POST", "/v1/customers", CustomerBody(id),
                            {{"Authorization", "Bearer " + token}, {"Idempotency-Key", id}});
    } catch (const std::exception&) {
      reply.status = 0;  // refused: the server is gone
    }
    std::lock_guard lock(mu);
    if (reply.status == 201 || reply.status == 200) {
      acked.insert(id);
      ++acked_count;
    } else if (reply.status == 0 || reply.status >= 500) {
      pending.push_back(id);  // unknown outcome: retried with the same key
      if (reply.status == 0) return;
    }
    // 409 customer_exists: an earlier, unacknowledged attempt of this id made it.
  }
}

TEST_CASE("EveryAcknowledgedCommandExistsExactlyOnceAfterEachKillNineOfServe") {
  const char* rounds_env = std::getenv("CLEDGER_CRASH_ROUNDS");
  const int rounds = rounds_env && *rounds_env ? std::atoi(rounds_env) : 3;
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  std::mt19937_64 rng(20261203);
  std::string token;
  std::set<std::string> acked;
  std::vector<std::string> pending;
  std::mutex mu;
  std::atomic<int> next_id{0};
  uint64_t total_acked = 0;
  for (int round = 1; round <= rounds; ++round) {
    CAPTURE(round);
    Served served = Serve(data);
    if (token.empty()) token = served.owner_token;
    REQUIRE(!token.empty());
    std::atomic<uint64_t> acked_count{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < kWriters; ++t) {
      writers.emplace_back(Write, t, served.port, std::cref(token), std::ref(next_id),
                           std::ref(pending), std::ref(mu), std::ref(acked), std::ref(acked_count));
    }
    // Kill mid-stream, at a different moment each round.
    const uint64_t kill_after = 50 + rng() % 400;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (acked_count < kill_after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    kill(served.child.pid, SIGKILL);
    int status = 0;
    waitpid(served.child.pid, &status, 0);
    for (auto& w : writers) w.join();
    close(served.child.out);
    REQUIRE(WIFSIGNALED(status));
    total_acked += acked_count;

    LedgerOptions options;
    options.path = data;  // with its key store and master key beside it, as serve made them
    auto engine = Engine::Open(options);
    REQUIRE_MESSAGE(engine.ok(), engine.status().ToString());
    Ledger& ledger = (*engine)->ledger();
    std::map<std::string, int> created;
    const uint64_t head = ledger.GetHead().position;
    for (uint64_t from = 1; from <= head; from += 10'000) {
      auto events = ledger.Read(from, 10'000);
      REQUIRE(events.ok());
      for (const Event& e : *events) {
        if (const auto* c = std::get_if<CustomerCreated>(&e.body)) ++created[c->customer_id];
        // Its data key was durable before it: its name and email open.
        if (e.personal == Personal::kUnreadable)
          FAIL_CHECK("position " << e.position << " does not open");
      }
    }
    for (const std::string& id : acked) {
      const int n = created.count(id) ? created[id] : 0;
      if (n != 1) FAIL_CHECK("acknowledged " << id << " is in the log " << n << " times");
    }
    for (const auto& [id, n] : created) {
      if (n > 1) FAIL_CHECK(id << " was created " << n << " times");
    }
    const VerifyReport report = ledger.VerifyChain();
    CHECK_MESSAGE(report.ok, report.problem);
  }
  MESSAGE(rounds << " kill -9 rounds of cledger serve under " << kWriters << " writers: "
                 << total_acked << " acknowledged creates, each found exactly once");
}

// Killed after an online rebuild (inline and follower projections) and more commands, with
// nothing closed cleanly, the next open serves the new generations, and every projection
// equals a fresh fold of the log.
TEST_CASE("RebuiltAndFollowedProjectionsAreWholeAfterKillNineOfServe") {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  Served served = Serve(data);
  auto create = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string id = "r" + std::to_string(i);
      const testing::Reply created =
          testing::Http(served.port, "POST", "/v1/customers", CustomerBody(id),
                        {{"Authorization", "Bearer " + served.owner_token}});
      REQUIRE_MESSAGE(created.status == 201, created.body);
    }
  };
  create(0, 50);
  for (const std::string name : {"customers", "audit"}) {
    const testing::Reply rebuilt =
        testing::Http(served.port, "POST", "/v1/admin/projections/" + name + "/rebuild", "",
                      {{"Authorization", "Bearer " + served.ops_token}});
    REQUIRE_MESSAGE(rebuilt.status == 200, rebuilt.body);
  }
  create(50, 100);
  kill(served.child.pid, SIGKILL);
  REQUIRE(testing::Wait(served.child).signal == SIGKILL);

  LedgerOptions options;
  options.path = data;
  auto engine = Engine::Open(options);
  REQUIRE_MESSAGE(engine.ok(), engine.status().ToString());
  for (const ProjectionStatus& p : (*engine)->Projections()) {
    CHECK_MESSAGE(p.generation == (p.name == "customers" || p.name == "audit" ? 2 : 1), p.name);
  }
  auto mismatches = (*engine)->VerifyProjections();
  REQUIRE(mismatches.ok());
  for (const ProjectionMismatch& m : *mismatches)
    FAIL_CHECK(m.projection << " differs at " << m.key);
}

}  // namespace
}  // namespace cledger
