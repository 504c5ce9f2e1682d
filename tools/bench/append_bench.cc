// cledger_bench_append: durable single-event commit throughput of the ledger, next to raw
// RocksDB writing the same bytes with the same sync policy (SPEC §6).
//
// Both benchmarks run in one process, one after the other, each on a fresh data directory,
// with the same number of producer threads. Every producer loops: build one commit, hand it
// over, wait until it is acknowledged, record the latency. Only commits acknowledged inside
// the measuring window (after the warm-up) are counted.
//
//   engine : Ledger::Append of a one-event commit (a ContactEdited with a filled ContactFields,
//            see --event) — the writer thread groups commits and syncs the WAL once per group.
//   raw    : rocksdb::DB::Write(sync) of one WriteBatch holding what the engine writes for one
//            event — the log entry (same size), the stream index entry, the stream head and
//            the ledger head — in the same column families. RocksDB's own write groups let
//            concurrent writers share one WAL sync, so this is the fair baseline.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/keys.h"
#include "engine/store/keys.h"
#include "engine/store/log_store.h"
#include "engine/store/personal_keys.h"
#include "engine/store/raw_ledger.h"
#include "events/codec.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using cledger::base::U64Key;
using cledger::store::StreamEventKey;

constexpr double kTargetCommitsPerSecond = 100'000;  // SPEC §6, 64 producers, durable
constexpr double kTargetRatio = 0.5;                 // SPEC §6: ≥ 0.5 × raw RocksDB

constexpr char kTenant[] = "acme";

struct Settings {
  int producers = 64;
  double seconds = 5;
  double warmup = 1;
  bool sync = true;
  int streams = 100;  // streams per producer
  std::string dir;
  std::string only = "both";
  std::string event = "typical";
  bool keep = false;
  bool json = false;
  bool check = false;
  bool sealed = false;  // seal the personal fields under per-stream data keys, as the engine does
};

// ---------------------------------------------------------------------------------------------
// The workload

std::string StreamName(int producer, uint64_t i, int streams) {
  return "contact-" + std::to_string(producer) + "-" + std::to_string(i % streams);
}

// A realistic edit: the contact's state after the change, as the HTTP API sends it.
// typical: the fields a contact usually has (name, company, role, email, a phone);
// full:    every field of ContactFields filled (phones, address, communication lists).
cledger::ContactEdited SampleEdit(int producer, uint64_t i, const Settings& s) {
  cledger::ContactFields f;
  f.contact_type = "accounts";
  f.title = "Ms";
  f.first_name = "Alexandra";
  f.last_name = "Montgomery";
  f.company_name = "Northwind Trading Ltd";
  f.position = "Head of Finance";
  f.department = "Accounts Payable";
  f.email = "alexandra.montgomery@northwind.example";
  f.phones = {{"work", "+44 20 7946 " + std::to_string(1000 + (producer * 31 + i) % 9000)}};
  f.portal_enabled = (i % 2) == 0;
  if (s.event == "full") {
    f.phones.push_back({"mobile", "+44 7700 900" + std::to_string(100 + i % 900)});
    f.address = {{"Unit 4, Riverside Business Park", "12 Wharf Road", "London"}, "SE1 9PX", "GB"};
    f.website = "https://northwind.example";
    f.dealer_code = "D-" + std::to_string(1000 + producer);
    f.communication = {{"billing", "support"},
                       "long",
                       "monthly",
                       {"ap@northwind.example"},
                       {"it@northwind.example"}};
  }
  char contact_id[64];
  std::snprintf(contact_id, sizeof contact_id, "0b9f%04x-6c1d-4e2a-9f3b-%012" PRIx64,
                static_cast<unsigned>(producer), static_cast<uint64_t>(i % s.streams));
  return {contact_id, std::move(f)};
}

cledger::Commit SampleCommit(int producer, uint64_t i, const Settings& s) {
  cledger::Commit commit;
  commit.tenant = kTenant;
  commit.actor = {"alice", "owner"};
  commit.events.push_back({StreamName(producer, i, s.streams), SampleEdit(producer, i, s)});
  return commit;
}

// The bytes the engine stores for one such event: encoded exactly as the writer encodes it.
std::string SampleEventBytes(const Settings& s) {
  cledger::Event e;
  e.position = 1'000'000;
  e.tenant = kTenant;
  e.stream = StreamName(63, 7, s.streams);
  e.stream_version = 1000;
  e.event_id = "3f2b8c1e-9a4d-4c7e-8b21-5d6f7a8b9c0d";
  e.correlation_id = "7c1e2d3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
  e.recorded_at_us = 1'760'000'000'000'000;
  e.actor = {"alice", "owner"};
  e.schema_version = cledger::events::kSchemaVersion;
  e.body = SampleEdit(63, 7, s);
  return cledger::events::EncodeEvent(e);
}

// ---------------------------------------------------------------------------------------------
// The driver: N producers, a warm-up, then a measuring window.

struct Run {
  uint64_t commits = 0;  // acknowledged inside the window
  uint64_t errors = 0;
  std::string first_error;
  double window_s = 0;
  double per_second = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  uint64_t syncs = 0;     // inside the window: engine, groups written (one WAL sync each when
                          // sync=true); raw, WAL syncs (0 when sync=false)
  uint64_t write_us = 0;  // engine: time the writer spent in DB::Write inside the window
};

// `op(producer, i)` does one commit and returns an error text or nothing.
// `counter()` reads {syncs, µs spent writing} (called at the window's start and end).
struct Counters {
  uint64_t syncs = 0;
  uint64_t write_us = 0;
};
Run Drive(const Settings& settings,
          const std::function<std::optional<std::string>(int, uint64_t)>& op,
          const std::function<Counters()>& counter) {
  enum : int { kWarmup = 0, kMeasure = 1, kStop = 2 };
  std::atomic<int> phase{kWarmup};
  struct PerThread {
    std::vector<uint32_t> latency_ns;
    uint64_t errors = 0;
    std::string first_error;
  };
  std::vector<PerThread> results(static_cast<size_t>(settings.producers));
  std::vector<std::thread> threads;
  for (int p = 0; p < settings.producers; ++p) {
    threads.emplace_back([&, p] {
      PerThread& mine = results[static_cast<size_t>(p)];
      mine.latency_ns.reserve(1 << 16);
      for (uint64_t i = 0; phase.load(std::memory_order_relaxed) != kStop; ++i) {
        const auto started = Clock::now();
        std::optional<std::string> error = op(p, i);
        const auto ended = Clock::now();
        if (phase.load() != kMeasure) continue;  // acknowledged outside the window
        if (error) {
          if (mine.errors++ == 0) mine.first_error = std::move(*error);
          continue;
        }
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ended - started);
        mine.latency_ns.push_back(static_cast<uint32_t>(std::min<int64_t>(ns.count(), UINT32_MAX)));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(settings.warmup));
  const Counters before = counter();
  const auto window_start = Clock::now();
  phase.store(kMeasure);
  std::this_thread::sleep_for(std::chrono::duration<double>(settings.seconds));
  phase.store(kStop);
  const auto window_end = Clock::now();
  const Counters after = counter();
  for (auto& t : threads) t.join();

  Run run;
  std::vector<uint32_t> all;
  for (auto& r : results) {
    all.insert(all.end(), r.latency_ns.begin(), r.latency_ns.end());
    run.errors += r.errors;
    if (run.first_error.empty()) run.first_error = r.first_error;
  }
  run.commits = all.size();
  run.window_s = std::chrono::duration<double>(window_end - window_start).count();
  run.per_second = static_cast<double>(run.commits) / run.window_s;
  run.syncs = after.syncs - before.syncs;
  run.write_us = after.write_us - before.write_us;
  auto percentile = [&](double q) -> double {
    if (all.empty()) return 0;
    size_t k = static_cast<size_t>(q * static_cast<double>(all.size()));
    k = std::min(k, all.size() - 1);
    std::nth_element(all.begin(), all.begin() + static_cast<ptrdiff_t>(k), all.end());
    return all[k] / 1000.0;
  };
  run.p50_us = percentile(0.50);
  run.p99_us = percentile(0.99);
  run.max_us = all.empty() ? 0 : *std::max_element(all.begin(), all.end()) / 1000.0;
  return run;
}

// ---------------------------------------------------------------------------------------------
// The two benchmarks

Run EngineBench(const Settings& settings, const std::string& path) {
  cledger::LedgerOptions options;
  options.path = path;
  options.sync = settings.sync;
  std::unique_ptr<cledger::store::PersonalKeys> keys;  // outlives the ledger's writer
  auto opened = cledger::RawLedger::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "cannot open the ledger: %s\n", opened.status().ToString().c_str());
    std::exit(3);
  }
  std::unique_ptr<cledger::RawLedger> ledger = std::move(opened).value();
  if (settings.sealed) {
    auto store_keys = cledger::store::PersonalKeys::Open(
        path + ".keys", cledger::base::NewAeadKey(), "bench", /*read_only=*/false);
    if (!store_keys.ok()) {
      std::fprintf(stderr, "cannot open the key store: %s\n",
                   store_keys.status().ToString().c_str());
      std::exit(3);
    }
    keys = std::move(store_keys).value();
    // RawLedger::Open makes the RocksDB store, whose writer seals like the engine's.
    static_cast<cledger::store::LogStore&>(*ledger).SetPersonalKeys(keys.get());
  }
  auto op = [&](int producer, uint64_t i) -> std::optional<std::string> {
    auto result = ledger->Append(SampleCommit(producer, i, settings));
    if (!result.ok()) return result.status().ToString();
    return std::nullopt;
  };
  return Drive(settings, op, [&] {
    const cledger::LedgerStats stats = ledger->Stats();
    return Counters{stats.groups, stats.write_us_sum};
  });
}

Run RawBench(const Settings& settings, const std::string& path, size_t event_bytes) {
  rocksdb::Options options;  // RocksDB's defaults, plus what it takes to open the families
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // Tickers only (no timers or histograms): counts WAL syncs at no measurable cost.
  options.statistics = rocksdb::CreateDBStatistics();
  options.statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  // The engine's families (engine/store/FORMAT.md): head in default, log, streams.
  const std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, "log", "streams"};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &cf, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "cannot open RocksDB: %s\n", s.ToString().c_str());
    std::exit(3);
  }
  std::unique_ptr<rocksdb::DB> db(raw);

  // One template of the right size; each write stamps its position into it so no two log
  // values are identical (as no two events are).
  const std::string value_template = SampleEventBytes(settings);
  if (value_template.size() != event_bytes) std::abort();
  std::atomic<uint64_t> next_position{1};
  std::vector<std::vector<uint64_t>> versions(
      static_cast<size_t>(settings.producers),
      std::vector<uint64_t>(static_cast<size_t>(settings.streams), 0));
  rocksdb::WriteOptions write;
  write.sync = settings.sync;

  auto op = [&](int producer, uint64_t i) -> std::optional<std::string> {
    const std::string stream = StreamName(producer, i, settings.streams);
    const uint64_t version = ++versions[static_cast<size_t>(producer)][i % settings.streams];
    const uint64_t position = next_position.fetch_add(1, std::memory_order_relaxed);
    std::string value = value_template;
    const std::string stamp = U64Key(position);
    std::copy(stamp.begin(), stamp.end(), value.end() - 8);
    cledger::base::HeadRecord head{position, {}, static_cast<int64_t>(i), position};
    head.hash.fill(static_cast<uint8_t>(position));

    rocksdb::WriteBatch batch;
    batch.Put(cf[1], U64Key(position), value);
    batch.Put(cf[2], StreamEventKey(kTenant, stream, version), U64Key(position));
    batch.Put(cf[0], cledger::store::kMetaHead, cledger::base::EncodeHeadRecord(head));
    rocksdb::Status st = db->Write(write, &batch);
    if (!st.ok()) return st.ToString();
    return std::nullopt;
  };
  Run run = Drive(settings, op, [&] {
    return Counters{options.statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED), 0};
  });
  if (!settings.sync) run.syncs = 0;
  for (auto* handle : cf) (void)db->DestroyColumnFamilyHandle(handle);
  (void)db->Close();
  return run;
}

// ---------------------------------------------------------------------------------------------
// Reporting

std::string Thousands(double value) {
  std::string digits = std::to_string(static_cast<uint64_t>(value + 0.5));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string PerSync(const Run& run) {
  if (run.syncs == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(run.commits) / run.syncs);
  return buf;
}

void PrintRow(const char* name, const Run& run) {
  std::printf("  %-26s %12s %10.1f %10.1f %10.1f %10s %8" PRIu64 "\n", name,
              Thousands(run.per_second).c_str(), run.p50_us, run.p99_us, run.max_us,
              PerSync(run).c_str(), run.errors);
}

void PrintTable(const Settings& s, size_t event_bytes, const std::optional<Run>& engine,
                const std::optional<Run>& raw) {
  std::printf(
      "cledger_bench_append: %d producers, %.3g s measured after %.3g s warm-up, "
      "sync=%s,\n  one %s ContactEdited per commit (%zu bytes encoded), %u hardware threads\n\n",
      s.producers, s.seconds, s.warmup, s.sync ? "true" : "false", s.event.c_str(), event_bytes,
      std::thread::hardware_concurrency());
  std::printf("  %-26s %12s %10s %10s %10s %10s %8s\n", "", "commits/s", "p50 us", "p99 us",
              "max us", s.sync ? "per sync" : "per group", "errors");
  if (engine) PrintRow("engine  Ledger::Append", *engine);
  if (raw) PrintRow("raw     DB::Write(batch)", *raw);
  std::printf("\n");
  if (engine && engine->syncs > 0) {
    const double window_us = engine->window_s * 1e6;
    std::printf("  engine writer: %" PRIu64
                " groups, one every %.0f us; DB::Write %.0f us "
                "per group on average, %.0f%% of the window (the rest: staging, hand-off)\n",
                engine->syncs, window_us / engine->syncs,
                static_cast<double>(engine->write_us) / engine->syncs,
                100.0 * engine->write_us / window_us);
  }
  if (raw && raw->syncs > 0) {
    std::printf("  raw RocksDB:   %" PRIu64 " WAL syncs, one every %.0f us\n", raw->syncs,
                raw->window_s * 1e6 / raw->syncs);
  }
  if ((engine && engine->syncs > 0) || (raw && raw->syncs > 0)) std::printf("\n");
  if (engine && raw && raw->per_second > 0) {
    std::printf("  engine / raw = %.2f\n\n", engine->per_second / raw->per_second);
  }
  if (!s.sync) {
    std::printf(
        "  SPEC §6 targets apply to durable commits (sync=true); this run shows the "
        "no-fsync ceiling.\n");
    return;
  }
  std::printf("  SPEC §6 targets (durable, 64 producers, 2 cores):\n");
  if (engine) {
    std::printf("    engine >= 100,000 commits/s : %-4s (%s/s)\n",
                engine->per_second >= kTargetCommitsPerSecond ? "PASS" : "FAIL",
                Thousands(engine->per_second).c_str());
  }
  if (engine && raw && raw->per_second > 0) {
    const double ratio = engine->per_second / raw->per_second;
    std::printf("    engine >= 0.5 x raw         : %-4s (%.2f x)\n",
                ratio >= kTargetRatio ? "PASS" : "FAIL", ratio);
  }
  if (s.producers != 64) {
    std::printf("    (the targets are stated for 64 producers; this run used %d)\n", s.producers);
  }
}

void PrintJsonRun(const char* name, const Run& run) {
  std::printf("\"%s\":{\"commits\":%" PRIu64
              ",\"window_s\":%.3f,\"commits_per_s\":%.1f,"
              "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"syncs\":%" PRIu64
              ",\"write_us\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
              name, run.commits, run.window_s, run.per_second, run.p50_us, run.p99_us, run.max_us,
              run.syncs, run.write_us, run.errors);
}

void PrintJson(const Settings& s, size_t event_bytes, const std::optional<Run>& engine,
               const std::optional<Run>& raw) {
  std::printf(
      "{\"producers\":%d,\"seconds\":%.3f,\"warmup_s\":%.3f,\"sync\":%s,"
      "\"event\":\"%s\",\"event_bytes\":%zu,\"hardware_threads\":%u,",
      s.producers, s.seconds, s.warmup, s.sync ? "true" : "false", s.event.c_str(), event_bytes,
      std::thread::hardware_concurrency());
  if (engine) {
    PrintJsonRun("engine", *engine);
    std::printf(",");
  }
  if (raw) {
    PrintJsonRun("raw", *raw);
    std::printf(",");
  }
  if (engine && raw && raw->per_second > 0) {
    std::printf("\"ratio\":%.4f,", engine->per_second / raw->per_second);
  }
  std::printf("\"targets\":{\"min_commits_per_s\":%.0f,\"min_ratio\":%.2f,\"apply\":%s}}\n",
              kTargetCommitsPerSecond, kTargetRatio, s.sync ? "true" : "false");
}

// A fresh directory: under `parent` when given, else under the system's temporary folder.
std::string MakeRunDir(const std::string& parent) {
  fs::path base = parent.empty() ? fs::temp_directory_path() : fs::path(parent);
  fs::create_directories(base);
  std::string pattern = (base / "cledger-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(3);
  }
  return pattern;
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  CLI::App app{
      "cledger_bench_append: durable single-event commits per second through Ledger::Append "
      "(the engine), next to raw RocksDB writing the same bytes with the same sync policy.\n\n"
      "engine: each producer thread appends one-event commits (a ContactEdited with a filled "
      "ContactFields, see --event) to its own streams, contact-<producer>-<i % streams>, and waits "
      "for each acknowledgement; the writer thread group-commits them (one WAL sync per "
      "group).\n"
      "raw:    each producer thread calls rocksdb::DB::Write(sync) with one WriteBatch holding "
      "what the engine writes for one event: the log entry (an event-sized value under an "
      "8-byte big-endian key), the stream index entry, the stream head and the ledger head. "
      "RocksDB's write groups share one WAL sync between concurrent writers.\n\n"
      "Both run on fresh data directories, one after the other; only commits acknowledged "
      "after the warm-up count. SPEC §6 asks, with 64 producers on 2 cores and sync=true: "
      "engine >= 100,000 commits/s and >= 0.5 x raw."};
  app.add_option("-p,--producers", s.producers, "producer threads")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("-s,--seconds", s.seconds, "length of the measuring window, per benchmark")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", s.warmup, "seconds of load before the window opens")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--sync,!--no-sync", s.sync,
               "fsync the WAL before acknowledging; default true. --sync=false (or --no-sync) "
               "shows the no-fsync ceiling of both");
  app.add_option("--streams", s.streams, "streams per producer")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--event", s.event,
                 "the ContactEdited body: typical (name, company, role, email, a phone) or "
                 "full (every contact field filled)")
      ->check(CLI::IsMember({"typical", "full"}))
      ->capture_default_str();
  app.add_option("--dir", s.dir,
                 "where to create the fresh data directories (default: the system's temporary "
                 "folder); they are removed at the end unless --keep");
  app.add_option("--only", s.only, "run only one benchmark")
      ->check(CLI::IsMember({"both", "engine", "raw"}))
      ->capture_default_str();
  app.add_flag("--sealed", s.sealed,
               "engine: seal the personal fields under each stream's data key in a key store, "
               "as the engine does for every contact and customer (FORMAT.md, \"Personal data\")");
  app.add_flag("--keep", s.keep, "keep the data directories");
  app.add_flag("--json", s.json, "print one JSON object instead of the table");
  app.add_flag("--check", s.check, "exit 1 when a SPEC §6 target is missed (sync=true only)");
  app.footer(
      "Examples:\n"
      "  cledger_bench_append                      # 64 producers, 5 s, durable\n"
      "  cledger_bench_append --producers 8 --json\n"
      "  cledger_bench_append --sync=false         # the no-fsync ceiling of both");
  CLI11_PARSE(app, argc, argv);

  const std::string run_dir = MakeRunDir(s.dir);
  const size_t event_bytes = SampleEventBytes(s).size();
  if (!s.json) {
    std::fprintf(stderr, "data directories under %s\n", run_dir.c_str());
  }

  std::optional<Run> engine, raw;
  if (s.only != "raw") {
    if (!s.json) std::fprintf(stderr, "running engine ...\n");
    engine = EngineBench(s, (fs::path(run_dir) / "engine").string());
  }
  if (s.only == "both") {
    // Let the first benchmark's dirty pages reach the disk, so the second one does not pay
    // for their writeback (which slows every fdatasync on the same file system).
    ::sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (s.only != "engine") {
    if (!s.json) std::fprintf(stderr, "running raw RocksDB ...\n");
    raw = RawBench(s, (fs::path(run_dir) / "raw").string(), event_bytes);
  }
  if (!s.keep) {
    std::error_code ec;
    fs::remove_all(run_dir, ec);
  }

  if (s.json) {
    PrintJson(s, event_bytes, engine, raw);
  } else {
    PrintTable(s, event_bytes, engine, raw);
  }
  for (const auto* run : {&engine, &raw}) {
    if (*run && (*run)->errors > 0) {
      std::fprintf(stderr, "%s: %" PRIu64 " failed commits, the first: %s\n",
                   run == &engine ? "engine" : "raw", (*run)->errors, (*run)->first_error.c_str());
    }
  }
  bool failed = (engine && engine->errors > 0) || (raw && raw->errors > 0);
  if (s.check && s.sync && engine) {
    if (engine->per_second < kTargetCommitsPerSecond) failed = true;
    if (raw && engine->per_second < kTargetRatio * raw->per_second) failed = true;
  }
  return failed ? 1 : 0;
}
