// A real engine on a temporary RocksDB directory, with a tenant "acme" (plan standard),
// customers c1 and c2, and contexts for each role.
#pragma once

#include <doctest/doctest.h>

#include "cledger/engine.h"
#include "tests/support/temp_dir.h"

namespace cledger::testing {

inline CommandContext As(const std::string& tenant, const std::string& role,
                         const std::string& actor = "alice") {
  return CommandContext{tenant, {actor, role}, {}, {}, {}};
}
inline Principal Reader(const std::string& tenant = "acme", const std::string& role = "owner") {
  return Principal{tenant, {"alice", role}};
}
inline ContactFields Person(const std::string& first_name, const std::string& email = {}) {
  ContactFields f;
  f.first_name = first_name;
  f.email = email;
  return f;
}

struct EngineFixture {
  TempDir dir;
  std::unique_ptr<Engine> engine;
  CommandContext ops = As("", "ops", "root");
  CommandContext owner = As("acme", "owner");

  explicit EngineFixture(bool with_tenant = true) {
    Reopen();
    if (!with_tenant) return;
    Must(ops, CreateTenant{"acme", "standard"});
    Must(owner, CreateCustomer{"c1", "Acme Corp", "ap@acme.test, ceo@acme.test", "full"});
    Must(owner, CreateCustomer{"c2", "Acme Europe", "eu@acme.test", ""});
  }
  void Reopen() {
    engine.reset();
    LedgerOptions options;
    options.path = dir.Sub("data");
    options.random = SeededRandom(42);
    options.signing_key_file = dir.Sub("data.signing-key");  // where serve would keep it
    auto opened = Engine::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    engine = std::move(opened).value();
  }
  CommandOutcome Must(const CommandContext& ctx, Command command) {
    auto outcome = engine->Execute(ctx, std::move(command));
    REQUIRE_MESSAGE(outcome.ok(), outcome.status().ToString());
    return *outcome;
  }
  Status Fails(const CommandContext& ctx, Command command) {
    const uint64_t head = engine->ledger().GetHead().position;
    auto outcome = engine->Execute(ctx, std::move(command));
    REQUIRE_FALSE(outcome.ok());
    CHECK(engine->ledger().GetHead().position == head);  // nothing appended
    return outcome.status();
  }
  ContactView Contact(const std::string& id, const AsOf& as_of = {}) {
    auto view = engine->GetContact(Reader(), id, as_of);
    REQUIRE_MESSAGE(view.ok(), view.status().ToString());
    return *view;
  }
  std::vector<std::string> ListIds(const std::string& customer, ContactStatus status) {
    std::vector<std::string> ids;
    auto contacts = engine->ListContacts(Reader(), customer, status);
    REQUIRE(contacts.ok());
    for (const auto& c : *contacts) ids.push_back(c.id);
    return ids;
  }
  // The type and stream of each event the last command appended.
  std::vector<std::string> LastCommit(const CommandOutcome& outcome) {
    std::vector<std::string> out;
    auto events = engine->ledger().Read(outcome.first_position,
                                        outcome.last_position - outcome.first_position + 1);
    for (const Event& e : *events)
      out.push_back(std::string(EventTypeName(e.body)) + " " + e.stream);
    return out;
  }
};

}  // namespace cledger::testing
