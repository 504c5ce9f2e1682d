// Real crashes: a child process appends until it is killed with SIGKILL mid-stream; every
// commit it saw acknowledged must be there after reopening, and the chain must verify.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "tests/support/ledger_fixture.h"

namespace cledger {
namespace {

// How the checker child below reports what it found.
constexpr int kCannotOpen = 2;
constexpr int kAcknowledgedCommitLost = 3;
constexpr int kChainBroken = 4;

[[noreturn]] void AppendForever(const std::string& path, int ack_fd) {
  LedgerOptions options;
  options.path = path;
  auto ledger = RawLedger::Open(options);
  if (!ledger.ok()) _exit(3);
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        auto result = (*ledger)->Append(testing::OneEventCommit("contact-" + std::to_string(t),
                                                                ContactEdited{std::to_string(i)}));
        if (!result.ok()) _exit(4);
        const uint64_t acked = result->last_position;
        if (write(ack_fd, &acked, sizeof acked) != sizeof acked) _exit(5);
      }
    });
  }
  for (auto& w : writers) w.join();
  _exit(0);
}

// Reopens the ledger and checks it in a child of its own, answering through the exit status.
// The test process never opens RocksDB itself: a child forked after it had would inherit
// RocksDB's background thread pool in whatever state its locks were at the fork, and hang.
int CheckAfterCrash(const std::string& path, uint64_t max_acked) {
  const pid_t checker = fork();
  REQUIRE(checker >= 0);
  if (checker == 0) {
    LedgerOptions options;
    options.path = path;
    auto ledger = RawLedger::Open(options);
    if (!ledger.ok()) _exit(kCannotOpen);
    if ((*ledger)->GetHead().position < max_acked) _exit(kAcknowledgedCommitLost);
    _exit((*ledger)->VerifyChain().ok ? 0 : kChainBroken);
  }
  int status = 0;
  REQUIRE(waitpid(checker, &status, 0) == checker);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

TEST_CASE("AcknowledgedCommitsSurviveKillNine") {
  testing::TempDir dir;
  const std::string path = dir.Sub("data");
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(fds[0]);
      AppendForever(path, fds[1]);
    }
    close(fds[1]);
    uint64_t max_acked = 0;
    uint64_t acked = 0;
    int count = 0;
    while (read(fds[0], &acked, sizeof acked) == sizeof acked) {
      max_acked = std::max(max_acked, acked);
      if (++count == 500) kill(child, SIGKILL);
    }
    close(fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    CHECK(CheckAfterCrash(path, max_acked) == 0);
  }
}

}  // namespace
}  // namespace cledger
