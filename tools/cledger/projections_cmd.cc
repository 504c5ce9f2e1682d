// cledger projections status|rebuild: projection positions, sizes and rebuilds.
#include <unistd.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/progress.h"

namespace cledger::cli::ops {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One rebuilt projection, and how long its fold (or its whole rebuild, online) took.
void Rebuilt(const ProjectionStatus& p, double seconds) {
  std::cout << "rebuilt " << p.name << ": generation " << p.generation << ", applied "
            << p.applied_position << " (" << std::fixed << std::setprecision(3) << seconds
            << " s)\n";
}

json::object StatusJson(const ProjectionStatus& p) {
  json::object o{{"name", p.name},
                 {"applied_position", p.applied_position},
                 {"lag", p.lag},
                 {"generation", p.generation}};
  if (p.size_bytes) o["size_bytes"] = *p.size_bytes;
  return o;
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

void PrintProjectionTable(const std::vector<ProjectionStatus>& statuses, bool measured) {
  std::cout << std::left << std::setw(12) << "NAME" << std::right << std::setw(12) << "APPLIED"
            << std::setw(10) << "LAG" << std::setw(12) << "GENERATION" << std::setw(12) << "SIZE"
            << "\n";
  for (const ProjectionStatus& p : statuses) {
    std::cout << std::left << std::setw(12) << p.name << std::right << std::setw(12)
              << p.applied_position << std::setw(10) << p.lag << std::setw(12) << p.generation
              << std::setw(12) << (p.size_bytes ? HumanBytes(*p.size_bytes) : "-") << "\n";
  }
  if (!measured) std::cout << "(SIZE is known offline only)\n";
}

int ProjectionsStatus(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  std::vector<ProjectionStatus> statuses;
  bool measured = false;
  if (a.remote()) {
    auto remote = RemoteProjections(a);
    if (!remote.ok()) return FailStatus(remote.status());
    statuses = std::move(*remote);
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return OpenFailureExit(a.data_dir);
    statuses = engine->Projections();
    engine.reset();  // its projections are measured on the closed directory
    measured = Engine::MeasureProjections(a.data_dir, statuses);
  }
  if (!a.json) {
    PrintProjectionTable(statuses, measured);
    return kExitOk;
  }
  json::array items;
  for (const ProjectionStatus& p : statuses) items.push_back(StatusJson(p));
  PrintJson(json::object{{"items", std::move(items)}});
  return kExitOk;
}

// A URL path segment: every byte outside the unreserved set percent-encoded.
std::string PathSegment(const std::string& text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

// Online: one projection at a time, each swapped by the server as it is done.
Result<std::vector<ProjectionStatus>> RebuildOnline(const OpsArgs& a,
                                                    const std::vector<std::string>& names) {
  std::vector<ProjectionStatus> out;
  for (const std::string& name : names) {
    const auto started = std::chrono::steady_clock::now();
    if (isatty(STDERR_FILENO)) std::cerr << "rebuilding " << name << " on the server…\n";
    auto status = GetJson(a, "POST", "/v1/admin/projections/" + PathSegment(name) + "/rebuild");
    if (!status.ok()) return status.status();
    out.push_back(StatusOf(*status));
    if (!a.json) Rebuilt(out.back(), SecondsSince(started));
  }
  return out;
}

// Offline: every named projection in one scan of the log; each fold's own time is shown.
Result<std::vector<ProjectionStatus>> RebuildHere(const OpsArgs& a, Engine& engine,
                                                  const std::vector<std::string>& names) {
  Result<std::vector<FoldTime>> times = [&] {
    ProgressBar bar("rebuild " + (names.size() == 1 ? names.front() : "every projection"));
    return engine.Rebuild(names, [&bar](uint64_t d, uint64_t t) { bar.Update(d, t); });
  }();
  if (!times.ok()) return times.status();
  std::vector<ProjectionStatus> out;
  for (const FoldTime& time : *times) {
    for (const ProjectionStatus& p : engine.Projections()) {
      if (p.name != time.projection) continue;
      out.push_back(p);
      if (!a.json) Rebuilt(p, time.seconds);
    }
  }
  return out;
}

int ProjectionsRebuild(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  if (a.all == !a.name.empty()) {
    return Complain("name one projection, or give --all (see `cledger projections status`)",
                    kExitUsage);
  }
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) {
    return OpenFailureExit(a.data_dir);
  }
  std::vector<std::string> names{a.name};
  if (a.all) {
    auto statuses = a.remote() ? RemoteProjections(a)
                               : Result<std::vector<ProjectionStatus>>(engine->Projections());
    if (!statuses.ok()) return FailStatus(statuses.status());
    names.clear();
    for (const ProjectionStatus& p : *statuses) names.push_back(p.name);
  }
  const auto started = std::chrono::steady_clock::now();
  auto rebuilt = a.remote() ? RebuildOnline(a, names) : RebuildHere(a, *engine, names);
  if (!rebuilt.ok()) return FailStatus(rebuilt.status());
  if (a.json) {
    json::array items;
    for (const ProjectionStatus& p : *rebuilt) items.push_back(StatusJson(p));
    PrintJson(json::object{{"items", std::move(items)}});
  } else if (names.size() > 1) {
    std::cout << "rebuilt " << names.size() << " projections in " << std::fixed
              << std::setprecision(1) << SecondsSince(started) << " s\n";
  }
  return kExitOk;
}

}  // namespace

void AddProjections(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* projections = app.add_subcommand("projections", "Projection status and rebuilds");
  projections->require_subcommand(1);
  auto* status = projections->add_subcommand(
      "status", "Each projection's applied position, lag, generation and size");
  AddTarget(status, *args);
  AddJson(status, *args);
  status->footer(
      Footer("  cledger projections status --data ./data\n"
             "  cledger projections status --server http://127.0.0.1:8080 "
             "--token \"$OPS_TOKEN\" --json\n"
             "SIZE (approximate bytes of its column family) is shown offline only."));
  status->callback([args, &run] { run = [args] { return ProjectionsStatus(*args); }; });

  auto* rebuild = projections->add_subcommand(
      "rebuild", "Rebuild projections from the log; online via --server (blue/green swap)");
  rebuild->add_option("name", args->name, "The projection (see `projections status`)");
  rebuild->add_flag("--all", args->all,
                    "Rebuild every projection (offline: in one scan of the log)");
  AddTarget(rebuild, *args);
  AddJson(rebuild, *args);
  rebuild->footer(Footer(
      "  cledger projections rebuild contacts --data ./data\n"
      "  cledger projections rebuild --all --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\"\n"
      "The old generation keeps serving until the new one has caught up, then they swap."));
  rebuild->callback([args, &run] { run = [args] { return ProjectionsRebuild(*args); }; });
}

}  // namespace cledger::cli::ops
