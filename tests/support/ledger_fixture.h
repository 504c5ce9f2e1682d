// Opens a real ledger in a temporary directory, and builds small commits.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "engine/store/raw_ledger.h"
#include "tests/support/temp_dir.h"

namespace cledger::testing {

inline Commit OneEventCommit(const std::string& stream, EventBody body,
                             const std::string& idempotency_key = {}) {
  Commit commit;
  commit.tenant = "acme";
  commit.actor = {"alice", "owner"};
  commit.idempotency_key = idempotency_key;
  commit.events.push_back({stream, std::move(body)});
  return commit;
}

// The Merkle root of the whole log computed from the events' bytes alone (docs/PROOFS.md):
// a position with no event (a recorded gap) is an empty leaf.
inline Hash ReferenceTreeRoot(Ledger& ledger) {
  proofs::CompactTree tree;
  const uint64_t head = ledger.GetHead().position;
  for (uint64_t p = 1; p <= head; ++p) {
    Result<std::string> bytes = ledger.ReadRedacted(p);  // leaves never hold a secret
    REQUIRE((bytes.ok() || bytes.status().code() == Code::kNotFound));
    tree.Append(proofs::LeafHash(bytes.ok() ? *bytes : std::string()));
  }
  return tree.Root();
}

struct LedgerFixture {
  TempDir dir;
  std::unique_ptr<RawLedger> ledger;

  explicit LedgerFixture(LedgerOptions options = {}) { Reopen(std::move(options)); }
  void Reopen(LedgerOptions options = {}) {
    ledger.reset();
    options.path = dir.Sub("data");
    auto opened = RawLedger::Open(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    ledger = std::move(opened).value();
  }
  CommitResult MustAppend(Commit commit) {
    auto result = ledger->Append(std::move(commit));
    REQUIRE_MESSAGE(result.ok(), result.status().ToString());
    return *result;
  }
};

}  // namespace cledger::testing
