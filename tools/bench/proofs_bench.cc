// cledger_bench_proofs: how long the proofs of docs/PROOFS.md take on a large ledger.
//
// Fills a fresh ledger with --events one-event commits (unsynced, many in flight: the fill is
// not what is measured), reopens it (the tree's peaks load from disk, as after a restart),
// then times --samples inclusion proofs of random positions against the head, as many
// consistency proofs from a random earlier size, and the root at the head; each proof is
// checked, so a fast wrong answer cannot pass. Prints p50/p99/max in microseconds.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <random>
#include <vector>

#include "cledger/proofs.h"
#include "engine/store/raw_ledger.h"

namespace {

using namespace cledger;
using SteadyClock = std::chrono::steady_clock;

struct Settings {
  uint64_t events = 1'000'000;
  int samples = 10'000;
  std::string dir;
};

Commit OneEvent(uint64_t i) {
  Commit c;
  c.tenant = "acme";
  c.actor = {"bench", "owner"};
  ContactFields fields;
  fields.first_name = "Contact";
  fields.last_name = std::to_string(i);
  fields.email = "c" + std::to_string(i) + "@bench.test";
  c.events.push_back({"contact-" + std::to_string(i % 10'000),
                      ContactEdited{"k" + std::to_string(i % 10'000), fields}});
  return c;
}

std::unique_ptr<RawLedger> Open(const std::string& dir, bool sync) {
  LedgerOptions options;
  options.path = dir;
  options.sync = sync;
  auto opened = RawLedger::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(), opened.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(opened).value();
}

void Fill(const std::string& dir, uint64_t events) {
  auto ledger = Open(dir, /*sync=*/false);
  const auto started = SteadyClock::now();
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < events; i += kThreads) {
        if (!ledger->Append(OneEvent(i)).ok()) std::exit(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  std::printf("  filled %llu events in %.1f s (%.0f/s, unsynced)\n",
              static_cast<unsigned long long>(events), s, events / s);
}

// Times `op` `samples` times; prints p50/p99/max in µs. `op` returns whether its answer held.
void Time(const char* name, int samples, const std::function<bool(std::mt19937_64&)>& op) {
  std::mt19937_64 random(7);
  std::vector<double> us;
  int wrong = 0;
  for (int i = 0; i < samples; ++i) {
    const auto started = SteadyClock::now();
    const bool held = op(random);
    us.push_back(std::chrono::duration<double, std::micro>(SteadyClock::now() - started).count());
    wrong += !held;
  }
  std::sort(us.begin(), us.end());
  std::printf("  %-34s p50 %8.1f us   p99 %8.1f us   max %8.1f us   (%d samples, %d wrong)\n", name,
              us[us.size() / 2], us[us.size() * 99 / 100], us.back(), samples, wrong);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{"Inclusion and consistency proof latency on a large ledger"};
  app.add_option("--events", s.events, "events in the ledger")->capture_default_str();
  app.add_option("--samples", s.samples, "proofs timed of each kind")->capture_default_str();
  app.add_option("--dir", s.dir, "where to build the ledger (default: a temporary directory)");
  CLI11_PARSE(app, argc, argv);
  const bool temporary = s.dir.empty();
  if (temporary) {
    s.dir =
        (std::filesystem::temp_directory_path() / ("cledger-proofs-" + std::to_string(getpid())))
            .string();
  }
  std::printf("cledger_bench_proofs: %llu events, %d samples\n",
              static_cast<unsigned long long>(s.events), s.samples);
  Fill(s.dir, s.events);
  const auto opening = SteadyClock::now();
  auto ledger = Open(s.dir, /*sync=*/true);
  std::printf("  reopened in %.1f ms\n",
              std::chrono::duration<double, std::milli>(SteadyClock::now() - opening).count());
  const uint64_t size = ledger->GetHead().position;
  const Hash root = *ledger->TreeRoot(size);
  Time("inclusion proof at the head", s.samples, [&](std::mt19937_64& random) {
    const uint64_t p = 1 + random() % size;
    auto path = ledger->InclusionProof(p, size);
    auto bytes = ledger->ReadRedacted(p);
    return path.ok() && bytes.ok() &&
           proofs::VerifyInclusion(p - 1, size, proofs::LeafHash(*bytes), *path, root);
  });
  Time("consistency proof to the head", s.samples, [&](std::mt19937_64& random) {
    const uint64_t from = 1 + random() % size;
    auto path = ledger->ConsistencyProof(from, size);
    auto old_root = ledger->TreeRoot(from);
    return path.ok() && old_root.ok() &&
           proofs::VerifyConsistency(from, size, *old_root, root, *path);
  });
  Time("root at a random size", s.samples,
       [&](std::mt19937_64& random) { return ledger->TreeRoot(1 + random() % size).ok(); });
  ledger.reset();
  if (temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
