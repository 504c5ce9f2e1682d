// Errors are values: a failed read is a Status from the store up through the projections,
// never an exception, and no thread dies of one.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <thread>

#include "engine/projection_host.h"
#include "engine/store/log_store.h"
#include "projections/views.h"
#include "tests/support/ledger_fixture.h"
#include "tests/support/sample_events.h"
#include "tests/unit/store/flaky_fs.h"

namespace cledger {
namespace {

namespace pj = projections;

// A keyspace whose every read fails, as a bad disk under a projection would.
class FailingKv final : public pj::Kv {
 public:
  Result<std::optional<std::string>> Get(std::string_view) override {
    return Status::IoError("storage_error", "injected: read failed");
  }
  void Put(std::string_view, std::string_view) override {}
  void Delete(std::string_view) override {}
  Status Scan(std::string_view, const pj::ScanFn&) override {
    return Status::IoError("storage_error", "injected: scan failed");
  }
};

TEST_CASE("AResultBuiltFromAnOkStatusAbortsInEveryBuild") {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // the test runner's crash handler would report it
    close(STDOUT_FILENO);
    close(STDERR_FILENO);
    Result<int> nonsense(Status::Ok());
    _exit(nonsense.ok() ? 1 : 0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
}

TEST_CASE("StatusFactoriesCarryTheirCategory") {
  CHECK(Status::IoError("storage_error", "x").code() == Code::kIoError);
  CHECK(Status::Corruption("corrupt_event", "x").code() == Code::kCorruption);
  CHECK(Status::NotFound("contact_not_found", "x").code() == Code::kNotFound);
  CHECK(Status::Unavailable("storage_unavailable", "x").code() == Code::kUnavailable);
  CHECK(Status::NoSpace("insufficient_storage", "x").code() == Code::kNoSpace);
  CHECK(Status::InvalidArgument("bad", "x", "f").field() == "f");
}

TEST_CASE("AFailedProjectionReadIsAStatusForFoldsAndQueries") {
  FailingKv kv;
  const Event edited = testing::SampleEvent(ContactEdited{"k1", testing::FullContactFields()});
  const Event updated =
      testing::SampleEvent(CustomerUpdated{"c1", "Acme", "a@example.com", "long"});
  for (const pj::Projection* p : pj::All()) {
    if (p == &pj::kTenants || p == &pj::kLinks) continue;  // they only write
    const Event& event = p == &pj::kCustomers ? updated : edited;
    CHECK_MESSAGE(p->Apply(kv, event).code() == Code::kIoError, p->name());
  }
  CHECK(pj::GetContact(kv, "acme", "k1").status().code() == Code::kIoError);
  CHECK(pj::LinksOf(kv, "acme", "c1").status().code() == Code::kIoError);
  CHECK(pj::AuditTrail(kv, "acme", pj::AuditIndex::kStream, "contact-k1").status().code() ==
        Code::kIoError);
}

TEST_CASE("AProjectionRecordThatDoesNotDecodeIsCorruptionNotAbsence") {
  pj::MemKv kv;
  kv.Put(pj::TenantKey("acme", "k1"), "\xff\xff\xff");
  auto contact = pj::GetContact(kv, "acme", "k1");
  REQUIRE_FALSE(contact.ok());
  CHECK(contact.status().code() == Code::kCorruption);
}

// The store and the projection host, wired as the engine wires them.
struct HostedStore {
  std::unique_ptr<store::LogStore> store;
  std::unique_ptr<ProjectionHost> host;
  std::atomic<int> faults{0};

  explicit HostedStore(store::StoreOptions options) {
    options.inline_fold = [this](store::Txn& txn, const std::vector<Event>& events) {
      return host->FoldCommit(txn, events);
    };
    options.inline_applied = [this](store::Txn& txn, uint64_t head) {
      host->MarkApplied(txn, head);
    };
    options.on_durable = [this](uint64_t head) { host->Notify(head); };
    auto opened = store::LogStore::Open(std::move(options));
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    store = std::move(opened).value();
    host = std::make_unique<ProjectionHost>(*store, [this](const Status&) { ++faults; });
    REQUIRE(host->Attach().ok());
  }
  ~HostedStore() {
    host->StopFollowing();
    store.reset();
  }
  uint64_t AuditApplied() {
    for (const ProjectionStatus& p : host->Statuses()) {
      if (p.name == "audit") return p.applied_position;
    }
    return 0;
  }
};

TEST_CASE("AFailedReadInTheAuditFollowerIsToldOnceAndRetriedNotFatal") {
  testing::TempDir dir;
  std::atomic<bool> failing{false};
  auto fs = std::make_shared<testing::FlakyFileSystem>(failing);
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  store::StoreOptions options;
  options.ledger.path = dir.Sub("data");
  options.env = env.get();
  HostedStore hosted(options);
  auto contact =
      testing::OneEventCommit("contact-k1", ContactCreated{"k1", "", testing::FullContactFields()});
  REQUIRE(hosted.store->Append(contact).ok());
  REQUIRE(hosted.host->AwaitFollowers(1, std::chrono::seconds(5)).ok());
  REQUIRE(hosted.AuditApplied() == 1);

  // The audit family's state goes to a table file, and that file becomes unreadable.
  rocksdb::ColumnFamilyHandle* audit = hosted.host->Family(pj::kAudit);
  REQUIRE(hosted.store->db()->Flush(rocksdb::FlushOptions(), audit).ok());
  std::vector<rocksdb::LiveFileMetaData> files;
  hosted.store->db()->GetLiveFilesMetaData(&files);
  std::set<std::string> audit_files;
  for (const auto& f : files) {
    if (f.column_family_name == audit->GetName()) audit_files.insert(f.name);
  }
  REQUIRE_FALSE(audit_files.empty());
  fs->MakeUnreadable(audit_files);

  auto edit =
      testing::OneEventCommit("contact-k1", ContactEdited{"k1", testing::FullContactFields()});
  REQUIRE(hosted.store->Append(edit).ok());  // the commit path does not read the audit family
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // several retries
  CHECK(hosted.faults == 1);  // told once, though retried several times

  fs->MakeUnreadable({});
  CHECK(hosted.host->AwaitFollowers(2, std::chrono::seconds(10)).ok());  // the fault passed
  CHECK(hosted.AuditApplied() == 2);
  CHECK(hosted.faults == 1);
}

// A follower that meets what no retry mends (here its own record, damaged) is not waited for:
// whoever waits for it (a close, verify, a trail read) learns why at once instead of after its
// timeout, and the follower keeps the position it could not fold.
TEST_CASE("AWaitForAFollowerThatCannotFoldEndsAtOnceWithItsReason") {
  testing::TempDir dir;
  store::StoreOptions options;
  options.ledger.path = dir.Sub("data");
  HostedStore hosted(options);
  auto contact =
      testing::OneEventCommit("contact-k1", ContactCreated{"k1", "", testing::FullContactFields()});
  REQUIRE(hosted.store->Append(contact).ok());
  REQUIRE(hosted.host->AwaitFollowers(1, std::chrono::seconds(5)).ok());
  // The audit's own copy of the contact no longer decodes.
  rocksdb::ColumnFamilyHandle* audit = hosted.host->Family(pj::kAudit);
  REQUIRE(hosted.store->db()
              ->Put(rocksdb::WriteOptions(), audit, "s" + pj::TenantKey("acme", "k1"), "\xff")
              .ok());

  auto edit =
      testing::OneEventCommit("contact-k1", ContactEdited{"k1", testing::FullContactFields()});
  REQUIRE(hosted.store->Append(edit).ok());
  // Were it waited for, this would end only at ctest's timeout: the failure is the test.
  const Status waited = hosted.host->AwaitFollowers(2, std::chrono::hours(1));
  CHECK(waited.code() == Code::kCorruption);
  CHECK(hosted.AuditApplied() == 1);
}

TEST_CASE("ACorruptEventBlockIsCorruptionNotATransientFault") {
  testing::TempDir dir;
  store::StoreOptions options;
  options.ledger.path = dir.Sub("data");
  {
    auto opened = store::LogStore::Open(options);
    REQUIRE(opened.ok());
    for (int i = 0; i < 20; ++i) {
      auto commit = testing::OneEventCommit(
          "contact-k" + std::to_string(i),
          ContactCreated{"k" + std::to_string(i), "", testing::FullContactFields()});
      REQUIRE((*opened)->Append(commit).ok());
    }
  }  // a clean close flushes every family to table files
  std::vector<rocksdb::LiveFileMetaData> files;
  {
    rocksdb::DB* raw = nullptr;
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), options.ledger.path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    REQUIRE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), options.ledger.path, descriptors,
                                         &handles, &raw)
                .ok());
    raw->GetLiveFilesMetaData(&files);
    for (auto* h : handles) (void)raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  std::string log_table;
  for (const auto& f : files) {
    if (f.column_family_name == "log") log_table = options.ledger.path + f.name;
  }
  REQUIRE_FALSE(log_table.empty());
  {
    std::fstream file(log_table, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(200);  // inside the first data block: the events, not the index at the end
    for (int i = 0; i < 16; ++i) file.put('\x5a');
  }
  auto reopened = store::LogStore::Open(options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
  auto read = (*reopened)->Read(1, 20);
  REQUIRE_FALSE(read.ok());
  CHECK(read.status().code() == Code::kCorruption);
  CHECK(read.status().reason() == "corrupt_event");
}

}  // namespace
}  // namespace cledger
