// A real full disk under a real `cledger serve`: the data directory lives on a small tmpfs that
// a ballast file and two writers fill. While full, writers are answered 507 (or 503 while the
// store recovers) and nothing else, the process stays up, and reads and /healthz still answer;
// once the ballast is deleted writes resume, every acknowledged contact is readable and the
// event positions are gapless.
//
// Mounting a tmpfs needs root (CAP_SYS_ADMIN): without it the test says so and is skipped.
//
//   build/tests/crash_test -tc='AFullDisk*'
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

using testing::After;
using testing::ReadBanner;

namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kTmpfsOptions = "size=96m";
constexpr size_t kBallastBytes = 16u << 20;
constexpr const char* kMinFreeMb = "8";
constexpr int kWriters = 2;
constexpr int kRefusalsPerWriter = 3;  // 5xx answers each writer must see before it stops

// Unmounts on every way out of the test, after the server (declared later) has been stopped.
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string dir) : dir_(std::move(dir)) {
    if (mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, kTmpfsOptions) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~TmpfsMount() {
    if (!mounted_) return;
    if (umount(dir_.c_str()) != 0) umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// The server child: stopped (TERM, then KILL) on every way out of the test. One that died by
// itself leaves the end of its stderr (its log, a sanitizer's report) in the test's output.
struct ServerGuard {
  testing::Child child;
  std::string stderr_file;
  ~ServerGuard() {
    if (child.pid <= 0) return;
    if (waitpid(child.pid, nullptr, WNOHANG) == 0) {
      kill(child.pid, SIGTERM);
      for (int i = 0; i < 50 && waitpid(child.pid, nullptr, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      kill(child.pid, SIGKILL);
      waitpid(child.pid, nullptr, 0);
    } else {
      std::ifstream in(stderr_file);
      const std::string said((std::istreambuf_iterator<char>(in)), {});
      std::cerr << "the server died by itself; the end of its stderr:\n"
                << said.substr(said.size() > 8000 ? said.size() - 8000 : 0) << "\n";
    }
    if (child.out >= 0) close(child.out);
  }
  bool Alive() const { return waitpid(child.pid, nullptr, WNOHANG) == 0; }
};

std::string Padded(std::string prefix, size_t size, char fill) {
  prefix.resize(size, fill);
  return prefix;
}

// A shared contact as large as the field limits allow (engine/domain/validate.cc): about
// 12 KB of JSON, most of it the three 32-value communication lists and the website.
std::string BigContact(const std::string& id) {
  json::object body;
  body["id"] = id;
  for (const char* field : {"title", "first_name", "last_name", "company_name", "position",
                            "department", "dealer_code"}) {
    body[field] = Padded(std::string(field) + " " + id + " ", 200, 'x');
  }
  body["email"] = id + "@disk-full.test";
  json::array phones;
  for (const char* type : {"work", "mobile", "home", "fax"}) {
    phones.push_back(json::object{{"type", type}, {"number", "+44 (20) 7946-0000 123 456 7"}});
  }
  body["phones"] = std::move(phones);
  json::array lines;
  for (int i = 0; i < 5; ++i)
    lines.push_back(json::string(Padded("line " + std::to_string(i) + " ", 200, 'y')));
  body["address"] = json::object{
      {"lines", std::move(lines)}, {"postcode", Padded("SW1Y ", 200, '4')}, {"country", "GB"}};
  body["website"] = Padded("https://disk-full.example.com/" + id + "/", 2048, 'w');
  json::object communication{{"email_bill", "full"}, {"usage_report_profile", "monthly"}};
  for (const char* list : {"regarding", "copy_correspondence", "copy_ticket_updates"}) {
    json::array values;
    for (int i = 0; i < 32; ++i) {
      values.push_back(
          json::string(Padded(std::string(list, 3) + "-" + std::to_string(i) + "-", 64, 'v')));
    }
    communication[list] = std::move(values);
  }
  body["communication"] = std::move(communication);
  return json::serialize(body);
}

// A refusal must be a problem+json 507 or 503 (the latter with Retry-After); returns why not.
std::string RefusalProblem(const testing::Reply& reply) {
  if (reply.status != 507 && reply.status != 503) return "status " + std::to_string(reply.status);
  if (reply.Header("content-type").find("application/problem+json") == std::string::npos) {
    return "content-type " + reply.Header("content-type");
  }
  try {
    const json::value problem = json::parse(reply.body);
    if (problem.at("status").to_number<int>() != reply.status) return "problem status differs";
  } catch (const std::exception& e) {
    return std::string("problem body: ") + e.what();
  }
  if (reply.status == 503 && reply.Header("retry-after").empty()) return "503 without Retry-After";
  return {};
}

struct Tally {
  std::mutex mu;
  std::vector<std::string> acked;  // ids answered 201
  std::vector<std::string> wrong;  // answers that were neither 2xx nor a refusal
  int created = 0, refused_507 = 0, refused_503 = 0;
};

testing::Reply Create(uint16_t port, const std::string& token, const std::string& id) {
  return testing::Http(port, "POST", "/v1/contacts", BigContact(id),
                       {{"Authorization", "Bearer " + token},
                        {"Content-Type", "application/json"},
                        {"Idempotency-Key", id}});
}

void Write(int t, uint16_t port, const std::string& token, Tally& tally, Clock::time_point until) {
  int refusals = 0;
  for (int n = 0; refusals < kRefusalsPerWriter && Clock::now() < until; ++n) {
    const std::string id = "d" + std::to_string(t) + "-" + std::to_string(n);
    testing::Reply reply;
    try {
      reply = Create(port, token, id);
    } catch (const std::exception& e) {
      reply.status = 0;
      reply.body = e.what();
    }
    std::lock_guard lock(tally.mu);
    if (reply.status == 201) {
      tally.acked.push_back(id);
      ++tally.created;
    } else if (const std::string why = RefusalProblem(reply); why.empty()) {
      ++refusals;
      ++(reply.status == 507 ? tally.refused_507 : tally.refused_503);
    } else {
      tally.wrong.push_back(id + ": " + why + " " + reply.body.substr(0, 300));
      return;
    }
  }
}

TEST_CASE("AFullDiskAnswersWritersWith5xxKeepsServingAndResumesWhenSpaceReturns") {
  const auto started = Clock::now();
  testing::TempDir dir;
  const std::string mount_point = dir.Sub("tmpfs");
  fs::create_directories(mount_point);
  TmpfsMount tmpfs(mount_point);
  if (!tmpfs.mounted()) {
    MESSAGE("SKIPPED: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): " << tmpfs.error());
    return;
  }
  const std::string ballast = mount_point + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    const std::string chunk(1 << 20, 'b');
    for (size_t written = 0; written < kBallastBytes; written += chunk.size()) out << chunk;
    REQUIRE(out.good());
  }

  ServerGuard server;
  server.stderr_file = dir.Sub("server.err");
  const int err = ::open(server.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(err >= 0);
  server.child = testing::Spawn({"serve", "--data", mount_point + "/data", "--listen",
                                 "127.0.0.1:0", "--min-free-mb", kMinFreeMb},
                                err);
  ::close(err);
  const std::string banner = ReadBanner(server.child.out);
  const std::string port_text = After(banner, "serving http://127.0.0.1:", " \n");
  REQUIRE_MESSAGE(!port_text.empty(), "no banner: " << banner);
  const auto port = static_cast<uint16_t>(std::stoul(port_text));
  const std::string owner = After(banner, "owner token  ", " \n");
  const std::string ops = After(banner, "ops token    ", " \n");
  REQUIRE(!owner.empty());
  REQUIRE(!ops.empty());
  const auto as = [](const std::string& token) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + token}};
  };

  // Fill the disk: each writer goes on until it has been refused a few times (the bound is
  // generous for slow builds, e.g. under ASan; a normal run fills it in a few seconds).
  Tally tally;
  {
    std::vector<std::thread> writers;
    const auto until = Clock::now() + std::chrono::seconds(60);
    for (int t = 0; t < kWriters; ++t) {
      writers.emplace_back(Write, t, port, std::cref(owner), std::ref(tally), until);
    }
    for (auto& w : writers) w.join();
  }
  for (const std::string& w : tally.wrong) FAIL_CHECK("an answer neither 2xx nor 507/503: " << w);
  REQUIRE_MESSAGE(tally.refused_507 + tally.refused_503 >= kWriters * kRefusalsPerWriter,
                  "the disk never filled: " << tally.created << " contacts created");
  REQUIRE(!tally.acked.empty());
  MESSAGE("full after " << tally.created << " creates; refused " << tally.refused_507 << " x 507, "
                        << tally.refused_503 << " x 503");

  // Once the writers stop, RocksDB may give space back (a flush retires a WAL), so the disk is
  // filled again until a create is refused; then, while full, the process is alive and health
  // and reads answer.
  {
    const auto until = Clock::now() + std::chrono::seconds(10);
    int refill = 0;
    for (;; ++refill) {
      REQUIRE_MESSAGE(Clock::now() < until, "the disk did not fill again");
      const std::string id = "refill-" + std::to_string(refill);
      const testing::Reply reply = Create(port, owner, id);
      if (reply.status == 201) {
        tally.acked.push_back(id);
        continue;
      }
      const std::string why = RefusalProblem(reply);
      REQUIRE_MESSAGE(why.empty(), "refilling: " << why << " " << reply.body);
      break;
    }
    if (refill > 0) MESSAGE(refill << " more creates fitted after the writers stopped");
  }
  REQUIRE_MESSAGE(server.Alive(), "cledger serve died on a full disk");
  CHECK(testing::Http(port, "GET", "/healthz").status == 200);
  CHECK(testing::Http(port, "GET", "/v1/contacts/" + tally.acked.front(), {}, as(owner)).status ==
        200);
  CHECK(testing::Http(port, "GET", "/v1/contacts/" + tally.acked.back(), {}, as(owner)).status ==
        200);
  MESSAGE("/readyz while full: " << testing::Http(port, "GET", "/readyz").status);

  // Space comes back: a create succeeds within ~10 s.
  REQUIRE(fs::remove(ballast));
  const auto space_back = Clock::now();
  bool resumed = false;
  for (int attempt = 0; !resumed && Clock::now() - space_back < std::chrono::seconds(10);
       ++attempt) {
    const std::string id = "after-" + std::to_string(attempt);
    const testing::Reply reply = Create(port, owner, id);
    if (reply.status == 201) {
      tally.acked.push_back(id);
      resumed = true;
    } else {
      const std::string why = RefusalProblem(reply);
      REQUIRE_MESSAGE(why.empty(), "after freeing space: " << why << " " << reply.body);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  REQUIRE_MESSAGE(resumed, "writes did not resume within 10 s of space coming back");
  const double resume_s = std::chrono::duration<double>(Clock::now() - space_back).count();
  REQUIRE_MESSAGE(server.Alive(), "cledger serve died after space came back");

  // Nothing acknowledged is lost.
  for (const std::string& id : tally.acked) {
    const int status = testing::Http(port, "GET", "/v1/contacts/" + id, {}, as(owner)).status;
    if (status != 200) FAIL_CHECK("acknowledged contact " << id << " reads " << status);
  }

  // The log's positions run from 1 to the head without a gap.
  const testing::Reply digest = testing::Http(port, "GET", "/v1/ledger/digest", {}, as(ops));
  REQUIRE(digest.status == 200);
  const uint64_t head = json::parse(digest.body).at("position").to_number<uint64_t>();
  uint64_t expected = 1;
  while (expected <= head) {
    const testing::Reply page = testing::Http(
        port, "GET", "/v1/events?from=" + std::to_string(expected) + "&limit=1000", {}, as(ops));
    REQUIRE(page.status == 200);
    const json::value body = json::parse(page.body);
    const json::array& events = body.at("events").as_array();
    REQUIRE_MESSAGE(!events.empty(),
                    "no events from " << expected << " though the head is " << head);
    for (const json::value& e : events) {
      const uint64_t position = e.at("position").to_number<uint64_t>();
      REQUIRE_MESSAGE(position == expected,
                      "event position " << position << " where " << expected << " was due");
      ++expected;
    }
    REQUIRE(body.at("next").to_number<uint64_t>() == expected);
  }
  CHECK(expected == head + 1);
  REQUIRE(server.Alive());

  const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
  MESSAGE(tally.acked.size() << " acknowledged contacts all readable; events 1.." << head
                             << " gapless; writes resumed " << resume_s
                             << " s after space came back; " << total_s << " s in all");
}

}  // namespace
}  // namespace cledger
