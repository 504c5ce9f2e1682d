// Creates a customer and a contact through the installed library and reads the contact back.
#include <cledger/engine.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  cledger::LedgerOptions options;
  options.path = argv[1];
  auto engine = cledger::Engine::Open(options);
  if (!engine.ok()) return 3;
  const cledger::CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
  const cledger::CommandContext owner{"acme", {"alice", "owner"}, {}, {}, {}};
  if (!(*engine)->Execute(ops, cledger::CreateTenant{"acme"}).ok()) return 4;
  if (!(*engine)->Execute(owner, cledger::CreateCustomer{"c1", "Acme", "ap@acme.test"}).ok()) {
    return 5;
  }
  cledger::ContactFields fields;
  fields.first_name = "Ann";
  auto created = (*engine)->Execute(owner, cledger::CreateContact{"k1", "c1", fields});
  if (!created.ok()) return 6;
  auto view = (*engine)->GetContact({"acme", {"alice", "owner"}}, "k1");
  if (!view.ok()) return 7;
  std::cout << view->fields.first_name << " v" << view->system.version << "\n";
  return 0;
}
