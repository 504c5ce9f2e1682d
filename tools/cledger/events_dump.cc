// cledger events dump: the event log to stdout as JSON lines or raw frames.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "cledger/json.h"
#include "events/codec.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/progress.h"
#include "tools/cledger/remote.h"

namespace cledger::cli::ops {
namespace {

// Writes events to stdout as JSON lines or as raw frames (size-prefixed FlatBuffers).
class EventSink {
 public:
  explicit EventSink(bool raw) : raw_(raw) {}
  void Frame(std::string_view bytes) {
    std::string frame;
    events::AppendSizePrefixed(frame, bytes);
    std::cout.write(frame.data(), static_cast<std::streamsize>(frame.size()));
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
  if (!engine) return OpenFailureExit(a.data_dir);
  if (!a.tenant.empty()) {  // a mistyped tenant: not an empty dump
    if (Status s = TenantExists(*engine, a.tenant); !s.ok()) return FailStatus(s);
  }
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
      auto raw = ledger.ReadRedacted(e.position);
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
  auto page = GetJson(
      a, "GET", "/v1/events?limit=" + std::to_string(kPage) + "&from=" + std::to_string(from));
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
  auto reply = Remote({a.server, a.token, a.ca_file}, "GET",
                      "/v1/events?limit=" + std::to_string(kPage) + "&from=" + std::to_string(from),
                      {}, "application/x-flatbuffers");
  if (!reply.ok()) return reply.status();
  std::string_view body = reply->body;
  uint64_t next = last + 1;
  while (const std::optional<std::string_view> bytes = events::NextSizePrefixed(body)) {
    auto event = DecodeEvent(*bytes);
    if (!event.ok()) return event.status();
    if (event->position > last) return last + 1;
    if (a.tenant.empty() || event->tenant == a.tenant) sink.Frame(*bytes);
    next = event->position + 1;
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
    return Complain(
        "raw frames are binary; redirect them, e.g. "
        "`cledger events dump --format raw > events.bin`",
        kExitUsage);
  }
  if (a.to != 0 && a.to < a.from) return Complain("--to is before --from", kExitUsage);
  EventSink sink(raw);
  return a.remote() ? DumpRemote(a, sink) : DumpOffline(a, sink);
}

}  // namespace

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

}  // namespace cledger::cli::ops
