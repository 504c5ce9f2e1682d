// The Merkle tree the store keeps beside the log (docs/PROOFS.md, FORMAT.md "tree").
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <thread>
#include <vector>

#include "engine/store/keys.h"
#include "tests/support/ledger_fixture.h"
#include "tests/support/sample_events.h"

namespace cledger {
namespace {

using testing::LedgerFixture;
using testing::OneEventCommit;

void AppendContacts(LedgerFixture& f, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    f.MustAppend(
        OneEventCommit("contact-k" + std::to_string(i),
                       ContactCreated{"k" + std::to_string(i), "", testing::FullContactFields()}));
  }
}

TEST_CASE("TheTreesRootIsTheRootOfTheEventsBytesAfterConcurrentCommitsAndRestarts") {
  LedgerFixture f;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&f, w] {
      for (int i = 0; i < 50; ++i) {
        (void)f.ledger->Append(
            OneEventCommit("contact-w" + std::to_string(w),
                           ContactCreated{"w", "", testing::FullContactFields()}));
      }
    });
  }
  for (auto& w : writers) w.join();
  const uint64_t head = f.ledger->GetHead().position;
  REQUIRE(head == 200);
  CHECK(*f.ledger->TreeRoot(head) == testing::ReferenceTreeRoot(*f.ledger));
  f.Reopen();
  AppendContacts(f, 0, 3);
  CHECK(*f.ledger->TreeRoot(head + 3) == testing::ReferenceTreeRoot(*f.ledger));
  // Every earlier size keeps its root: the tree only grows.
  const Hash at_100 = *f.ledger->TreeRoot(100);
  auto consistency = f.ledger->ConsistencyProof(100, head + 3);
  REQUIRE(consistency.ok());
  CHECK(proofs::VerifyConsistency(100, head + 3, at_100, *f.ledger->TreeRoot(head + 3),
                                  *consistency));
  auto inclusion = f.ledger->InclusionProof(77, head + 3);
  REQUIRE(inclusion.ok());
  CHECK(proofs::VerifyInclusion(76, head + 3, proofs::LeafHash(*f.ledger->ReadRedacted(77)),
                                *inclusion, *f.ledger->TreeRoot(head + 3)));
  CHECK(f.ledger->TreeRoot(head + 4).status().reason() == "past_the_head");
  CHECK(f.ledger->InclusionProof(0, head).status().code() == Code::kNotFound);
}

TEST_CASE("ALedgerWrittenBeforeTheTreeGetsItBuiltOnceAtOpen") {
  LedgerFixture f;
  AppendContacts(f, 0, 1000);
  const Hash expected = testing::ReferenceTreeRoot(*f.ledger);
  f.ledger.reset();
  {  // as a ledger of the first release: no tree family at all
    rocksdb::DB* raw = nullptr;
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies({}, f.dir.Sub("data"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    REQUIRE(rocksdb::DB::Open({}, f.dir.Sub("data"), descriptors, &handles, &raw).ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == store::kCfTree) REQUIRE(raw->DropColumnFamily(handles[i]).ok());
    }
    for (auto* h : handles) (void)raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  f.Reopen();
  CHECK(*f.ledger->TreeRoot(1000) == expected);
  AppendContacts(f, 1000, 5);
  CHECK(*f.ledger->TreeRoot(1005) == testing::ReferenceTreeRoot(*f.ledger));
  const VerifyReport report = f.ledger->VerifyChain();
  CHECK(report.ok);
  CHECK(report.first_tree_mismatch == 0);
}

}  // namespace
}  // namespace cledger
