// cledger history: a contact or customer as it was then, with its audit trail up to then.
#include <algorithm>
#include <array>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time.h"
#include "cledger/json.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/remote.h"

namespace cledger::cli::audit_tools {
namespace {

struct HistoryArgs {
  std::string data_dir = "./data";
  RemoteServer server;
  std::string tenant;
  std::string contact;
  std::string customer;
  std::string as_of;
  uint64_t at = 0;
  bool json = false;
  CLI::Option* at_option = nullptr;
  CLI::Option* as_of_option = nullptr;
};

// The moment asked for, and how the report names it.
struct Moment {
  AsOf as_of;
  std::string caption;
};

std::optional<Moment> ResolveMoment(const HistoryArgs& a) {
  if (a.at_option->count() > 0) {
    if (a.at == 0) {
      std::cerr << "cledger: --at: positions start at 1\n";
      return std::nullopt;
    }
    return Moment{AsOf{a.at, std::nullopt}, "as of position " + std::to_string(a.at)};
  }
  if (a.as_of_option->count() > 0) {
    const std::optional<int64_t> t = TimeOption("--as-of", a.as_of);
    if (!t) return std::nullopt;
    return Moment{AsOf{std::nullopt, *t}, "as of " + base::Rfc3339Micros(*t)};
  }
  return Moment{AsOf{}, "now"};
}

// A contact or customer then: its view as JSON (the API's shape) and its trail up to then.
struct Record {
  std::string label;  // "Contact k1"
  json::object state;
  std::vector<AuditEntry> trail;
};

Result<Record> LoadRecord(Engine& engine, const HistoryArgs& a, const AsOf& as_of) {
  const Principal who = Auditor(a.tenant);
  if (!a.contact.empty()) {
    auto view = engine.GetContact(who, a.contact, as_of);
    if (!view.ok()) return view.status();
    auto trail = engine.ContactHistory(who, a.contact, as_of);
    if (!trail.ok()) return trail.status();
    return Record{"Contact " + a.contact, api::ToJson(*view), std::move(trail).value()};
  }
  auto view = engine.GetCustomer(who, a.customer, as_of);
  if (!view.ok()) return view.status();
  auto trail = engine.CustomerHistory(who, a.customer, as_of);
  if (!trail.ok()) return trail.status();
  return Record{"Customer " + a.customer, api::ToJson(*view), std::move(trail).value()};
}

// An audit entry as the API sends it.
AuditEntry EntryOf(const json::object& o) {
  auto text = [](const json::object& from, const char* key) {
    const json::value* v = from.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  AuditEntry e;
  e.position = o.at("position").to_number<uint64_t>();
  e.recorded_at_us = api::ParseRfc3339(text(o, "recorded_at")).value_or(0);
  e.actor = {text(o.at("actor").as_object(), "id"), text(o.at("actor").as_object(), "role")};
  e.stream = text(o, "stream");
  e.operation = text(o, "operation");
  for (const json::value& c : o.at("changes").as_array()) {
    const json::object& change = c.as_object();
    e.changes.push_back({text(change, "field"), text(change, "before"), text(change, "after")});
  }
  e.event_hash = text(o, "event_hash");
  e.correlation_id = text(o, "correlation_id");
  return e;
}

// The same through a running server: the record's route and every page of its history.
Result<Record> LoadRemoteRecord(const HistoryArgs& a, const AsOf& as_of) {
  const bool contact = !a.contact.empty();
  const std::string path = (contact ? "/v1/contacts/" : "/v1/customers/") +
                           PathSegment(contact ? a.contact : a.customer);
  const std::vector<std::pair<std::string, std::string>> moment = {
      {"at", as_of.position ? std::to_string(*as_of.position) : ""},
      {"as_of", as_of.time_us ? base::Rfc3339Micros(*as_of.time_us) : ""}};
  auto state = RemoteJson(a.server, "GET", path + QueryString(moment));
  if (!state.ok()) return state.status();
  Record record{(contact ? "Contact " + a.contact : "Customer " + a.customer), *state, {}};
  std::string cursor;
  do {
    auto pairs = moment;
    pairs.insert(pairs.end(), {{"limit", "1000"}, {"cursor", cursor}});
    auto page = RemoteJson(a.server, "GET", path + "/history" + QueryString(pairs));
    if (!page.ok()) return page.status();
    auto items = ItemsOf(*page);
    if (!items.ok()) return items.status();
    for (const json::object& item : *items) record.trail.push_back(EntryOf(item));
    const json::value* next = page->if_contains("next_cursor");
    const std::string previous = cursor;
    cursor = next && next->is_string() ? std::string(next->as_string()) : "";
    if (!cursor.empty() && cursor == previous) {
      return Status(Code::kIoError, "bad_reply", "the server gave the same page twice");
    }
  } while (!cursor.empty());
  return record;
}

// A JSON value as one readable line: strings bare, lists comma-separated, an object's values
// joined by spaces (a phone reads "work +44 20 7946 0000").
std::string Plain(const json::value& v) {
  const auto join = [](auto begin, auto end, const char* separator, auto value_of) {
    std::string out;
    for (auto it = begin; it != end; ++it) {
      const std::string part = Plain(value_of(*it));
      if (!part.empty()) out += (out.empty() ? "" : separator) + part;
    }
    return out;
  };
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::bool_:
      return v.get_bool() ? "yes" : "no";
    case json::kind::null:
      return "";
    case json::kind::array: {
      const json::array& a = v.get_array();
      return join(a.begin(), a.end(), ", ",
                  [](const json::value& e) -> const json::value& { return e; });
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      return join(o.begin(), o.end(), " ",
                  [](const json::key_value_pair& kv) -> const json::value& { return kv.value(); });
    }
    default:
      return json::serialize(v);
  }
}

using Rows = std::vector<std::pair<std::string, std::string>>;

// The record's own fields, nested objects flattened to "address.country" so the names match
// the audit trail's; empty ones are left out.
void CollectFields(const json::object& o, const std::string& prefix, Rows& out) {
  static constexpr std::array<std::string_view, 10> kNotFields = {
      "id",       "kind",    "profile",       "status",  "customers",
      "password", "created", "last_modified", "deleted", "version"};
  for (const auto& kv : o) {
    const std::string_view key(kv.key().data(), kv.key().size());
    if (prefix.empty() && std::ranges::find(kNotFields, key) != kNotFields.end()) continue;
    const std::string name = prefix + std::string(key);
    if (kv.value().is_object()) {
      CollectFields(kv.value().get_object(), name + ".", out);
    } else if (std::string text = Plain(kv.value()); !text.empty()) {
      out.emplace_back(name, std::move(text));
    }
  }
}

// Kind, status, links and password state: what the record is, beside what it holds.
Rows StatusRows(const json::object& s) {
  Rows rows;
  if (const json::value* kind = s.if_contains("kind")) {
    const json::value* profile = s.if_contains("profile");
    const bool is_profile = profile != nullptr && profile->is_bool() && profile->get_bool();
    rows.emplace_back("kind", Plain(*kind) + (is_profile ? " (profile contact, read-only)" : ""));
  }
  rows.emplace_back("status", Plain(s.at("status")));
  if (const json::value* customers = s.if_contains("customers")) {
    std::string links;
    for (const json::value& link : customers->get_array()) {
      const std::string roles = Plain(link.at("roles"));
      links += (links.empty() ? "" : " · ") + Plain(link.at("id")) +
               (roles.empty() ? "" : " (" + roles + ")");
    }
    rows.emplace_back("customers", links.empty() ? "none" : links);
  }
  if (const json::value* password = s.if_contains("password");
      password != nullptr && password->at("set").as_bool()) {
    rows.emplace_back("password", password->at("must_change").as_bool()
                                      ? "set, to be changed at next sign-in"
                                      : "set");
  }
  return rows;
}

Rows SystemRows(const json::object& s) {
  const json::value& deleted = s.at("deleted");
  return {{"created", Plain(s.at("created"))},
          {"last modified", Plain(s.at("last_modified"))},
          {"deleted", deleted.is_null() ? "—" : Plain(deleted)},
          {"version", Plain(s.at("version"))}};
}

void PrintTable(std::ostream& out, const Rows& rows) {
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, key.size());
  for (const auto& [key, value] : rows) {
    out << "  " << Printable(key) << std::string(width - key.size() + 2, ' ') << Printable(value)
        << "\n";
  }
}

// A trail value for people: "(empty)" rather than nothing, and a value that is that very
// text quoted, so the two never read alike. Times in the trail are RFC 3339 already, as
// everywhere else on the screen.
std::string Shown(const std::string& value) {
  constexpr std::string_view kEmpty = "(empty)";
  if (value.empty()) return std::string(kEmpty);
  return value == kEmpty ? "\"" + value + "\"" : Printable(value);
}

// A link's roles: "(empty)" would say nothing of whether the contact is linked at all.
std::string ShownRoles(const std::string& value) {
  if (value.empty()) return "(not linked)";
  return value == "(none)" ? "linked, no roles" : "linked: " + Printable(value);
}

// An entry of another record's stream (a customer's trail holds the events of its contacts'
// links) names that stream. The first entry is the record's own creation, on its own stream.
void PrintTrail(std::ostream& out, const std::vector<AuditEntry>& trail) {
  out << "\nAudit trail (" << trail.size() << (trail.size() == 1 ? " entry" : " entries") << ")\n";
  for (const AuditEntry& e : trail) {
    out << "#" << e.position << "  " << base::Rfc3339Micros(e.recorded_at_us) << "  "
        << Printable(e.actor.id) << "(" << Printable(e.actor.role) << ")  "
        << Printable(e.operation);
    if (e.stream != trail.front().stream) out << "  on " << Printable(e.stream);
    out << "\n";
    for (const FieldChange& c : e.changes) {
      const bool roles = c.field.starts_with("customers[") && c.field.ends_with("].roles");
      const auto shown = roles ? ShownRoles : Shown;
      out << "    " << Printable(c.field) << ": " << shown(c.before) << " → " << shown(c.after)
          << "\n";
    }
  }
}

void PrintRecord(std::ostream& out, const Record& r, const std::string& caption) {
  out << r.label << " — " << caption << "\n\n";
  Rows fields;
  CollectFields(r.state, "", fields);
  PrintTable(out, fields);
  if (!fields.empty()) out << "\n";
  PrintTable(out, StatusRows(r.state));
  out << "\nSystem Information\n";
  PrintTable(out, SystemRows(r.state));
  PrintTrail(out, r.trail);
}

int RunHistory(const HistoryArgs& a) {
  const std::optional<Moment> moment = ResolveMoment(a);
  if (!moment) return kExitUsage;
  if (!ReaderTargetOk(a.server.url, a.server.token, a.tenant)) return kExitUsage;
  const bool online = !a.server.url.empty();
  std::unique_ptr<Engine> engine = online ? nullptr : OpenOrExplain(a.data_dir);
  if (!online && !engine) return OpenFailureExit(a.data_dir);
  if (!online && !a.tenant.empty()) {
    if (Status s = TenantExists(*engine, a.tenant); !s.ok()) {
      std::cerr << "cledger: " << Describe(s) << "\n";
      return kExitFailed;
    }
  }
  auto record = online ? LoadRemoteRecord(a, moment->as_of) : LoadRecord(*engine, a, moment->as_of);
  if (record.status().reason() == "server_unreachable") {
    std::cerr << "cledger: " << Describe(record.status()) << "\n";
    return kExitUnavailable;
  }
  if (!record.ok()) {
    std::cerr << "cledger: " << Describe(record.status())
              << (a.tenant.empty() ? "" : " in tenant '" + a.tenant + "'")
              << (a.as_of_option->count() + a.at_option->count() > 0 ? " " + moment->caption : "")
              << "\n";
    return kExitFailed;
  }
  if (a.json) {
    json::array history;
    for (const AuditEntry& e : record->trail) history.push_back(api::ToJson(e));
    std::cout << json::serialize(json::object{{"state", std::move(record->state)},
                                              {"history", std::move(history)}})
              << "\n";
  } else {
    PrintRecord(std::cout, *record, moment->caption);
  }
  std::cout.flush();
  return std::cout ? kExitOk : kExitFailed;
}

}  // namespace

void AddHistory(CLI::App& app, Runner& run) {
  auto a = std::make_shared<HistoryArgs>();
  auto* cmd = app.add_subcommand("history",
                                 "A contact or customer as it was, and its audit trail up to then");
  auto* data = cmd->add_option("--data", a->data_dir, "Data directory")->capture_default_str();
  cmd->add_option("--tenant", a->tenant, "Tenant (with --data; a --server token names its own)");
  AddServerOptions(cmd, a->server, data,
                   "A token that reads history (auditor, owner, admin, manager)");
  auto* which = cmd->add_option_group("record", "Which record (exactly one)");
  which->add_option("--contact", a->contact, "Contact id");
  which->add_option("--customer", a->customer, "Customer id");
  which->require_option(1);
  a->as_of_option = cmd->add_option("--as-of", a->as_of, "As of an RFC 3339 time");
  a->at_option = cmd->add_option("--at", a->at, "As of a ledger position");
  a->at_option->excludes(a->as_of_option);
  cmd->add_flag("--json", a->json, R"(Print {"state": ..., "history": [...]} for scripts)");
  cmd->footer(
      "Shows the record's fields, kind, status and links and its System Information (created,\n"
      "last modified, deleted, version) as they were then, and every audit-trail entry up to\n"
      "then: \"#position time actor(role) Operation\" with each changed field, before → after.\n"
      "Without --as-of or --at: as it is now. --as-of takes the last event at or before the "
      "time.\n\n"
      "Examples:\n"
      "  cledger history --data ./data --tenant acme --contact k-42\n"
      "  cledger history --data ./data --tenant acme --customer c1 --as-of 2026-01-31T09:00:00Z\n"
      "  cledger history --data ./data --tenant acme --contact k-42 --at 1200 --json\n"
      "  cledger history --server http://127.0.0.1:8080 --token $AUDITOR --contact k-42\n\n"
      "Exit codes: 0 shown · 1 no such record then (or a storage error) · 2 bad arguments ·\n" +
      std::string(kOpenFailure));
  cmd->callback([a, &run] { SetRunner(run, [a] { return RunHistory(*a); }); });
}

}  // namespace cledger::cli::audit_tools
