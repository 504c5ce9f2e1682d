// A real server on a free loopback port over a real data directory, with tenants "acme" and
// "globex", a token for each role of acme, an owner token of globex and an ops token; its
// tree heads are signed with a key beside the data directory. Plain HTTP, or HTTPS with the
// certificate of a TlsFiles.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "engine/api/server.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_files.h"

namespace cledger::testing {

struct ServerFixture {
  TempDir dir;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<api::Server> server;
  std::thread runner;
  std::map<std::string, std::string> tokens;  // "acme/owner", "globex/owner", "ops"
  uint16_t port = 0;
  std::string ca_file;  // HTTPS: the CA Call() trusts

  explicit ServerFixture(int read_timeout_s = 5, size_t connections_max = 1024,
                         size_t subscribers_max = 256) {
    api::ServerOptions server_options;
    server_options.read_timeout_s = read_timeout_s;
    server_options.connections_max = connections_max;
    server_options.subscribers_max = subscribers_max;
    Open(server_options);
  }
  // Over HTTPS with the certificate and key of `tls`.
  explicit ServerFixture(const TlsFiles& tls, int read_timeout_s = 5) : ca_file(tls.ca_file) {
    api::ServerOptions server_options;
    server_options.read_timeout_s = read_timeout_s;
    server_options.tls_cert_file = tls.cert_file;
    server_options.tls_key_file = tls.key_file;
    Open(server_options);
  }
  ~ServerFixture() { Close(); }

  void Open(api::ServerOptions server_options) {
    LedgerOptions options;
    options.path = dir.Sub("data");
    options.signing_key_file = dir.Sub("signing-key");  // beside the data, as serve keeps it
    auto opened = Engine::Open(options);
    REQUIRE(opened.ok());
    engine = std::move(opened).value();
    const CommandContext ops{"", {"root", "ops"}, {}, {}, {}};
    for (const char* tenant : {"acme", "globex"}) {
      REQUIRE(engine->Execute(ops, CreateTenant{tenant, "standard"}).ok());
    }
    for (const char* role : {"owner", "admin", "manager", "member", "auditor", "service"}) {
      tokens[std::string("acme/") + role] =
          engine->Execute(ops, IssueToken{"acme", std::string(role) + "-1", role})->token;
    }
    tokens["globex/owner"] = engine->Execute(ops, IssueToken{"globex", "gus", "owner"})->token;
    tokens["ops"] = engine->Execute(ops, IssueToken{"", "root", "ops"})->token;
    server_options.port = 0;
    server_options.heartbeat_s = 1;
    server = std::make_unique<api::Server>(*engine, server_options);
    REQUIRE(server->Start().ok());
    port = server->port();
    runner = std::thread([this] { server->Run(); });
  }
  // Stops the server and closes the engine: what the data directory holds is then all there is.
  void Close() {
    if (server) server->Stop();
    if (runner.joinable()) runner.join();
    server.reset();
    engine.reset();
  }

  Reply Call(const std::string& who, const std::string& method, const std::string& target,
             const std::string& body = {},
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!who.empty()) headers.push_back({"Authorization", "Bearer " + tokens.at(who)});
    return ca_file.empty() ? Http(port, method, target, body, headers)
                           : Https(port, ca_file, method, target, body, headers);
  }
  uint64_t Head() { return engine->ledger().GetHead().position; }
};

}  // namespace cledger::testing
