// `cledger serve` as a new user meets it: it starts on an empty data directory, prints how to
// reach it with tokens and a curl example that works, and stops gracefully on SIGTERM.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/sanitizer.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_files.h"

namespace cledger {
namespace {

testing::Child ServeOn(const std::string& data_dir) {
  return testing::Spawn({"serve", "--data", data_dir, "--listen", "127.0.0.1:0"});
}

using testing::ReadUntil;

TEST_CASE("ServePrintsTokensAndACurlExampleThatWorksThenStopsOnSigterm") {
  testing::TempDir dir;
  testing::Child child = ServeOn(dir.Sub("data"));
  const std::string banner = ReadUntil(child.out, "Stop with Ctrl-C");
  CHECK(banner.find("Contact Ledger is serving http://127.0.0.1:") != std::string::npos);
  CHECK(banner.find("owner token  clt_") != std::string::npos);
  CHECK(banner.find("ops token    clt_") != std::string::npos);
  const size_t start = banner.find("curl ");
  const size_t end = banner.find("\n\n", start);
  REQUIRE(start != std::string::npos);
  const std::string curl = banner.substr(start, end - start);
  int status = -1;
  const std::string reply = testing::RunCommand(
      "bash -c '" +
          [&] {
            std::string escaped;
            for (char c : curl) escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
            return escaped;
          }() +
          "'",
      &status);
  CHECK(status == 0);
  CHECK(reply.find("\"name\":\"Acme Corp\"") != std::string::npos);

  kill(child.pid, SIGTERM);
  int wait_status = 0;
  waitpid(child.pid, &wait_status, 0);
  CHECK(WIFEXITED(wait_status));
  CHECK(WEXITSTATUS(wait_status) == 0);
  close(child.out);

  // A second start on the same directory keeps the data and issues no ops token: only the
  // first start does, or one asked for, which expires.
  testing::Child again = ServeOn(dir.Sub("data"));
  const std::string second = ReadUntil(again.out, "Stop with Ctrl-C");
  CHECK(second.find("owner token") == std::string::npos);
  CHECK(second.find("ops token    clt_") == std::string::npos);
  CHECK(second.find("No ops token issued at this start") != std::string::npos);
  kill(again.pid, SIGTERM);
  waitpid(again.pid, &wait_status, 0);
  close(again.out);
  // Its offline way to another ops token works as printed, once the server has stopped.
  const std::string offline = "(this server stopped): cledger ";
  const size_t hint = second.find(offline);
  REQUIRE(hint != std::string::npos);
  const size_t from = hint + offline.size();
  const std::string issued = testing::RunCommand(
      std::string(CLEDGER_BINARY) + " " + second.substr(from, second.find('\n', from) - from),
      &status);
  CHECK(status == 0);
  CHECK(issued.find("clt_") != std::string::npos);
  testing::Child asked = testing::Spawn(
      {"serve", "--data", dir.Sub("data"), "--listen", "127.0.0.1:0", "--ops-token", "12h"});
  const std::string third = ReadUntil(asked.out, "Stop with Ctrl-C");
  CHECK(third.find("ops token    clt_") != std::string::npos);
  CHECK(third.find("expires in 12h") != std::string::npos);
  kill(asked.pid, SIGTERM);
  waitpid(asked.pid, &wait_status, 0);
  close(asked.out);
}

TEST_CASE("ServeListensOnLocalhostAndOnABracketedIpv6Address") {
  for (const std::string listen : {"localhost:0", "[::1]:0"}) {
    CAPTURE(listen);
    testing::TempDir dir;
    testing::Child child = testing::Spawn({"serve", "--data", dir.Sub("data"), "--listen", listen});
    const std::string banner = testing::ReadBanner(child.out);
    // The URL names the host as it was given, an IPv6 address in its brackets.
    const std::string url = "http://" + listen.substr(0, listen.rfind(':')) + ":";
    const std::string port = testing::After(banner, "serving " + url, " ");
    CHECK_FALSE(port.empty());
    int status = -1;
    const std::string reply =
        testing::RunCommand("curl -sg --max-time 10 " + url + port + "/healthz", &status);
    CHECK(status == 0);
    CHECK(reply == R"({"status":"ok"})");
    kill(child.pid, SIGTERM);
    CHECK(testing::Wait(child).Exited(0));
  }
}

// The server's CPU time so far (user and system), in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Out of descriptors, accepting fails while connections wait in the queue: the server says so
// once and tries again now and then instead of spinning a core, and serves again as soon as
// descriptors are free.
TEST_CASE("AServerOutOfDescriptorsWaitsInsteadOfSpinningAndServesAgainOnceSomeAreFree") {
  if (testing::kUnderSanitizer) {
    // Their runtimes need descriptors of their own (UBSan's checks of virtual calls, the
    // symbolizer) and stop the server without them: checked in the normal build.
    MESSAGE("skipped under a sanitizer");
    return;
  }
  testing::TempDir dir;
  const std::string log = dir.Sub("serve.log");
  const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(err >= 0);
  testing::Child child = testing::Spawn(
      {"serve", "--data", dir.Sub("data"), "--listen", "127.0.0.1:0"}, err, /*open_files_max=*/64);
  close(err);
  const std::string banner = testing::ReadBanner(child.out);
  const std::string port = testing::After(banner, "serving http://127.0.0.1:", " ");
  REQUIRE_FALSE(port.empty());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> clients;  // more than its descriptors: the last wait in the listen queue
  for (int i = 0; i < 80; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    clients.push_back(fd);
  }
  usleep(300'000);
  const double before = CpuSeconds(child.pid);
  usleep(1'000'000);
  // Spinning, it would use the whole second.
  CHECK(CpuSeconds(child.pid) - before < 0.3);
  for (int fd : clients) close(fd);
  int status = -1;
  const std::string reply = testing::RunCommand(
      "curl -s --retry 5 --retry-all-errors --retry-delay 1 --max-time 20 http://127.0.0.1:" +
          port + "/healthz",
      &status);
  CHECK(reply == R"({"status":"ok"})");
  kill(child.pid, SIGTERM);
  CHECK(testing::Wait(child).Exited(0));
  std::ifstream in(log);
  const std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto count = [&](const std::string& line) {
    size_t n = 0;
    for (size_t at = said.find(line); at != std::string::npos; at = said.find(line, at + 1)) ++n;
    return n;
  };
  // Once a streak of failures, not once a try: a descriptor the server itself frees (a file
  // RocksDB closes) may let one accept through and begin another streak.
  const size_t streaks = count("accepting connections failed: Too many open files");
  CHECK(streaks >= 1);
  CHECK(count("accepting connections again") >= streaks);
}

// A request without X-Request-ID gets a generated correlation id; one generated after a restart
// never repeats one recorded before it (they once restarted at req-1).
TEST_CASE("GeneratedCorrelationIdsDoNotRepeatAcrossRestarts") {
  testing::TempDir dir;
  std::vector<std::string> ids;
  for (int start = 0; start < 2; ++start) {
    testing::Child child = testing::Spawn(
        {"serve", "--data", dir.Sub("data"), "--listen", "127.0.0.1:0", "--ops-token", "1h"});
    const std::string banner = testing::ReadBanner(child.out);
    const std::string url = "http://127.0.0.1:" + testing::After(banner, "http://127.0.0.1:", " ");
    const std::string ops = testing::After(banner, "ops token    ", " ");
    int status = -1;
    testing::RunCommand("curl -s -X POST " + url + "/v1/admin/tenants -H 'Authorization: Bearer " +
                            ops + "' -d '{\"name\":\"t" + std::to_string(start) + "\"}'",
                        &status);
    const std::string events = testing::RunCommand(
        "curl -s '" + url + "/v1/events?limit=1000' -H 'Authorization: Bearer " + ops + "'",
        &status);
    // The event's correlation id is the last one before the tenant's name.
    const size_t name = events.find("\"name\":\"t" + std::to_string(start) + "\"");
    const size_t key = events.rfind("\"correlation_id\":\"", name);
    REQUIRE(key != std::string::npos);
    const size_t begin = key + std::string("\"correlation_id\":\"").size();
    ids.push_back(events.substr(begin, events.find('"', begin) - begin));
    CHECK(ids.back().starts_with("req-"));
    kill(child.pid, SIGTERM);
    CHECK(testing::Wait(child).Exited(0));
  }
  CHECK(ids[0] != ids[1]);
}

TEST_CASE("ServeRefusesAListenAddressThatIsNotHostColonPort") {
  testing::TempDir dir;
  for (const std::string listen : {"[::1]", "127.0.0.1", "::1:8080", "127.0.0.1:", ":8080",
                                   "127.0.0.1:65536", "127.0.0.1:http", "ann@127.0.0.1:8080"}) {
    CAPTURE(listen);
    int status = -1;
    testing::RunCommand(std::string(CLEDGER_BINARY) + " serve --data " + dir.Sub("data") +
                            " --listen '" + listen + "' 2>/dev/null",
                        &status);
    CHECK(status == 2);
  }
}

TEST_CASE("ServeSaysWhenItsDataDirectoryIsASymbolicLinkToNothing") {
  testing::TempDir dir;
  std::filesystem::create_directory_symlink(dir.Sub("gone"), dir.Sub("data"));
  int status = -1;
  const std::string said = testing::RunCommand(
      std::string(CLEDGER_BINARY) + " serve --data " + dir.Sub("data") + " 2>&1", &status);
  CHECK(status == 3);
  CHECK(said.find("is a symbolic link to " + dir.Sub("gone") + ", which does not exist") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Sub("gone")));
}

struct Started {
  std::string banner;  // stdout up to "Stop with Ctrl-C"
  std::string err;     // stderr until it was stopped
};

// Starts `cledger serve ARGS`, reads its banner, stops it with SIGTERM.
Started StartAndStop(const testing::TempDir& dir, const std::vector<std::string>& args) {
  const std::string err_file = dir.Sub("serve.stderr");
  const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(err >= 0);
  std::vector<std::string> all = {"serve", "--data", dir.Sub("data")};
  all.insert(all.end(), args.begin(), args.end());
  testing::Child child = testing::Spawn(all, err);
  close(err);
  Started started;
  started.banner = testing::ReadBanner(child.out);
  kill(child.pid, SIGTERM);
  CHECK(testing::Wait(child).Exited(0));
  std::ifstream in(err_file);
  std::ostringstream text;
  text << in.rdbuf();
  started.err = text.str();
  return started;
}

TEST_CASE("ServeWarnsThatPlainHttpBeyondLoopbackCrossesTheNetworkInClear") {
  testing::TempDir dir;
  const Started exposed = StartAndStop(dir, {"--listen", "0.0.0.0:0"});
  CHECK(exposed.banner.find("serving http://0.0.0.0:") != std::string::npos);
  CHECK(exposed.err.find("[warning] serving plain HTTP on 0.0.0.0") != std::string::npos);
  CHECK(exposed.err.find("in clear") != std::string::npos);
  CHECK(exposed.err.find("--tls-cert FILE --tls-key FILE") != std::string::npos);
  for (const std::string listen : {"127.0.0.1:0", "localhost:0", "[::1]:0"}) {
    CAPTURE(listen);
    const Started loopback = StartAndStop(dir, {"--listen", listen});
    CHECK(loopback.err.find("in clear") == std::string::npos);
  }
  testing::TlsFiles tls;
  const Started https = StartAndStop(
      dir, {"--listen", "0.0.0.0:0", "--tls-cert", tls.cert_file, "--tls-key", tls.key_file});
  CHECK(https.banner.find("serving https://0.0.0.0:") != std::string::npos);
  CHECK(https.err.find("in clear") == std::string::npos);
}

TEST_CASE("ServeNeedsBothTlsFlagsAndNamesACertificateItCannotUseBeforeTouchingTheData") {
  testing::TempDir dir;
  testing::TlsFiles tls;
  const std::string serve =
      std::string(CLEDGER_BINARY) + " serve --listen 127.0.0.1:0 --data " + dir.Sub("data");
  int status = -1;
  std::string said = testing::RunCommand(serve + " --tls-cert " + tls.cert_file + " 2>&1", &status);
  CHECK(status == 2);
  CHECK(said.find("--tls-cert requires --tls-key") != std::string::npos);
  said = testing::RunCommand(serve + " --tls-key " + tls.key_file + " 2>&1", &status);
  CHECK(status == 2);
  CHECK(said.find("--tls-key requires --tls-cert") != std::string::npos);
  const std::string missing = dir.Sub("missing.pem");
  said = testing::RunCommand(
      serve + " --tls-cert " + missing + " --tls-key " + tls.key_file + " 2>&1", &status);
  CHECK(status != 0);
  CHECK(said.find("cannot read the TLS certificate file " + missing) != std::string::npos);
  // A key that is not the certificate's.
  said = testing::RunCommand(serve + " --tls-cert " + tls.cert_file + " --tls-key " +
                                 tls.dir.Sub("other-ca.key") + " 2>&1",
                             &status);
  CHECK(status != 0);
  CHECK(said.find(tls.dir.Sub("other-ca.key")) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.Sub("data")));
}

// A port already taken: the start fails before any token is committed, so the next start of
// the ledger, which never served, is still its first and prints both tokens.
TEST_CASE("AStartThatCannotListenIssuesNoTokenAndTheNextStartIsStillTheFirst") {
  testing::TempDir dir;
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  REQUIRE(bind(taken, reinterpret_cast<sockaddr*>(&address), size) == 0);
  REQUIRE(listen(taken, 1) == 0);
  REQUIRE(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  int status = -1;
  const std::string said = testing::RunCommand(
      std::string(CLEDGER_BINARY) + " serve --data " + dir.Sub("data") +
          " --listen 127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + " 2>&1",
      &status);
  close(taken);
  CHECK(status == 3);
  CHECK(said.find("cannot listen on") != std::string::npos);
  CHECK(said.find("clt_") == std::string::npos);

  testing::Child child = ServeOn(dir.Sub("data"));
  const std::string banner = ReadUntil(child.out, "Stop with Ctrl-C");
  CHECK(banner.find("owner token  clt_") != std::string::npos);
  CHECK(banner.find("ops token    clt_") != std::string::npos);
  kill(child.pid, SIGTERM);
  int wait_status = 0;
  waitpid(child.pid, &wait_status, 0);
  close(child.out);
}

}  // namespace
}  // namespace cledger
