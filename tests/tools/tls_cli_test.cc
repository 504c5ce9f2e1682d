// `cledger --server https://…`: the command line speaks TLS to the server and verifies its
// certificate (chain and host name), trusting the system's CAs and --ca-file; a certificate
// that does not verify is refused, never sent a token, never retried in plain HTTP.
#include <doctest/doctest.h>

#include <string>

#include "tests/support/server_fixture.h"
#include "tests/support/tls_files.h"

namespace cledger {
namespace {

using testing::ServerFixture;
using testing::TlsFiles;

struct Ran {
  int status = -1;
  std::string said;  // stdout and stderr
};

Ran Cledger(const std::string& args) {
  Ran ran;
  ran.said = testing::RunCommand(std::string(CLEDGER_BINARY) + " " + args + " 2>&1", &ran.status);
  INFO("cledger " << args << "\n" << ran.said);
  return ran;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The ops command `stats` against the TLS server at `host`, with `more` arguments.
Ran Stats(const ServerFixture& f, const std::string& host, const std::string& more) {
  return Cledger("stats --json --server https://" + host + ":" + std::to_string(f.port) +
                 " --token " + f.tokens.at("ops") + more);
}

TEST_CASE("CledgerOverHttpsTrustsTheGivenCaAndRefusesACertificateThatDoesNotVerify") {
  TlsFiles tls;
  ServerFixture f(tls);
  for (const char* host : {"127.0.0.1", "localhost"}) {
    const Ran trusted = Stats(f, host, " --ca-file " + tls.ca_file);
    CHECK(trusted.status == 0);
    CHECK(Has(trusted.said, "\"position\""));
  }
  for (const std::string& more : {" --ca-file " + tls.other_ca_file, std::string()}) {
    const Ran refused = Stats(f, "127.0.0.1", more);
    CHECK(refused.status == 3);  // as for a server that cannot be reached
    CHECK(Has(refused.said, "certificate of the server at 127.0.0.1:"));
    CHECK(Has(refused.said, "did not verify"));
    CHECK_FALSE(Has(refused.said, f.tokens.at("ops")));
  }
  // The resolver reads 127.1 as 127.0.0.1, the same server; but the certificate does not
  // name 127.1, so it does not verify for it.
  const Ran other_name = Stats(f, "127.1", " --ca-file " + tls.ca_file);
  CHECK(other_name.status == 3);
  CHECK(Has(other_name.said, "hostname mismatch"));
}

TEST_CASE("CaFileIsRefusedWhenMissingOrForAPlainHttpServer") {
  TlsFiles tls;
  ServerFixture f(tls);
  const Ran missing = Stats(f, "127.0.0.1", " --ca-file " + tls.dir.Sub("nothing.pem"));
  CHECK(missing.status == 2);
  CHECK(Has(missing.said, tls.dir.Sub("nothing.pem")));
  const Ran plain = Cledger("stats --server http://127.0.0.1:1 --token t --ca-file " + tls.ca_file);
  CHECK(plain.status == 2);
  CHECK(Has(plain.said, "https://"));
}

TEST_CASE("TheWitnessOverHttpsCosignsWithTheGivenCaAndStopsOnAnUnverifiedCertificate") {
  TlsFiles tls;
  ServerFixture f(tls);
  const std::string server = " --server https://localhost:" + std::to_string(f.port) + " --token " +
                             f.tokens.at("ops") + " --state " + tls.dir.Sub("witness") + " --once";
  const Ran refused = Cledger("witness" + server + " --ca-file " + tls.other_ca_file);
  CHECK(refused.status == 1);  // as for a server that cannot be reached
  CHECK(Has(refused.said, "did not verify"));
  const Ran trusted = Cledger("witness" + server + " --ca-file " + tls.ca_file);
  CHECK(trusted.status == 0);
}

}  // namespace
}  // namespace cledger
