// cledger: the Contact Ledger command line.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "cledger/ledger.h"

namespace {

int PrintHead(const std::string& data_dir) {
  cledger::LedgerOptions options;
  options.path = data_dir;
  auto ledger = cledger::Ledger::Open(options);
  if (!ledger.ok()) {
    std::cerr << "cledger: cannot open " << data_dir << ": " << ledger.status().ToString() << "\n";
    return 2;
  }
  const cledger::Head head = (*ledger)->GetHead();
  std::cout << "position " << head.position << "\nhash " << cledger::HexOf(head.hash) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cledger — the Contact Ledger: an event-sourced, hash-chained ledger of customer "
               "contacts"};
  app.require_subcommand(1);
  std::string data_dir = "./data";

  auto* head = app.add_subcommand("head", "Print the head position and hash of a data directory");
  head->add_option("--data", data_dir, "Data directory (created when missing)")
      ->capture_default_str();
  head->footer("Example:\n  cledger head --data ./data");

  CLI11_PARSE(app, argc, argv);
  if (head->parsed()) return PrintHead(data_dir);
  return 1;
}
