// A seeded generator of domain commands for one tenant, shared by the random-history
// scenario and the simulation.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cledger/commands.h"
#include "tests/support/engine_fixture.h"

namespace cledger::testing {

// Ids are fresh on create and picked among the recent ones otherwise, so the history keeps
// meeting every rule: collisions, deleted records, taken emails, role hand-overs.
struct World {
  explicit World(uint64_t seed) : rng(seed) {}
  std::mt19937_64 rng;
  int customers = 0;
  int contacts = 0;
  int Pick(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(std::max(n, 1))); }
  std::string Recent(char kind, int count, int window) {
    return std::string(1, kind) + std::to_string(std::max(0, count - 1 - Pick(window)));
  }
  std::string Customer() { return Recent('c', customers, 8); }
  std::string Contact() { return Recent('k', contacts, 30); }
  std::string Email() { return "p" + std::to_string(Pick(300)) + "@x.test"; }
  // Only an accepted create takes its id.
  void Accepted(const Command& command) {
    customers += std::holds_alternative<CreateCustomer>(command);
    contacts += std::holds_alternative<CreateContact>(command);
  }

  Command Next() {
    static const std::vector<std::string> kRoles = {"primary", "billing", "order", "shipment"};
    switch (Pick(14)) {
      case 0:
        return CreateCustomer{"c" + std::to_string(customers), "Customer", Email(), ""};
      case 1:
        return UpdateCustomer{Customer(), {}, Email(), std::string("short")};
      case 2:
        return DeleteCustomer{Customer()};
      case 3:
      case 4:
        return CreateContact{"k" + std::to_string(contacts), Pick(3) ? Customer() : "",
                             Person("P", Email())};
      case 5: {
        const std::string first = "F" + std::to_string(Pick(9));
        const std::string email = Pick(2) ? Email() : "";
        return EditContact{Contact(), [first, email](ContactFields& f) {
                             f.first_name = first;
                             f.email = email;
                             f.portal_enabled = !email.empty();
                             f.communication.email_bill = email.empty() ? "none" : "short";
                           }};
      }
      case 6:
      case 7:
        return ShareContact{Contact(), Customer()};
      case 8:
        return UnlinkContact{Contact(), Customer()};
      case 9:
        return ConvertToShared{Contact()};
      case 10:
      case 11:
        return SetLinkRoles{Customer(), Contact(), {kRoles[Pick(4)], kRoles[Pick(4)]}};
      case 12:
        return DeleteContact{Contact()};
      default:
        return RestoreContact{Contact()};
    }
  }
};

}  // namespace cledger::testing
