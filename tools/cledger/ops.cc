// Ops subcommands: verify, projections status|rebuild, events dump, backup create|restore,
// stats. Each works offline on --data DIR and, where it makes sense, against a running server
// with --server URL --token T (the ops-only admin routes).
//
// stdout carries only what a script reads (text, JSON, JSON lines or raw frames); progress and
// diagnostics go to stderr, and the progress bar draws only when stderr is a terminal.
#include <rocksdb/db.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "engine/api/json_mapping.h"
#include "events/codec.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/progress.h"
#include "tools/cledger/remote.h"

namespace cledger::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kExitCodes[] =
    "Exit codes: 0 ok · 1 a problem was found, or the server refused · 2 bad arguments · "
    "3 the data directory or the server could not be reached.";
constexpr uint64_t kPage = 1000;  // events per read (and the server's page maximum)

struct OpsArgs {
  std::string data_dir = "./data";
  std::string server;
  std::string token;
  bool json = false;
  bool digest = false;
  std::string against;
  std::string name;
  bool all = false;
  uint64_t from = 1;
  uint64_t to = 0;  // 0: the head when the dump starts
  std::string tenant;
  std::string format = "jsonl";
  std::string backup_dir;
  std::string restore_to;
  bool remote() const { return !server.empty(); }
};

// ---- Shared plumbing ---------------------------------------------------------------------

int Complain(const std::string& what, int exit_code) {
  std::cerr << "cledger: " << what << "\n";
  return exit_code;
}

int FailStatus(const Status& status) {
  std::cerr << "cledger: " << status.message()
            << (status.field().empty() ? "" : " (field " + status.field() + ")") << " ["
            << status.reason() << "]\n";
  if (status.reason() == "server_unreachable") return kExitUnavailable;
  if (status.reason() == "invalid_server") return kExitUsage;
  return kExitFailed;
}

// Like OpenOrExplain, but never creates a ledger: a mistyped --data must not "verify" an
// empty directory it just made.
std::unique_ptr<Engine> OpenExisting(const std::string& data_dir) {
  std::error_code ec;
  if (!fs::exists(fs::path(data_dir) / "CURRENT", ec)) {
    std::cerr << "cledger: no ledger in " << data_dir
              << " (give --data the directory `cledger serve` uses)\n";
    return nullptr;
  }
  return OpenOrExplain(data_dir);
}

// Whether --server/--token make sense; prints why not.
bool RemoteArgsOk(const OpsArgs& a) {
  if (a.remote() && a.token.empty()) {
    Complain("--server needs an ops token: --token T or CLEDGER_TOKEN", kExitUsage);
    return false;
  }
  return true;
}

Result<json::object> GetJson(const OpsArgs& a, const std::string& method,
                             const std::string& target, const std::string& body = {}) {
  auto reply = Remote(a.server, a.token, method, target, body);
  if (!reply.ok()) return reply.status();
  boost::system::error_code ec;
  json::value doc = json::parse(reply->body, ec);
  if (ec || !doc.is_object()) {
    return Status(Code::kIoError, "bad_reply", "the server's reply to " + target +
                                                   " is not a JSON object");
  }
  return std::move(doc.as_object());
}

uint64_t U64(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return 0;
  boost::system::error_code ec;
  const auto n = v->to_number<uint64_t>(ec);
  return ec ? 0 : n;
}

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

void PrintJson(const json::value& value) { std::cout << json::serialize(value) << "\n"; }

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(unit == 0 ? 0 : 1) << value << " " << kUnits[unit];
  return out.str();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Bytes of the regular files under `dir`; files may come and go while it counts.
uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

// Progress of a copy into `dir` (backup, restore): RocksDB's backup engine has no progress
// hook we can reach, so a thread watches the destination grow towards `total` bytes.
class CopyProgress {
 public:
  CopyProgress(const std::string& label, std::string dir, uint64_t total)
      : bar_(label), dir_(std::move(dir)), total_(total) {
    if (isatty(STDERR_FILENO) == 0 || total_ == 0) return;
    const uint64_t before = DirBytes(dir_);
    thread_ = std::thread([this, before] {
      while (!stop_.load()) {
        const uint64_t now = DirBytes(dir_);
        bar_.Update(std::min(total_ - 1, now > before ? now - before : 0), total_);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
    });
  }
  ~CopyProgress() { Stop(); }
  // The copy is complete: the bar shows it whole.
  void Done() {
    Stop();
    if (total_ > 0) bar_.Update(total_, total_);
  }

 private:
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  ProgressBar bar_;
  std::string dir_;
  uint64_t total_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- verify --------------------------------------------------------------------------------

struct Digest {
  uint64_t position = 0;
  std::string hash;  // lower-case hex
};

std::optional<Digest> ParseDigest(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Digest d;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9' || d.position > UINT64_MAX / 10 - 9) return std::nullopt;
    d.position = d.position * 10 + static_cast<uint64_t>(c - '0');
  }
  d.hash = text.substr(colon + 1);
  if (d.hash.size() != 64) return std::nullopt;
  for (char& c : d.hash) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return d;
}

struct VerifyResult {
  bool chain_ok = true;
  uint64_t events_checked = 0;
  uint64_t first_broken = 0;
  std::string problem;
  Digest head;
  std::vector<ProjectionMismatch> projections;
  std::optional<Digest> against;
  std::string against_problem;  // empty: the ledger extends the digest
  bool ok() const { return chain_ok && projections.empty() && against_problem.empty(); }
};

// Why the ledger does not extend `digest`, given the hash it holds at that position (nullopt
// when it has no event there); empty when it does.
std::string ExtendsProblem(const Digest& digest, uint64_t head,
                           const std::optional<std::string>& hash_there) {
  if (digest.position == 0) {
    return digest.hash == std::string(64, '0') ? "" : "position 0 has the all-zero hash only";
  }
  if (digest.position > head || !hash_there) {
    return "position " + std::to_string(digest.position) + " is past the head (" +
           std::to_string(head) + "): events were removed";
  }
  if (*hash_there != digest.hash) {
    return "the event at position " + std::to_string(digest.position) + " has hash " +
           *hash_there + ", not " + digest.hash;
  }
  return "";
}

Result<VerifyResult> VerifyOffline(Engine& engine) {
  VerifyResult r;
  {
    ProgressBar bar("verify chain");
    const VerifyReport chain =
        engine.ledger().VerifyChain([&bar](uint64_t d, uint64_t t) { bar.Update(d, t); });
    r.chain_ok = chain.ok;
    r.events_checked = chain.events_checked;
    r.first_broken = chain.first_broken_position;
    r.problem = chain.problem;
    r.head = {chain.head.position, HexOf(chain.head.hash)};
  }
  ProgressBar bar("verify projections");
  // Each projection is folded afresh in turn, each reporting (done, head): one bar for all.
  const uint64_t passes = engine.Projections().size();
  uint64_t pass = 0, last = 0;
  auto mismatches = engine.VerifyProjections([&](uint64_t done, uint64_t total) {
    if (last == total) ++pass;
    last = done;
    bar.Update(std::min(pass, passes - 1) * total + done, passes * total);
  });
  if (!mismatches.ok()) return mismatches.status();
  r.projections = *mismatches;
  return r;
}

void CheckAgainstOffline(Engine& engine, VerifyResult& r) {
  std::optional<std::string> hash_there;
  if (r.against->position > 0) {
    auto events = engine.ledger().Read(r.against->position, 1);
    if (!events.ok()) {
      r.against_problem = "cannot read position " + std::to_string(r.against->position) +
                          ": " + events.status().message();
      return;
    }
    if (!events->empty() && events->front().position == r.against->position) {
      hash_there = HexOf(events->front().hash);
    }
  }
  r.against_problem = ExtendsProblem(*r.against, r.head.position, hash_there);
}

Result<VerifyResult> VerifyRemote(const OpsArgs& a) {
  auto report = GetJson(a, "GET", "/v1/ledger/verify");
  if (!report.ok()) return report.status();
  VerifyResult r;
  r.events_checked = U64(*report, "events_checked");
  r.first_broken = U64(*report, "first_broken_position");
  r.problem = Str(*report, "problem");
  r.chain_ok = r.first_broken == 0 && r.problem.empty();
  r.head = {U64(*report, "position"), Str(*report, "hash")};
  if (const json::value* list = report->if_contains("projections"); list && list->is_array()) {
    for (const json::value& m : list->as_array()) {
      if (m.is_object()) {
        r.projections.push_back({Str(m.as_object(), "projection"), Str(m.as_object(), "key")});
      }
    }
  }
  return r;
}

Status CheckAgainstRemote(const OpsArgs& a, VerifyResult& r) {
  std::optional<std::string> hash_there;
  if (r.against->position > 0) {
    auto page = GetJson(a, "GET", "/v1/events?limit=1&from=" + std::to_string(r.against->position));
    if (!page.ok()) return page.status();
    const json::value* events = page->if_contains("events");
    if (events && events->is_array() && !events->as_array().empty() &&
        events->as_array()[0].is_object()) {
      const json::object& e = events->as_array()[0].as_object();
      if (U64(e, "position") == r.against->position) hash_there = Str(e, "hash");
    }
  }
  r.against_problem = ExtendsProblem(*r.against, r.head.position, hash_there);
  return Status::Ok();
}

void PrintVerifyText(const VerifyResult& r) {
  if (r.chain_ok) {
    std::cout << "chain ok: " << r.events_checked << " events, head " << r.head.position << " "
              << r.head.hash << "\n";
  } else {
    std::cout << "BROKEN at position " << r.first_broken << ": " << r.problem << " ("
              << r.events_checked << " events before it chain correctly)\n";
  }
  if (r.projections.empty()) {
    std::cout << "projections ok: each equals a fresh fold of the log\n";
  }
  for (const ProjectionMismatch& m : r.projections) {
    std::cout << "projection " << m.projection << " differs at key " << m.key
              << " from a fresh fold (repair: cledger projections rebuild " << m.projection
              << ")\n";
  }
  if (r.against) {
    const std::string digest = std::to_string(r.against->position) + ":" + r.against->hash;
    if (r.against_problem.empty()) {
      std::cout << "digest " << digest << " holds: the ledger still extends it\n";
    } else {
      std::cout << "the ledger does not extend that digest: " << r.against_problem << "\n";
    }
  }
  if (!r.ok()) std::cout << "verify FAILED\n";
}

json::object VerifyJson(const VerifyResult& r) {
  json::array projections;
  for (const ProjectionMismatch& m : r.projections) {
    projections.push_back(json::object{{"projection", m.projection}, {"key", m.key}});
  }
  json::object out{{"ok", r.ok()},
                   {"events_checked", r.events_checked},
                   {"first_broken_position", r.first_broken},
                   {"problem", r.problem},
                   {"position", r.head.position},
                   {"hash", r.head.hash},
                   {"projections", std::move(projections)}};
  if (r.against) {
    out["against"] = json::object{{"position", r.against->position},
                                  {"hash", r.against->hash},
                                  {"ok", r.against_problem.empty()},
                                  {"problem", r.against_problem}};
  }
  return out;
}

int PrintDigest(const OpsArgs& a) {
  Digest d;
  if (a.remote()) {
    auto digest = GetJson(a, "GET", "/v1/ledger/digest");
    if (!digest.ok()) return FailStatus(digest.status());
    d = {U64(*digest, "position"), Str(*digest, "hash")};
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return kExitUnavailable;
    const Head head = engine->ledger().GetHead();
    d = {head.position, HexOf(head.hash)};
  }
  const std::string text = std::to_string(d.position) + ":" + d.hash;
  if (a.json) {
    PrintJson(json::object{{"position", d.position}, {"hash", d.hash}, {"digest", text}});
  } else {
    std::cout << text << "\n";
  }
  return kExitOk;
}

int Verify(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  if (a.digest) return PrintDigest(a);
  std::optional<Digest> against;
  if (!a.against.empty() && !(against = ParseDigest(a.against))) {
    return Complain("--against takes POSITION:HASH as `cledger verify --digest` prints it, "
                    "e.g. 1234:9f86d0…(64 hex digits)", kExitUsage);
  }
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) return kExitUnavailable;
  auto result = engine ? VerifyOffline(*engine) : VerifyRemote(a);
  if (!result.ok()) return FailStatus(result.status());
  result->against = against;
  if (against && a.remote()) {
    if (Status s = CheckAgainstRemote(a, *result); !s.ok()) return FailStatus(s);
  } else if (against) {
    CheckAgainstOffline(*engine, *result);
  }
  if (a.json) {
    PrintJson(VerifyJson(*result));
  } else {
    PrintVerifyText(*result);
  }
  return result->ok() ? kExitOk : kExitFailed;
}

// ---- projections ---------------------------------------------------------------------------

// RocksDB's own log of a read-only look: kept out of the data directory.
class QuietLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

// Approximate bytes of each column family (files and memtables), read without the lock a
// writer holds; empty when the directory cannot be opened that way.
std::map<std::string, uint64_t> FamilySizes(const std::string& data_dir) {
  rocksdb::Options options;
  options.info_log = std::make_shared<QuietLogger>();
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, data_dir, &names).ok()) return {};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, data_dir, descriptors, &handles, &raw).ok()) {
    return {};
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string past_every_key(64, '\xff');
  const rocksdb::Range everything("", past_every_key);
  rocksdb::SizeApproximationOptions approx;
  approx.include_memtables = true;
  std::map<std::string, uint64_t> sizes;
  for (size_t i = 0; i < handles.size(); ++i) {
    uint64_t size = 0;
    if (db->GetApproximateSizes(approx, handles[i], &everything, 1, &size).ok()) {
      sizes[names[i]] = size;
    }
    (void)db->DestroyColumnFamilyHandle(handles[i]);
  }
  return sizes;
}

json::object StatusJson(const ProjectionStatus& p) {
  return {{"name", p.name},
          {"applied_position", p.applied_position},
          {"lag", p.lag},
          {"generation", p.generation}};
}

ProjectionStatus StatusOf(const json::object& o) {
  return {Str(o, "name"), U64(o, "applied_position"), U64(o, "lag"), U64(o, "generation")};
}

Result<std::vector<ProjectionStatus>> RemoteProjections(const OpsArgs& a) {
  auto list = GetJson(a, "GET", "/v1/admin/projections");
  if (!list.ok()) return list.status();
  std::vector<ProjectionStatus> out;
  if (const json::value* items = list->if_contains("items"); items && items->is_array()) {
    for (const json::value& item : items->as_array()) {
      if (item.is_object()) out.push_back(StatusOf(item.as_object()));
    }
  }
  return out;
}

void PrintProjectionTable(const std::vector<ProjectionStatus>& statuses,
                          const std::map<std::string, uint64_t>& sizes) {
  std::cout << std::left << std::setw(12) << "NAME" << std::right << std::setw(12) << "APPLIED"
            << std::setw(10) << "LAG" << std::setw(12) << "GENERATION" << std::setw(12)
            << "SIZE" << "\n";
  for (const ProjectionStatus& p : statuses) {
    auto size = sizes.find("p." + p.name + "." + std::to_string(p.generation));
    std::cout << std::left << std::setw(12) << p.name << std::right << std::setw(12)
              << p.applied_position << std::setw(10) << p.lag << std::setw(12) << p.generation
              << std::setw(12) << (size == sizes.end() ? "-" : HumanBytes(size->second)) << "\n";
  }
  if (sizes.empty()) std::cout << "(SIZE is known offline only)\n";
}

int ProjectionsStatus(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::vector<ProjectionStatus> statuses;
  std::map<std::string, uint64_t> sizes;
  if (a.remote()) {
    auto remote = RemoteProjections(a);
    if (!remote.ok()) return FailStatus(remote.status());
    statuses = std::move(*remote);
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return kExitUnavailable;
    statuses = engine->Projections();
    engine.reset();  // its column families are measured on the closed directory
    sizes = FamilySizes(a.data_dir);
  }
  if (!a.json) {
    PrintProjectionTable(statuses, sizes);
    return kExitOk;
  }
  json::array items;
  for (const ProjectionStatus& p : statuses) {
    json::object item = StatusJson(p);
    auto size = sizes.find("p." + p.name + "." + std::to_string(p.generation));
    if (size != sizes.end()) item["size_bytes"] = size->second;
    items.push_back(std::move(item));
  }
  PrintJson(json::object{{"items", std::move(items)}});
  return kExitOk;
}

// A URL path segment: every byte outside the unreserved set percent-encoded.
std::string PathSegment(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 0xF]};
    }
  }
  return out;
}

Result<ProjectionStatus> RebuildOne(const OpsArgs& a, Engine* engine, const std::string& name) {
  if (a.remote()) {
    if (isatty(STDERR_FILENO)) std::cerr << "rebuilding " << name << " on the server…\n";
    auto status = GetJson(a, "POST", "/v1/admin/projections/" + PathSegment(name) + "/rebuild");
    if (!status.ok()) return status.status();
    return StatusOf(*status);
  }
  {
    ProgressBar bar("rebuild " + name);
    Status s = engine->Rebuild(name, [&bar](uint64_t d, uint64_t t) { bar.Update(d, t); });
    if (!s.ok()) return s;
  }
  for (const ProjectionStatus& p : engine->Projections()) {
    if (p.name == name) return p;
  }
  return Status(Code::kNotFound, "projection_not_found", "no projection named '" + name + "'");
}

int ProjectionsRebuild(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  if (a.all == !a.name.empty()) {
    return Complain("name one projection, or give --all (see `cledger projections status`)",
                    kExitUsage);
  }
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) return kExitUnavailable;
  std::vector<std::string> names{a.name};
  if (a.all) {
    auto statuses = a.remote() ? RemoteProjections(a)
                               : Result<std::vector<ProjectionStatus>>(engine->Projections());
    if (!statuses.ok()) return FailStatus(statuses.status());
    names.clear();
    for (const ProjectionStatus& p : *statuses) names.push_back(p.name);
  }
  json::array items;
  for (const std::string& name : names) {
    const auto started = std::chrono::steady_clock::now();
    auto rebuilt = RebuildOne(a, engine.get(), name);
    if (!rebuilt.ok()) return FailStatus(rebuilt.status());
    items.push_back(StatusJson(*rebuilt));
    if (!a.json) {
      std::cout << "rebuilt " << name << ": generation " << rebuilt->generation << ", applied "
                << rebuilt->applied_position << " (" << std::fixed << std::setprecision(1)
                << SecondsSince(started) << " s)\n";
    }
  }
  if (a.json) PrintJson(json::object{{"items", std::move(items)}});
  return kExitOk;
}

// ---- events dump ---------------------------------------------------------------------------

// Writes events to stdout as JSON lines or as raw frames (4-byte little-endian size, bytes).
class EventSink {
 public:
  explicit EventSink(bool raw) : raw_(raw) {}
  void Frame(std::string_view bytes) {
    const auto size = static_cast<uint32_t>(bytes.size());
    char prefix[4];
    for (int i = 0; i < 4; ++i) prefix[i] = static_cast<char>((size >> (8 * i)) & 0xFF);
    std::cout.write(prefix, 4).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  void Line(const json::value& event) { std::cout << json::serialize(event) << '\n'; }
  bool raw() const { return raw_; }
  int Finish() {
    std::cout.flush();
    return std::cout ? kExitOk : Complain("writing to stdout failed", kExitFailed);
  }

 private:
  bool raw_;
};

int DumpOffline(const OpsArgs& a, EventSink& sink) {
  auto engine = OpenExisting(a.data_dir);
  if (!engine) return kExitUnavailable;
  Ledger& ledger = engine->ledger();
  const uint64_t head = ledger.GetHead().position;
  const uint64_t first = std::max<uint64_t>(a.from, 1);
  const uint64_t last = a.to ? std::min(a.to, head) : head;
  ProgressBar bar("dump");
  for (uint64_t next = first; next <= last;) {
    auto events = ledger.Read(next, std::min(kPage, last - next + 1));
    if (!events.ok()) return FailStatus(events.status());
    if (events->empty()) break;
    for (const Event& e : *events) {
      if (!a.tenant.empty() && e.tenant != a.tenant) continue;
      if (!sink.raw()) {
        sink.Line(api::ToJson(e));
        continue;
      }
      auto raw = ledger.ReadRaw(e.position);
      if (!raw.ok()) return FailStatus(raw.status());
      sink.Frame(*raw);
    }
    next = events->back().position + 1;
    bar.Update(next - first, last - first + 1);
  }
  return sink.Finish();
}

// One page of the server's events from `from` on, those wanted written out. Returns the next
// position to ask for, or `last + 1` once past the end.
Result<uint64_t> DumpJsonPage(const OpsArgs& a, EventSink& sink, uint64_t from, uint64_t last) {
  auto page = GetJson(a, "GET", "/v1/events?limit=" + std::to_string(kPage) +
                                    "&from=" + std::to_string(from));
  if (!page.ok()) return page.status();
  const json::value* events = page->if_contains("events");
  if (events == nullptr || !events->is_array() || events->as_array().empty()) return last + 1;
  for (const json::value& e : events->as_array()) {
    if (!e.is_object() || U64(e.as_object(), "position") > last) return last + 1;
    if (a.tenant.empty() || Str(e.as_object(), "tenant") == a.tenant) sink.Line(e);
  }
  return std::max(U64(*page, "next"), from + 1);
}

// The same, from the server's raw frames; each is decoded for its position and tenant.
Result<uint64_t> DumpRawPage(const OpsArgs& a, EventSink& sink, uint64_t from, uint64_t last) {
  auto reply = Remote(a.server, a.token, "GET",
                      "/v1/events?limit=" + std::to_string(kPage) + "&from=" +
                          std::to_string(from),
                      {}, "application/x-flatbuffers");
  if (!reply.ok()) return reply.status();
  const std::string_view body = reply->body;
  uint64_t next = last + 1;
  for (size_t at = 0; at + 4 <= body.size();) {
    uint32_t size = 0;
    for (size_t i = 0; i < 4; ++i) {
      size |= static_cast<uint32_t>(static_cast<uint8_t>(body[at + i])) << (8 * i);
    }
    const std::string_view bytes = body.substr(at + 4, size);
    auto event = events::DecodeEvent(bytes);
    if (!event.ok()) return event.status();
    if (event->position > last) return last + 1;
    if (a.tenant.empty() || event->tenant == a.tenant) sink.Frame(bytes);
    next = event->position + 1;
    at += 4 + size;
  }
  return next;
}

int DumpRemote(const OpsArgs& a, EventSink& sink) {
  auto digest = GetJson(a, "GET", "/v1/ledger/digest");
  if (!digest.ok()) return FailStatus(digest.status());
  const uint64_t head = U64(*digest, "position");
  const uint64_t first = std::max<uint64_t>(a.from, 1);
  // The head when the dump starts: a dump of a live server ends at one point in time.
  const uint64_t last = a.to ? std::min(a.to, head) : head;
  ProgressBar bar("dump");
  for (uint64_t next = first; next <= last;) {
    auto after = sink.raw() ? DumpRawPage(a, sink, next, last) : DumpJsonPage(a, sink, next, last);
    if (!after.ok()) return FailStatus(after.status());
    next = *after;
    bar.Update(std::min(next, last + 1) - first, last - first + 1);
  }
  return sink.Finish();
}

int EventsDump(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  const bool raw = a.format == "raw";
  if (raw && isatty(STDOUT_FILENO)) {
    return Complain("raw frames are binary; redirect them, e.g. "
                    "`cledger events dump --format raw > events.bin`", kExitUsage);
  }
  if (a.to != 0 && a.to < a.from) return Complain("--to is before --from", kExitUsage);
  EventSink sink(raw);
  return a.remote() ? DumpRemote(a, sink) : DumpOffline(a, sink);
}

// ---- backup --------------------------------------------------------------------------------

int BackupCreate(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  json::object out{{"dir", a.backup_dir}};
  if (a.remote()) {
    if (!fs::path(a.backup_dir).is_absolute()) {
      return Complain("with --server, DIR is a path on the server's machine: give it absolute",
                      kExitUsage);
    }
    auto reply = GetJson(a, "POST", "/v1/admin/backups", json::serialize(out));
    if (!reply.ok()) return FailStatus(reply.status());
    out["position"] = U64(*reply, "position");
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return kExitUnavailable;
    const Head head = engine->ledger().GetHead();
    {
      CopyProgress progress("backup", a.backup_dir, DirBytes(a.data_dir));
      if (Status s = engine->Backup(a.backup_dir); !s.ok()) return FailStatus(s);
      progress.Done();
    }
    out["position"] = head.position;
    out["hash"] = HexOf(head.hash);
  }
  if (a.json) {
    PrintJson(out);
  } else {
    std::cout << "backup of position " << out["position"].as_uint64() << " written to "
              << a.backup_dir << (a.remote() ? " on the server" : "") << "\n"
              << "restore it with: cledger backup restore " << a.backup_dir
              << " --data NEWDIR\n";
  }
  return kExitOk;
}

int BackupRestore(const OpsArgs& a) {
  std::error_code ec;
  if (!fs::is_directory(a.backup_dir, ec)) {
    return Complain("no backup directory " + a.backup_dir, kExitUsage);
  }
  if (fs::exists(a.restore_to, ec) && !fs::is_empty(a.restore_to, ec)) {
    return Complain(a.restore_to + " is not empty; restore into a new directory (nothing was "
                    "changed)", kExitUsage);
  }
  {
    CopyProgress progress("restore", a.restore_to, DirBytes(a.backup_dir));
    if (Status s = Engine::RestoreBackup(a.backup_dir, a.restore_to); !s.ok()) {
      return FailStatus(s);
    }
    progress.Done();
  }
  auto engine = OpenExisting(a.restore_to);
  if (!engine) return kExitUnavailable;
  const Head head = engine->ledger().GetHead();
  if (a.json) {
    PrintJson(json::object{
        {"data", a.restore_to}, {"position", head.position}, {"hash", HexOf(head.hash)}});
  } else {
    std::cout << "restored position " << head.position << " (" << HexOf(head.hash) << ") into "
              << a.restore_to << "\ncheck it with: cledger verify --data " << a.restore_to
              << "\n";
  }
  return kExitOk;
}

// ---- stats ---------------------------------------------------------------------------------

// Commits in the log: a commit's events are contiguous and share one correlation id and one
// recorded_at, so a change in either starts the next commit.
Result<uint64_t> CountCommits(Ledger& ledger, uint64_t head) {
  ProgressBar bar("count commits");
  uint64_t commits = 0;
  std::string correlation;
  int64_t recorded_at = -1;
  for (uint64_t next = 1; next <= head;) {
    auto events = ledger.Read(next, 10 * kPage);
    if (!events.ok()) return events.status();
    if (events->empty()) break;
    for (const Event& e : *events) {
      if (e.correlation_id != correlation || e.recorded_at_us != recorded_at) ++commits;
      correlation = e.correlation_id;
      recorded_at = e.recorded_at_us;
    }
    next = events->back().position + 1;
    bar.Update(next - 1, head);
  }
  return commits;
}

Result<json::object> StatsOffline(Engine& engine) {
  auto stats = engine.Stats();
  if (!stats.ok()) return stats.status();
  auto commits = CountCommits(engine.ledger(), stats->head.position);
  if (!commits.ok()) return commits.status();
  return json::object{{"position", stats->head.position}, {"hash", HexOf(stats->head.hash)},
                      {"events", stats->head.position},   {"commits", *commits},
                      {"tenants", stats->tenants},         {"customers", stats->customers},
                      {"contacts", stats->contacts},       {"size_bytes", stats->size_bytes}};
}

int Stats(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) return kExitUnavailable;
  auto stats = engine ? StatsOffline(*engine) : GetJson(a, "GET", "/v1/admin/stats");
  if (!stats.ok()) return FailStatus(stats.status());
  if (a.json) {
    PrintJson(*stats);
    return kExitOk;
  }
  const json::object& s = *stats;
  std::cout << "head       " << U64(s, "position") << " " << Str(s, "hash") << "\n"
            << "events     " << U64(s, "events") << "\n"
            << "commits    " << U64(s, "commits")
            << (a.remote() ? "  (since the server started)" : "") << "\n"
            << "tenants    " << U64(s, "tenants") << "\n"
            << "customers  " << U64(s, "customers") << "  (deleted included)\n"
            << "contacts   " << U64(s, "contacts") << "  (deleted included)\n"
            << "size       " << HumanBytes(U64(s, "size_bytes")) << " on disk\n";
  return kExitOk;
}

// ---- Registration --------------------------------------------------------------------------

// --data, or --server with --token: where the command works.
void AddTarget(CLI::App* cmd, OpsArgs& a) {
  auto* data = cmd->add_option("--data", a.data_dir,
                               "Data directory (offline: no server may have it open)")
                   ->capture_default_str();
  auto* server = cmd->add_option("--server", a.server,
                                 "Work through a running server instead, e.g. "
                                 "http://127.0.0.1:8080");
  data->excludes(server);
  cmd->add_option("--token", a.token, "Ops token for --server (or set CLEDGER_TOKEN)")
      ->envname("CLEDGER_TOKEN");
}

void AddJson(CLI::App* cmd, OpsArgs& a) {
  cmd->add_flag("--json", a.json, "Print one JSON document for scripts");
}

std::string Footer(const std::string& examples) {
  return "Examples:\n" + examples + "\n" + kExitCodes;
}

void AddVerify(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* verify = app.add_subcommand(
      "verify", "Recompute the hash chain and compare every projection with a fresh fold");
  AddTarget(verify, *args);
  AddJson(verify, *args);
  auto* digest = verify->add_flag(
      "--digest", args->digest,
      "Only print the head digest POSITION:HASH, for an auditor to keep (fast; no check)");
  verify->add_option("--against", args->against,
                     "Also prove the ledger still extends a digest taken earlier (POSITION:HASH)")
      ->excludes(digest);
  verify->footer(Footer(
      "  cledger verify --data ./data\n"
      "  cledger verify --digest --data ./data > digest.txt\n"
      "  cledger verify --against \"$(cat digest.txt)\" --data ./data\n"
      "  cledger verify --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" --json\n"
      "Exit 0 only when the chain holds, every projection equals a fresh fold and (with\n"
      "--against) the ledger extends the digest; otherwise the first broken position or the\n"
      "projection and key that differ are named."));
  verify->callback([args, &run] { run = [args] { return Verify(*args); }; });
}

void AddProjections(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* projections = app.add_subcommand("projections", "Projection status and rebuilds");
  projections->require_subcommand(1);
  auto* status = projections->add_subcommand(
      "status", "Each projection's applied position, lag, generation and size");
  AddTarget(status, *args);
  AddJson(status, *args);
  status->footer(Footer("  cledger projections status --data ./data\n"
                        "  cledger projections status --server http://127.0.0.1:8080 "
                        "--token \"$OPS_TOKEN\" --json\n"
                        "SIZE (approximate bytes of its column family) is shown offline only."));
  status->callback([args, &run] { run = [args] { return ProjectionsStatus(*args); }; });

  auto* rebuild = projections->add_subcommand(
      "rebuild", "Rebuild projections from the log; online via --server (blue/green swap)");
  rebuild->add_option("name", args->name, "The projection (see `projections status`)");
  rebuild->add_flag("--all", args->all, "Rebuild every projection, one after another");
  AddTarget(rebuild, *args);
  AddJson(rebuild, *args);
  rebuild->footer(Footer(
      "  cledger projections rebuild contacts --data ./data\n"
      "  cledger projections rebuild --all --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\"\n"
      "The old generation keeps serving until the new one has caught up, then they swap."));
  rebuild->callback([args, &run] { run = [args] { return ProjectionsRebuild(*args); }; });
}

void AddEvents(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* events = app.add_subcommand("events", "Read the event log");
  events->require_subcommand(1);
  auto* dump = events->add_subcommand("dump", "Write events to stdout, in log order");
  dump->add_option("--from", args->from, "First position")->capture_default_str();
  dump->add_option("--to", args->to, "Last position (default: the head when the dump starts)");
  dump->add_option("--tenant", args->tenant, "Only this tenant's events");
  dump->add_option("--format", args->format,
                   "jsonl: one JSON event per line · raw: 4-byte little-endian size + the "
                   "event's FlatBuffer bytes, per event")
      ->check(CLI::IsMember({"jsonl", "raw"}))
      ->capture_default_str();
  AddTarget(dump, *args);
  dump->footer(Footer(
      "  cledger events dump --data ./data --tenant acme | jq .type\n"
      "  cledger events dump --from 100 --to 200 --format raw --data ./data > events.bin\n"
      "  cledger events dump --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" > log.jsonl\n"
      "Each raw frame's bytes decode with stock flatc:\n"
      "  flatc --json --raw-binary schemas/events.fbs -- event.bin"));
  dump->callback([args, &run] { run = [args] { return EventsDump(*args); }; });
}

void AddBackup(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* backup = app.add_subcommand("backup", "Consistent backups, and restoring them");
  backup->require_subcommand(1);
  auto* create = backup->add_subcommand(
      "create", "Back up a ledger into DIR (incremental, checksummed; consistent while it is "
                "written to)");
  create->add_option("dir", args->backup_dir, "Backup directory (created when missing)")
      ->required();
  AddTarget(create, *args);
  AddJson(create, *args);
  create->footer(Footer(
      "  cledger backup create /backups/ledger --data ./data\n"
      "  cledger backup create /backups/ledger --server http://127.0.0.1:8080 "
      "--token \"$OPS_TOKEN\"\n"
      "With --server the server writes DIR on its own machine, while it keeps serving."));
  create->callback([args, &run] { run = [args] { return BackupCreate(*args); }; });

  auto* restore = backup->add_subcommand("restore", "Restore the latest backup in DIR");
  restore->add_option("dir", args->backup_dir, "Backup directory")->required();
  restore->add_option("--data", args->restore_to, "A new data directory to restore into")
      ->required();
  AddJson(restore, *args);
  restore->footer(Footer(
      "  cledger backup restore /backups/ledger --data ./restored\n"
      "  cledger verify --data ./restored\n"
      "Refuses a --data directory that is not empty."));
  restore->callback([args, &run] { run = [args] { return BackupRestore(*args); }; });
}

void AddStats(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* stats = app.add_subcommand(
      "stats", "Events, commits, tenants, customers, contacts, size on disk, head");
  AddTarget(stats, *args);
  AddJson(stats, *args);
  stats->footer(Footer(
      "  cledger stats --data ./data\n"
      "  cledger stats --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" --json\n"
      "Offline, commits are counted from the log; through a server, since it started."));
  stats->callback([args, &run] { run = [args] { return Stats(*args); }; });
}

}  // namespace

void AddOps(CLI::App& app, Runner& run) {
  auto args = std::make_shared<OpsArgs>();
  AddVerify(app, run, args);
  AddProjections(app, run, args);
  AddEvents(app, run, args);
  AddBackup(app, run, args);
  AddStats(app, run, args);
}

}  // namespace cledger::cli
