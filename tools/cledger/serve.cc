// cledger serve: the HTTP/JSON server on a data directory.
#include <iostream>

#include "engine/api/server.h"
#include "tools/cledger/commands.h"

namespace cledger::cli {
namespace {

struct ServeArgs {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  bool bootstrap = false;
  int threads = 2;
};

// Creates the demo tenant and its owner token; returns the owner token.
Result<std::string> Bootstrap(Engine& engine) {
  if (auto t = engine.Execute(OfflineOps(), CreateTenant{"demo", "standard"});
      !t.ok() && t.status().reason() != "tenant_exists") {
    return t.status();
  }
  auto owner = engine.Execute(OfflineOps(), IssueToken{"demo", "demo-owner", "owner"});
  if (!owner.ok()) return owner.status();
  return owner->token;
}

void PrintWelcome(const std::string& url, const std::string& data_dir, const Head& head,
                  const std::string& owner_token, const std::string& ops_token) {
  std::cout << "Contact Ledger is serving " << url << "  (data: " << data_dir
            << ", head position " << head.position << ")\n\n";
  if (!owner_token.empty()) {
    std::cout << "Demo tenant \"demo\":\n  owner token  " << owner_token << "\n";
  }
  std::cout << "  ops token    " << ops_token << "  (admin routes: tenants, tokens, projections)\n"
            << "Tokens are shown once; only their hashes are stored.\n\n";
  if (!owner_token.empty()) {
    std::cout << "Try:\n  curl -s -X POST " << url << "/v1/customers \\\n"
              << "    -H 'Authorization: Bearer " << owner_token << "' \\\n"
              << "    -H 'Content-Type: application/json' \\\n"
              << "    -d '{\"name\": \"Acme Corp\", \"email\": \"ap@acme.test\"}'\n\n";
  }
  std::cout << "Stop with Ctrl-C (in-flight commands finish first).\n" << std::flush;
}

int Serve(const ServeArgs& args) {
  const size_t colon = args.listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "cledger: --listen takes HOST:PORT, e.g. 127.0.0.1:8080\n";
    return kExitUsage;
  }
  api::ServerOptions options;
  options.host = args.listen.substr(0, colon);
  try {
    options.port = static_cast<uint16_t>(std::stoul(args.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    std::cerr << "cledger: bad port in --listen " << args.listen << "\n";
    return kExitUsage;
  }
  options.threads = args.threads;
  options.handle_signals = true;
  auto engine = OpenOrExplain(args.data_dir);
  if (!engine) return OpenFailureExit(args.data_dir);

  std::string owner_token;
  if (args.bootstrap || engine->ledger().GetHead().position == 0) {
    auto token = Bootstrap(*engine);
    if (!token.ok()) {
      std::cerr << "cledger: bootstrap failed: " << token.status().message() << "\n";
      return kExitFailed;
    }
    owner_token = *token;
  }
  // A fresh ops token each start, so whoever starts the server can administer it.
  auto ops = engine->Execute(OfflineOps(), IssueToken{"", "serve", "ops"});
  if (!ops.ok()) {
    std::cerr << "cledger: cannot issue the ops token: " << ops.status().message() << "\n";
    return kExitFailed;
  }
  api::Server server(*engine, options);
  if (Status s = server.Start(); !s.ok()) {
    std::cerr << "cledger: cannot listen on " << args.listen << ": " << s.message() << "\n";
    return kExitUnavailable;
  }
  const std::string url = "http://" + options.host + ":" + std::to_string(server.port());
  PrintWelcome(url, args.data_dir, engine->ledger().GetHead(), owner_token, ops->token);
  server.Run();
  std::cout << "stopped\n";
  return kExitOk;
}

}  // namespace

void AddServe(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "Serve the HTTP/JSON API and the live event stream");
  serve->add_option("--data", args->data_dir, "Data directory (created when missing)")
      ->capture_default_str();
  serve->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve->add_flag("--bootstrap", args->bootstrap,
                  "Create the demo tenant and an owner token even if the ledger is not empty");
  serve->add_option("--threads", args->threads, "I/O threads")->capture_default_str();
  serve->footer(
      "On an empty data directory it creates a demo tenant and prints an owner token; every start\n"
      "prints a fresh ops token.\nExample:\n  cledger serve --data ./data --listen 127.0.0.1:8080");
  serve->callback([args, &run] { run = [args] { return Serve(*args); }; });
}

}  // namespace cledger::cli
