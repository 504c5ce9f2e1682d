// A small ledger for the fuzz targets that need an engine: tenant "acme" with a customer, a
// contact and a token of every tenant role, on a fresh temporary directory. The generator is
// seeded, so the tokens (and a crashing input that names them) are the same in every run.
//
// No ops token: the fuzzer must not reach admin routes that write where a body says
// (backups) or take minutes (a rebuild).
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "cledger/engine.h"

namespace cledger::fuzzing {

struct FuzzLedger {
  std::string dir;
  std::unique_ptr<Engine> engine;
  std::map<char, std::string> tokens;  // placeholder letter → bearer token

  FuzzLedger() {
    char pattern[] = "/tmp/cledger-fuzz-XXXXXX";
    if (mkdtemp(pattern) == nullptr) std::abort();
    dir = pattern;
    LedgerOptions options;
    options.path = dir + "/data";
    options.sync = false;  // speed: durability is not what these targets test
    options.random = SeededRandom(7);
    options.signing_key_file = dir + "/signing-key";  // so the proof routes answer
    auto opened = Engine::Open(options);
    if (!opened.ok()) std::abort();
    engine = std::move(opened).value();
    const CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
    Must(engine->Execute(ops, CreateTenant{"acme", "standard"}).ok());
    const CommandContext owner{"acme", {"alice", "owner"}, {}, {}, {}};
    Must(engine->Execute(owner, CreateCustomer{"c1", "Acme Corp", "ap@acme.test", "long"}).ok());
    CreateContact contact;
    contact.id = "k1";
    contact.customer_id = "c1";
    contact.fields.first_name = "Ada";
    contact.fields.email = "ada@acme.test";
    Must(engine->Execute(owner, contact).ok());
    // {T} and {O}: owner; {A}: admin; {G}: manager; {M}: member; {U}: auditor; {S}: service.
    const std::pair<char, const char*> roles[] = {{'O', "owner"},   {'A', "admin"},
                                                  {'G', "manager"}, {'M', "member"},
                                                  {'U', "auditor"}, {'S', "service"}};
    for (const auto& [letter, role] : roles) {
      auto issued = engine->Execute(ops, IssueToken{"acme", std::string(role) + "-1", role});
      Must(issued.ok());
      tokens[letter] = issued->token;
    }
    tokens['T'] = tokens['O'];
  }

  // `{X}` for a known letter X becomes that role's token; anything else stays as it is.
  std::string Substitute(std::string_view input) const {
    std::string out;
    out.reserve(input.size() + 64);
    for (size_t i = 0; i < input.size(); ++i) {
      if (input[i] == '{' && i + 2 < input.size() && input[i + 2] == '}') {
        if (auto it = tokens.find(input[i + 1]); it != tokens.end()) {
          out += it->second;
          i += 2;
          continue;
        }
      }
      out.push_back(input[i]);
    }
    return out;
  }

 private:
  static void Must(bool ok) {
    if (!ok) std::abort();
  }
};

}  // namespace cledger::fuzzing
