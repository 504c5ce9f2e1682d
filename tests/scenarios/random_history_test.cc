// A seeded random history across tenants: for every projection the live state equals a
// full rebuild, time travel to the head equals the live state, and time travel to a middle
// position equals the live state captured when the ledger was there.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "tests/support/engine_fixture.h"
#include "tests/support/random_commands.h"
#include "tests/support/repeatedly.h"

namespace cledger {
namespace {

using testing::As;
using testing::EngineFixture;
using testing::Reader;
using testing::Repeatedly;
using testing::World;

constexpr int kCommands = 10'000;
const std::vector<std::string> kTenants = {"acme", "globex", "initech"};

// Every contact and customer of every tenant, as the engine shows them now or as of `at`.
using Snapshot = std::map<std::string, std::string>;
Snapshot Capture(Engine& engine, const std::map<std::string, World>& worlds, const AsOf& at = {}) {
  Snapshot out;
  for (const auto& [tenant, world] : worlds) {
    for (int i = 0; i < world.contacts; ++i) {
      const std::string id = "k" + std::to_string(i);
      if (auto c = engine.GetContact(Reader(tenant), id, at); c.ok()) {
        std::string links;
        for (const Link& l : c->customers) {
          links += l.customer_id + ":";
          for (const auto& r : l.roles) links += r + ",";
        }
        out[tenant + "/" + id] = std::to_string(c->system.version) + (c->deleted ? "d" : "a") +
                                 (c->shared ? "s" : "d") + c->fields.email + c->fields.first_name +
                                 links;
      }
    }
    for (int i = 0; i < world.customers; ++i) {
      const std::string id = "c" + std::to_string(i);
      if (auto c = engine.GetCustomer(Reader(tenant), id, at); c.ok()) {
        out[tenant + "/" + id] = std::to_string(c->system.version) + c->email + c->bill_format +
                                 (c->deleted ? "d" : "a");
      }
    }
  }
  return out;
}

TEST_CASE("LiveStateEqualsAFullRebuildAndTimeTravelAfterARandomHistory") {
  EngineFixture f(false);
  for (const auto& tenant : kTenants) f.Must(f.ops, CreateTenant{tenant});
  std::map<std::string, World> worlds;
  for (size_t i = 0; i < kTenants.size(); ++i) worlds.emplace(kTenants[i], World(20261121 + i));
  std::mt19937_64 tenant_picker(7);
  int accepted = 0;
  std::map<std::string, int> rejections;
  Snapshot middle;
  uint64_t middle_position = 0;
  for (int i = 0; i < kCommands; ++i) {
    const std::string& tenant = kTenants[tenant_picker() % kTenants.size()];
    World& world = worlds.at(tenant);
    Command command = world.Next();
    auto outcome = f.engine->Execute(As(tenant, "owner"), command);
    if (outcome.ok()) {
      world.Accepted(command);
      ++accepted;
    } else {
      ++rejections[outcome.status().reason()];
    }
    if (i == kCommands / 2) {
      middle = Capture(*f.engine, worlds);
      middle_position = f.engine->ledger().GetHead().position;
    }
  }
  MESSAGE("accepted " << accepted << " of " << kCommands << " commands");
  for (const auto& [reason, count] : rejections) MESSAGE(reason << ": " << count);
  CHECK(accepted > kCommands / 3);

  CHECK(Capture(*f.engine, worlds, AsOf{middle_position, {}}) == middle);
  const Snapshot live = Capture(*f.engine, worlds);
  const uint64_t head = f.engine->ledger().GetHead().position;
  CHECK(Capture(*f.engine, worlds, AsOf{head, {}}) == live);

  auto mismatches = f.engine->VerifyProjections();
  REQUIRE(mismatches.ok());
  for (const auto& m : *mismatches) FAIL_CHECK(m.projection << " differs at " << m.key);

  for (const auto& status : f.engine->Projections()) {
    CHECK(status.applied_position == head);
    REQUIRE(f.engine->Rebuild(status.name).ok());
  }
  CHECK(Capture(*f.engine, worlds) == live);
  for (const auto& status : f.engine->Projections()) CHECK(status.generation == 2);
  CHECK(f.engine->VerifyProjections()->empty());
  f.Reopen();  // the swapped generations are what a restart opens
  CHECK(Capture(*f.engine, worlds) == live);
  CHECK(f.engine->ledger().VerifyChain().ok);
}

// One scan of the log feeds every fold: while another thread keeps committing, the rebuilt
// projections swap in together and each equals a fresh fold, the commits made meanwhile
// included. The log is longer than one of the scan's batches (10,000 events): the next batch
// is read while the one before folds, and the projections fold side by side.
TEST_CASE("EveryProjectionRebuiltInOneScanWhileCommandsRunEqualsAFreshFold") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"acme"});
  World world(20261204);
  while (f.engine->ledger().GetHead().position < 12'000) {
    Command command = world.Next();
    if (f.engine->Execute(As("acme", "owner"), command).ok()) world.Accepted(command);
  }
  const std::map<std::string, World> worlds{{"acme", world}};
  const Snapshot folded_inline = Capture(*f.engine, worlds);
  std::atomic<int> during{0};
  Repeatedly writer([&](int i) {
    const std::string id = "late" + std::to_string(i);
    if (f.engine->Execute(As("acme", "owner"), CreateCustomer{id, "Late", id + "@x.test"}).ok()) {
      ++during;
    }
  });
  std::vector<std::string> names;
  for (const auto& status : f.engine->Projections()) names.push_back(status.name);
  auto times = f.engine->Rebuild(names);
  writer.Stop();
  REQUIRE(times.ok());
  CHECK(times->size() == names.size());
  CHECK(during > 0);
  auto mismatches = f.engine->VerifyProjections();  // waits for the follower first
  REQUIRE(mismatches.ok());
  for (const auto& m : *mismatches) FAIL_CHECK(m.projection << " differs at " << m.key);
  const uint64_t head = f.engine->ledger().GetHead().position;
  for (const auto& status : f.engine->Projections()) {
    CHECK(status.generation == 2);
    CHECK(status.applied_position == head);
  }
  CHECK(f.engine->GetCustomer(Reader("acme"), "late0").ok());
  CHECK(Capture(*f.engine, worlds) == folded_inline);  // the late customers are not in it
  auto unknown = f.engine->Rebuild(std::vector<std::string>{"contacts", "nonesuch"});
  REQUIRE(!unknown.ok());
  CHECK(unknown.status().reason() == "projection_not_found");
  CHECK(f.engine->Projections().front().generation == 2);  // nothing was rebuilt
}

// Two rebuilds of one projection at once would fold into the same next generation and the
// second would drop the family the first swapped in. The second is refused, the first ends.
TEST_CASE("ARebuildAskedForWhileAnotherRunsIsRefusedAndTheFirstSwapsIn") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"acme"});
  World world(20261205);
  for (int i = 0; i < 300; ++i) {
    Command command = world.Next();
    if (f.engine->Execute(As("acme", "owner"), command).ok()) world.Accepted(command);
  }
  const std::map<std::string, World> worlds{{"acme", world}};
  const Snapshot before = Capture(*f.engine, worlds);
  Status second;
  auto first = f.engine->Rebuild(std::vector<std::string>{"contacts"}, [&](uint64_t, uint64_t) {
    if (second.ok()) std::thread([&] { second = f.engine->Rebuild("contacts"); }).join();
  });
  REQUIRE(first.ok());
  CHECK(second.code() == Code::kConflict);
  CHECK(second.reason() == "rebuild_in_progress");
  for (const auto& status : f.engine->Projections()) {
    CHECK(status.generation == (status.name == "contacts" ? 2 : 1));
  }
  CHECK(Capture(*f.engine, worlds) == before);
  auto mismatches = f.engine->VerifyProjections();
  REQUIRE(mismatches.ok());
  CHECK(mismatches->empty());
  CHECK(f.engine->Rebuild("contacts").ok());  // once the first has ended, another may run
}

// A rebuild swaps a projection's generation and then drops the old one while queries read
// it: a query never finds the projection missing (it crashed the server when the name it
// looked up was dropped before it found the handle).
TEST_CASE("QueriesReadingWhileProjectionsAreRebuiltAndSwappedAlwaysFindThem") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"acme"});
  f.Must(f.owner, CreateCustomer{"c1", "Acme", "ap@acme.test"});
  std::atomic<int> failed{0};
  auto read = [&](int) {
    if (auto c = f.engine->GetCustomer(Reader("acme"), "c1", {}); !c.ok()) {
      ++failed;
      MESSAGE(c.status().reason() << ": " << c.status().message());
    }
    if (auto l = f.engine->ListContacts(Reader("acme"), "c1", ContactStatus::kAll); !l.ok()) {
      ++failed;
      MESSAGE(l.status().reason() << ": " << l.status().message());
    }
  };
  Repeatedly a(read), b(read);
  for (int i = 0; i < 200; ++i) {
    const char* name = i % 2 == 0 ? "customers" : "contacts";
    CHECK(f.engine->Rebuild(name).ok());
  }
  a.Stop();
  b.Stop();
  CHECK(failed == 0);
}

// The audit follows the log on a thread of its own, into the generation it named when it
// started a batch. A rebuild that replaced that generation meanwhile must not drop it under
// the batch: RocksDB fails a write to a dropped family, and the store takes that for a fault
// (it refuses writes until it has reopened the database).
TEST_CASE("RebuildingTheAuditWhileItsFollowerFoldsNeverFaultsTheStore") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"acme"});
  f.Must(f.owner, CreateCustomer{"c1", "Acme", "ap@acme.test"});
  std::atomic<int> refused{0};
  Repeatedly writing([&](int i) {
    UpdateCustomer update;
    update.id = "c1";
    update.name = "Acme " + std::to_string(i);
    if (!f.engine->Execute(f.owner, update).ok()) ++refused;
  });
  // Each rebuild folds the whole log, which the writer keeps growing: without the lock about
  // half of them failed, so a few dozen show it, also under a sanitizer's slowdown.
  for (int i = 0; i < 40; ++i) CHECK(f.engine->Rebuild("audit").ok());
  writing.Stop();
  CHECK(refused == 0);
  CHECK(f.engine->ledger().Stats().write_errors == 0);
  CHECK(f.engine->ledger().Stats().reopens == 0);
}

TEST_CASE("AnErasureWhileProjectionsAreRebuiltSucceedsAndSaysSo") {
  EngineFixture f(false);
  f.Must(f.ops, CreateTenant{"acme"});
  f.Must(f.owner, CreateCustomer{"c1", "Acme", "ap@acme.test"});
  Repeatedly rebuilding(
      [&](int i) { (void)f.engine->Rebuild(i % 2 == 0 ? "contacts" : "emails"); });
  for (int i = 0; i < 20; ++i) {
    const std::string id = "k" + std::to_string(i);
    ContactFields fields;
    fields.first_name = "Erin";
    fields.email = id + "@acme.test";
    f.Must(f.owner, CreateContact{id, "c1", fields});
    auto erased = f.engine->Erase(f.owner, "contact", id, "asked to be forgotten");
    CAPTURE(id);
    CHECK_MESSAGE(erased.ok(), erased.status().ToString());
  }
}

}  // namespace
}  // namespace cledger
