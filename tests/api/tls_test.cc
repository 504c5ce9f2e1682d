// HTTPS: the same server over TLS, with a private CA the test makes with the openssl command.
// Every route shares the plain server's code; these tests prove the TLS layer around it: a
// route, the live stream, keep-alive, the access log, and what is refused.
#include <doctest/doctest.h>
#include <poll.h>

#include <boost/asio.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "engine/api/server.h"
#include "tests/support/log_capture.h"
#include "tests/support/server_fixture.h"
#include "tests/support/tls_files.h"

namespace cledger {
namespace {

using testing::Reply;
using testing::ServerFixture;
using testing::TlsFiles;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string Address(const ServerFixture& f) { return "127.0.0.1:" + std::to_string(f.port); }

TEST_CASE("HttpsServesARouteAndTheLiveStreamAndLogsTheRequest") {
  TlsFiles tls;
  testing::LogCapture log;
  ServerFixture f(tls);
  testing::SseClient stream(f.port, "/v1/events/stream", f.tokens.at("acme/owner"), "",
                            tls.ca_file);
  REQUIRE(stream.status() == 200);
  REQUIRE(f.Call("acme/owner", "POST", "/v1/customers",
                 R"({"id":"c1","name":"Acme Corp","email":"ap@acme.test"})")
              .status == 201);
  const Reply read = f.Call("acme/owner", "GET", "/v1/customers/c1");
  CHECK(read.status == 200);
  CHECK(Has(read.body, "Acme Corp"));
  testing::SseClient::Frame frame;
  bool found = false;
  while (!found && stream.Next(frame)) found = frame.event == "CustomerCreated";
  CHECK(found);
  CHECK(Has(log.Text(), "path=/v1/customers/{id} status=200"));
}

TEST_CASE("HttpsKeepsAConnectionAliveForTheNextRequest") {
  TlsFiles tls;
  ServerFixture f(tls);
  // curl reuses the connection when it can: the second transfer needs no new connect.
  const std::string url = "https://" + Address(f) + "/healthz";
  int status = -1;
  const std::string connects =
      testing::RunCommand("curl -s -o /dev/null -o /dev/null --cacert " + tls.ca_file +
                              " -w '%{num_connects} ' " + url + " " + url,
                          &status);
  CHECK(status == 0);
  CHECK(connects == "1 0 ");
}

TEST_CASE("HttpsHoldsTheBodyLimitAndStillAnswersWithAProblem") {
  TlsFiles tls;
  ServerFixture f(tls);
  const std::string big = R"({"id":"c1","name":")" + std::string(2 << 20, 'a') + R"("})";
  const Reply refused = f.Call("acme/owner", "POST", "/v1/customers", big);
  CHECK(refused.status == 413);
  CHECK(Has(refused.body, "payload_too_large"));
  CHECK(f.Call("", "GET", "/healthz").status == 200);
}

TEST_CASE("ThePlainHttpOrUntrustedClientGetsNoAnswerFromTheHttpsPort") {
  TlsFiles tls;
  ServerFixture f(tls);
  CHECK(testing::RawHttp(f.port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").status == 0);
  // A client that does not trust the certificate stops at the handshake.
  CHECK(testing::Https(f.port, tls.other_ca_file, "GET", "/healthz").status == 0);
  // Neither hurt the server.
  CHECK(f.Call("", "GET", "/healthz").status == 200);
}

TEST_CASE("ATlsClientThatConnectsAndSaysNothingIsClosedAfterTheReadTimeout") {
  TlsFiles tls;
  ServerFixture f(tls, /*read_timeout_s=*/1);
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket silent(ioc);
  silent.connect({boost::asio::ip::make_address("127.0.0.1"), f.port});
  const auto started = std::chrono::steady_clock::now();
  pollfd pfd{silent.native_handle(), POLLIN, 0};
  REQUIRE(poll(&pfd, 1, 10'000) == 1);
  char byte;
  boost::system::error_code ec;
  CHECK(silent.read_some(boost::asio::buffer(&byte, 1), ec) == 0);  // closed, no bytes
  CHECK(ec);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

// A client that connected as the server stopped, and never began its handshake, does not hold
// the stop for the read timeout (a minute here).
TEST_CASE("AStoppingServerDoesNotWaitForATlsClientThatSaysNothing") {
  TlsFiles tls;
  ServerFixture f(tls, /*read_timeout_s=*/60);
  boost::asio::io_context ioc;
  std::vector<boost::asio::ip::tcp::socket> silent;
  for (int i = 0; i < 4; ++i) {
    silent.emplace_back(ioc).connect({boost::asio::ip::make_address("127.0.0.1"), f.port});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto stopping = std::chrono::steady_clock::now();
  f.server->Stop();
  // Connecting on while it stops: some are accepted after the stop began.
  for (int i = 0; i < 20; ++i) {
    boost::system::error_code ignored;
    silent.emplace_back(ioc).connect({boost::asio::ip::make_address("127.0.0.1"), f.port}, ignored);
  }
  f.runner.join();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::seconds(30));
}

TEST_CASE("TlsOlderThanVersion12IsRefusedByTheServer") {
  TlsFiles tls;
  ServerFixture f(tls);
  int status = -1;
  // SECLEVEL=0 lets this client offer TLS 1.1 at all: the refusal must be the server's alert.
  const std::string old =
      testing::RunCommand("openssl s_client -connect " + Address(f) +
                              " -tls1_1 -cipher 'DEFAULT@SECLEVEL=0' < /dev/null 2>&1",
                          &status);
  CHECK(status != 0);
  CHECK(Has(old, "alert protocol version"));
  for (const char* version : {"-tls1_2", "-tls1_3"}) {
    testing::RunCommand("openssl s_client -connect " + Address(f) + " " + version + " -CAfile " +
                            tls.ca_file + " -verify_return_error < /dev/null > /dev/null 2>&1",
                        &status);
    CHECK(status == 0);
  }
}

TEST_CASE("AServerWhoseCertificateOrKeyCannotBeUsedRefusesToStartAndNamesTheFile") {
  TlsFiles tls;
  api::ServerOptions options;
  options.tls_cert_file = tls.dir.Sub("missing.pem");
  options.tls_key_file = tls.key_file;
  Status s = api::CheckTls(options);
  CHECK(s.reason() == "tls_files");
  CHECK(Has(s.message(), tls.dir.Sub("missing.pem")));
  options.tls_cert_file = tls.cert_file;
  options.tls_key_file = tls.dir.Sub("other-ca.key");  // a key, but not the certificate's
  s = api::CheckTls(options);
  CHECK(s.reason() == "tls_files");
  CHECK(Has(s.message(), tls.dir.Sub("other-ca.key")));
  options.tls_key_file = "";
  CHECK(api::CheckTls(options).reason() == "tls_files");
  options.tls_key_file = tls.key_file;
  CHECK(api::CheckTls(options).ok());
}

}  // namespace
}  // namespace cledger
