// cledger_bench_scale: the domain command path at scale, and what a large ledger costs.
//
//   generate    builds a ledger of N events through Engine::Execute with the seeds' mix of
//               commands (several tenants; creates, edits, shares, role changes, unlinks,
//               deletes, restores, password resets), C callers at once, plus one contact
//               whose stream holds L events; prints commands/s
//   commands    the same mix for S seconds on an existing (or fresh) ledger: commands/s, p50/p99
//   reads       GetContact of random existing contacts for S seconds: reads/s, p50/p99
//   timetravel  the long contact as of positions and times along its stream: ms per query
//   open        opens the ledger (restart to ready): seconds
//   scan        the baseline of a verify: a raw RocksDB scan of the log, every value read
//
// Every subcommand prints one line of JSON last, for tools/bench/run. The ids file beside the
// data directory (<data>.ids) lists contacts the generator made, for reads and time travel.
#include <rocksdb/db.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "cledger/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
using cledger::Command;
using cledger::CommandContext;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

struct Args {
  std::string data;
  uint64_t events = 100'000;
  int callers = 64;
  int tenants = 4;
  double seconds = 5;
  bool sync = true;
  uint64_t long_stream = 10'000;
  std::string prefix = "g";
};

std::unique_ptr<cledger::Engine> OpenEngine(const Args& a) {
  cledger::LedgerOptions options;
  options.path = a.data;
  options.sync = a.sync;
  options.on_storage_fault = [](const cledger::Status&) {};
  auto engine = cledger::Engine::Open(options);
  if (!engine.ok()) {
    std::cerr << "cannot open " << a.data << ": " << engine.status().message() << "\n";
    std::exit(1);
  }
  return std::move(*engine);
}

std::string TenantName(int i) { return "tenant-" + std::to_string(i); }

void CreateTenants(cledger::Engine& engine, int tenants) {
  CommandContext ops{"", {"bench", "ops"}};
  for (int i = 0; i < tenants; ++i) {
    auto done = engine.Execute(ops, cledger::CreateTenant{TenantName(i)});
    if (!done.ok() && done.status().reason() != "tenant_exists") {
      std::cerr << "tenant: " << done.status().message() << "\n";
      std::exit(1);
    }
  }
}

// One caller's records: it only touches its own, so its commands never race another's.
struct Contact {
  std::string id;
  std::string owner;                // the customer a direct contact belongs to
  std::vector<std::string> linked;  // customers a shared contact is linked to
  bool shared = false;
  bool deleted = false;
};

// The seeds' mix, per 10,000 commands. A password reset hashes with argon2id (tens of ms of
// CPU by design), so it is rare here as it is in the seeds' use.
struct Mix {
  int create_customer = 900, update_customer = 400, create_contact = 2000, edit = 4000,
      convert = 300, share = 600, roles = 400, unlink = 400, remove = 600, restore = 398, reset = 2;
};

class Caller {
 public:
  Caller(cledger::Engine& engine, std::string tenant, std::string name, uint64_t seed)
      : engine_(engine),
        ctx_{std::move(tenant), {name, "owner"}},
        name_(std::move(name)),
        random_(seed) {}

  // One command of the mix; false when the engine refused it (a bug in the generator).
  bool Step() {
    Command command = Next();
    auto done = engine_.Execute(ctx_, std::move(command));
    if (!done.ok()) {
      if (++failures_ <= 3) std::cerr << name_ << ": " << done.status().message() << "\n";
      return false;
    }
    last_position_ = done->last_position;
    return true;
  }
  uint64_t last_position() const { return last_position_; }
  const std::string& tenant() const { return ctx_.tenant; }
  const std::vector<Contact>& contacts() const { return contacts_; }

 private:
  Command Next() {
    if (customers_.empty()) return NewCustomer();
    int pick = static_cast<int>(random_() % 10'000);
    const Mix mix;
    for (auto [weight, make] : std::initializer_list<std::pair<int, Command (Caller::*)()>>{
             {mix.create_customer, &Caller::NewCustomer},
             {mix.update_customer, &Caller::UpdateCustomer},
             {mix.create_contact, &Caller::NewContact},
             {mix.edit, &Caller::Edit},
             {mix.convert, &Caller::Convert},
             {mix.share, &Caller::Share},
             {mix.roles, &Caller::Roles},
             {mix.unlink, &Caller::Unlink},
             {mix.remove, &Caller::Remove},
             {mix.restore, &Caller::Restore},
             {mix.reset, &Caller::Reset}}) {
      if (pick < weight) return (this->*make)();
      pick -= weight;
    }
    return Edit();
  }

  std::string Fresh(const char* kind) { return name_ + "-" + kind + std::to_string(++serial_); }
  const std::string& AnyCustomer() { return customers_[random_() % customers_.size()]; }
  Contact* AnyContact(bool deleted, bool shared_only = false) {
    if (contacts_.empty()) return nullptr;
    for (int tries = 0; tries < 8; ++tries) {
      Contact& c = contacts_[random_() % contacts_.size()];
      if (c.deleted == deleted && (!shared_only || c.shared)) return &c;
    }
    return nullptr;
  }

  Command NewCustomer() {
    std::string id = Fresh("cu");
    customers_.push_back(id);
    return cledger::CreateCustomer{id, "Customer " + id, id + "@billing.example", ""};
  }
  Command UpdateCustomer() {
    return cledger::UpdateCustomer{AnyCustomer(), "Renamed " + std::to_string(serial_), {}, "full"};
  }
  Command NewContact() {
    Contact c{Fresh("co"), AnyCustomer()};
    cledger::ContactFields f;
    f.first_name = "Ada";
    f.last_name = "Lovelace " + c.id;
    f.company_name = "Analytical Engines";
    f.position = "Engineer";
    f.department = "Research";
    f.email = c.id + "@people.example";
    f.phones.push_back({"work", "+44 20 7946 0" + std::to_string(serial_ % 1000)});
    contacts_.push_back(c);
    return cledger::CreateContact{c.id, c.owner, std::move(f), {}, {}};
  }
  Command Edit() {
    Contact* c = AnyContact(false);
    if (c == nullptr) return NewContact();
    const std::string title = "Title " + std::to_string(serial_++);
    return cledger::EditContact{c->id, [title](cledger::ContactFields& f) { f.title = title; }};
  }
  Command Convert() {
    Contact* c = AnyContact(false);
    if (c == nullptr || c->shared) return Edit();
    c->shared = true;
    c->linked = {c->owner};
    return cledger::ConvertToShared{c->id};
  }
  Command Share() {
    Contact* c = AnyContact(false, true);
    if (c == nullptr) return Convert();
    const std::string& customer = AnyCustomer();
    if (std::find(c->linked.begin(), c->linked.end(), customer) != c->linked.end()) return Edit();
    c->linked.push_back(customer);
    return cledger::ShareContact{c->id, customer};
  }
  Command Roles() {
    Contact* c = AnyContact(false);
    if (c == nullptr) return Edit();
    const std::string customer = c->shared ? c->linked.front() : c->owner;
    static const std::vector<std::vector<std::string>> kRoles{
        {"billing"}, {"primary"}, {"order", "shipment"}, {"primary", "billing"}};
    return cledger::SetLinkRoles{customer, c->id, kRoles[random_() % kRoles.size()]};
  }
  Command Unlink() {
    Contact* c = AnyContact(false, true);
    if (c == nullptr || c->linked.size() < 2) return Share();
    std::string customer = c->linked.back();
    c->linked.pop_back();
    return cledger::UnlinkContact{c->id, customer};
  }
  Command Remove() {
    Contact* c = AnyContact(false);
    if (c == nullptr) return NewContact();
    c->deleted = true;
    return cledger::DeleteContact{c->id};
  }
  Command Restore() {
    Contact* c = AnyContact(true);
    if (c == nullptr) return Edit();
    c->deleted = false;
    return cledger::RestoreContact{c->id};
  }
  Command Reset() {
    Contact* c = AnyContact(false);
    if (c == nullptr) return Edit();
    return cledger::ResetPassword{c->id, {true, ""}};
  }

  cledger::Engine& engine_;
  CommandContext ctx_;
  std::string name_;
  std::mt19937_64 random_;
  uint64_t serial_ = 0;
  uint64_t last_position_ = 0;
  int failures_ = 0;
  std::vector<std::string> customers_;
  std::vector<Contact> contacts_;
};

struct Load {
  uint64_t commands = 0;
  uint64_t failures = 0;
  double seconds = 0;
  std::vector<double> latencies_us;
};

// Runs the mix on `callers` threads until `done` says so (checked after every command).
template <typename Done>
Load RunMix(cledger::Engine& engine, const Args& a, const std::string& run, Done done,
            std::vector<std::unique_ptr<Caller>>* keep = nullptr) {
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < a.callers; ++i) {
    callers.push_back(std::make_unique<Caller>(engine, TenantName(i % a.tenants),
                                               run + std::to_string(i), 1000 + i));
  }
  std::mutex mu;
  Load load;
  std::atomic<bool> stop{false};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& caller : callers) {
    threads.emplace_back([&, c = caller.get()] {
      std::vector<double> mine;
      uint64_t failures = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        if (!c->Step()) ++failures;
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (done(*c)) stop = true;
      }
      std::lock_guard lock(mu);
      load.commands += mine.size();
      load.failures += failures;
      load.latencies_us.insert(load.latencies_us.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  load.seconds = SecondsSince(start);
  if (keep) *keep = std::move(callers);
  return load;
}

// The long stream: one contact edited `edits` times, interleaved with the rest of the load.
// The edits are queued many at a time (ExecuteAsync keeps their order), so one stream keeps
// pace with the many callers.
void EditLongContact(cledger::Engine& engine, const std::string& id, uint64_t edits) {
  CommandContext ctx{TenantName(0), {"bench-long", "owner"}};
  cledger::CreateCustomer owner{id + "-owner", "Long stream owner", id + "@owner.example", ""};
  (void)engine.Execute(ctx, owner);
  cledger::ContactFields f;
  f.first_name = "Long";
  f.last_name = "Stream";
  f.email = id + "@people.example";
  (void)engine.Execute(ctx, cledger::CreateContact{id, owner.id, f, {}, {}});
  std::deque<std::future<cledger::Result<cledger::CommandOutcome>>> in_flight;
  for (uint64_t i = 1; i < edits; ++i) {
    const std::string title = "Edit " + std::to_string(i);
    in_flight.push_back(engine.ExecuteAsync(
        ctx, cledger::EditContact{id, [title](cledger::ContactFields& c) { c.title = title; }}));
    if (in_flight.size() >= 64) {
      (void)in_flight.front().get();
      in_flight.pop_front();
    }
  }
  for (auto& done : in_flight) (void)done.get();
}

void PrintLoad(const char* what, const Args& a, Load& load, uint64_t head) {
  const double rate = static_cast<double>(load.commands) / load.seconds;
  std::printf(
      "%s: %llu commands in %.1f s = %.0f commands/s (%d callers, sync=%s), %llu failed, "
      "head %llu\n",
      what, static_cast<unsigned long long>(load.commands), load.seconds, rate, a.callers,
      a.sync ? "true" : "false", static_cast<unsigned long long>(load.failures),
      static_cast<unsigned long long>(head));
  const double p50 = Percentile(load.latencies_us, 0.5), p99 = Percentile(load.latencies_us, 0.99);
  std::printf(
      "{\"commands\":%llu,\"seconds\":%.3f,\"per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"failed\":%llu,\"head\":%llu,\"callers\":%d}\n",
      static_cast<unsigned long long>(load.commands), load.seconds, rate, p50 / 1000, p99 / 1000,
      static_cast<unsigned long long>(load.failures), static_cast<unsigned long long>(head),
      a.callers);
}

int Generate(const Args& a) {
  auto engine = OpenEngine(a);
  CreateTenants(*engine, a.tenants);
  const std::string long_id = a.prefix + "-long";
  std::thread long_stream;
  if (a.long_stream > 0) {
    long_stream = std::thread([&] { EditLongContact(*engine, long_id, a.long_stream); });
  }
  std::vector<std::unique_ptr<Caller>> callers;
  Load load = RunMix(
      *engine, a, a.prefix, [&](const Caller& c) { return c.last_position() >= a.events; },
      &callers);
  if (long_stream.joinable()) long_stream.join();  // it finishes its edits: the stream is whole
  std::ofstream ids(a.data + ".ids", std::ios::app);
  if (a.long_stream > 0) ids << "long " << TenantName(0) << " " << long_id << "\n";
  for (const auto& c : callers) {
    for (const Contact& contact : c->contacts()) {
      if (!contact.deleted) ids << "contact " << c->tenant() << " " << contact.id << "\n";
    }
  }
  PrintLoad("generate", a, load, engine->ledger().GetHead().position);
  return load.failures == 0 ? 0 : 1;
}

int Commands(const Args& a) {
  auto engine = OpenEngine(a);
  CreateTenants(*engine, a.tenants);
  const auto end = Clock::now() + std::chrono::duration<double>(a.seconds);
  Load load = RunMix(*engine, a, a.prefix, [&](const Caller&) { return Clock::now() >= end; });
  PrintLoad("commands", a, load, engine->ledger().GetHead().position);
  return load.failures == 0 ? 0 : 1;
}

struct Record {
  std::string tenant, id;
};

std::vector<Record> ReadIds(const Args& a, const std::string& kind) {
  std::ifstream in(a.data + ".ids");
  std::vector<Record> out;
  std::string k, tenant, id;
  while (in >> k >> tenant >> id) {
    if (k == kind) out.push_back({tenant, id});
  }
  if (out.empty()) {
    std::cerr << "no " << kind << " in " << a.data << ".ids: run generate first\n";
    std::exit(2);
  }
  return out;
}

int Reads(const Args& a) {
  const std::vector<Record> ids = ReadIds(a, "contact");
  auto engine = OpenEngine(a);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<double> latencies;
  uint64_t misses = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(a.seconds);
  for (int i = 0; i < a.callers; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 random(i);
      std::vector<double> mine;
      uint64_t missed = 0;
      while (Clock::now() < end) {
        const Record& r = ids[random() % ids.size()];
        const auto t0 = Clock::now();
        const bool found = engine->GetContact({r.tenant, {"bench-reader", "auditor"}}, r.id).ok();
        mine.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!found) ++missed;
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
      misses += missed;
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = SecondsSince(start);
  const double rate = static_cast<double>(latencies.size()) / seconds;
  const double p50 = Percentile(latencies, 0.5), p99 = Percentile(latencies, 0.99);
  std::printf("reads: %zu in %.1f s = %.0f/s, p50 %.3f ms, p99 %.3f ms, %llu not found\n",
              latencies.size(), seconds, rate, p50 / 1000, p99 / 1000,
              static_cast<unsigned long long>(misses));
  std::printf("{\"reads\":%zu,\"per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"missing\":%llu}\n",
              latencies.size(), rate, p50 / 1000, p99 / 1000,
              static_cast<unsigned long long>(misses));
  return misses == 0 ? 0 : 1;
}

// The long contact at five points of its stream, by position and by time; each query alone,
// the median of five.
int TimeTravel(const Args& a) {
  const Record long_stream = ReadIds(a, "long").back();
  const std::string& id = long_stream.id;
  auto engine = OpenEngine(a);
  const cledger::Principal who{long_stream.tenant, {"bench-auditor", "auditor"}};
  auto history = engine->ContactHistory(who, id);
  if (!history.ok() || history->empty()) {
    std::cerr << "no history for " << id << "\n";
    return 1;
  }
  std::vector<uint64_t> positions;
  std::vector<int64_t> times;
  for (const auto& entry : *history) {
    if (positions.empty() || positions.back() != entry.position) {
      positions.push_back(entry.position);
      times.push_back(entry.recorded_at_us);
    }
  }
  auto median_ms = [&](const cledger::AsOf& as_of) {
    std::vector<double> runs;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      if (!engine->GetContact(who, id, as_of).ok()) std::exit(1);
      runs.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return Percentile(runs, 0.5);
  };
  double worst = 0;
  for (double q : {0.01, 0.25, 0.5, 0.75, 1.0}) {
    const size_t i = std::min(positions.size() - 1, static_cast<size_t>(q * positions.size()));
    const double at = median_ms({positions[i], std::nullopt});
    const double as_of = median_ms({std::nullopt, times[i]});
    worst = std::max({worst, at, as_of});
    std::printf("  event %6zu of %zu: at position %.2f ms, as of its time %.2f ms\n", i + 1,
                positions.size(), at, as_of);
  }
  std::printf("{\"stream_events\":%zu,\"worst_ms\":%.3f,\"now_ms\":%.3f}\n", positions.size(),
              worst, median_ms({}));
  return 0;
}

int Open(const Args& a) {
  const auto start = Clock::now();
  auto engine = OpenEngine(a);
  const double opened = SecondsSince(start);
  const uint64_t head = engine->ledger().GetHead().position;
  std::printf("open: ready in %.3f s at head %llu\n", opened,
              static_cast<unsigned long long>(head));
  std::printf("{\"ready_s\":%.3f,\"head\":%llu}\n", opened, static_cast<unsigned long long>(head));
  return 0;
}

// Reads every value of the log's column family once: the floor under any verify.
int Scan(const Args& a) {
  std::vector<std::string> families;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), a.data, &families).ok()) return 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const auto start = Clock::now();
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), a.data, descriptors, &handles, &raw)
           .ok()) {
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const auto log = std::find(families.begin(), families.end(), "log") - families.begin();
  uint64_t events = 0, bytes = 0, sum = 0;
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, handles[log]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice value = it->value();
    for (size_t i = 0; i < value.size(); i += 64) sum += static_cast<uint8_t>(value[i]);
    ++events;
    bytes += value.size();
  }
  it.reset();
  const double seconds = SecondsSince(start);
  for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
  std::printf("scan: %llu events, %.0f MB in %.2f s = %.0f events/s (checksum %llu)\n",
              static_cast<unsigned long long>(events), static_cast<double>(bytes) / 1e6, seconds,
              static_cast<double>(events) / seconds, static_cast<unsigned long long>(sum % 1000));
  std::printf("{\"events\":%llu,\"bytes\":%llu,\"seconds\":%.3f,\"per_s\":%.0f}\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
              seconds, static_cast<double>(events) / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"cledger_bench_scale: domain commands and a large ledger's costs"};
  app.require_subcommand(1);
  auto args = std::make_shared<Args>();
  auto common = [&](CLI::App* sub) {
    sub->add_option("--data", args->data, "the data directory")->required();
    sub->add_option("--tenants", args->tenants, "tenants the callers share")->capture_default_str();
    return sub;
  };
  auto loaded = [&](CLI::App* sub) {
    common(sub);
    sub->add_option("--callers", args->callers, "threads calling at once")->capture_default_str();
    sub->add_flag("--sync,!--no-sync", args->sync, "fsync before acknowledging")
        ->capture_default_str();
    sub->add_option("--prefix", args->prefix, "names the run's records (unique per run)")
        ->capture_default_str();
    return sub;
  };
  int rc = 2;
  auto* generate = loaded(app.add_subcommand("generate", "build a ledger of N events"));
  generate
      ->add_option("--events", args->events,
                   "the head to reach by the mix (the long stream comes on top)")
      ->capture_default_str();
  generate->add_option("--long-stream", args->long_stream, "events of the one long contact")
      ->capture_default_str();
  generate->callback([&] { rc = Generate(*args); });
  auto* commands = loaded(app.add_subcommand("commands", "the seeds' mix for S seconds"));
  commands->add_option("--seconds", args->seconds, "how long to run the mix")
      ->capture_default_str();
  commands->callback([&] { rc = Commands(*args); });
  auto* reads = common(app.add_subcommand("reads", "GetContact of random contacts"));
  reads->add_option("--callers", args->callers, "threads reading at once")->capture_default_str();
  reads->add_option("--seconds", args->seconds, "how long to read")->capture_default_str();
  reads->callback([&] { rc = Reads(*args); });
  common(app.add_subcommand("timetravel", "the long contact along its stream"))->callback([&] {
    rc = TimeTravel(*args);
  });
  common(app.add_subcommand("open", "restart to ready"))->callback([&] { rc = Open(*args); });
  common(app.add_subcommand("scan", "a raw scan of the log"))->callback([&] { rc = Scan(*args); });
  CLI11_PARSE(app, argc, argv);
  return rc;
}
