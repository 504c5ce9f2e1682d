// The Merkle tree over the log (docs/PROOFS.md, FORMAT.md "tree"): its perfect subtrees are
// written in each commit's batch by the writer (LogStore::StageCommit); this file loads its
// peaks at open, builds what a ledger written before the tree lacks, reads proofs, and keeps
// the signed heads the ledger published.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/hex.h"
#include "base/keys.h"
#include "engine/store/errors.h"
#include "engine/store/keys.h"
#include "engine/store/log_store.h"
#include "events/codec.h"

namespace cledger::store {
namespace {

constexpr char kSignedHeadPrefix[] = "sth/";
constexpr char kCosignaturePrefix[] = "cosig/";
constexpr size_t kKeyIdChars = 16;
constexpr uint64_t kBuildBatchLeaves = 4096;

std::string_view View(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }
template <size_t N>
void Copy(std::array<uint8_t, N>& out, std::string_view bytes) {
  std::memcpy(out.data(), bytes.data(), N);
}

Status TreeDamaged(int level, uint64_t index) {
  return Status::Corruption("corrupt_tree", "the Merkle tree lacks its node at level " +
                                                std::to_string(level) + ", index " +
                                                std::to_string(index));
}

}  // namespace

std::string TreeKey(int level, uint64_t index) {
  return std::string(1, static_cast<char>(level)) + base::U64Key(index);
}

Result<Hash> LogStore::StoredSubtree(int level, uint64_t index) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), tree_, TreeKey(level, index), &value);
  if (s.IsNotFound() || (s.ok() && value.size() != 32)) return TreeDamaged(level, index);
  if (!s.ok()) return FromRocks(s, "storage fault");
  Hash h{};
  Copy(h, value);
  return h;
}

proofs::SubtreeSource LogStore::Subtrees() {
  return [this](int level, uint64_t index) { return StoredSubtree(level, index); };
}

// The leaf of `position`: its stored bytes, or nothing for a position of a recorded gap.
Result<Hash> LogStore::LeafAt(uint64_t position) {
  Result<std::string> bytes = ReadAt(rocksdb::ReadOptions(), position);
  if (bytes.ok()) {
    Result<std::string> leaf = events::RedactSecrets(*bytes);
    if (!leaf.ok()) return leaf.status();
    return proofs::LeafHash(*leaf);
  }
  if (bytes.status().code() == Code::kNotFound && InGap(position)) return proofs::LeafHash("");
  return bytes.status();
}

bool LogStore::InGap(uint64_t position) const {
  auto it = gaps_.upper_bound(position);
  return it != gaps_.begin() && std::prev(it)->second >= position;
}

// At open: the peaks of the tree as large as the log. A ledger written before the tree
// existed (or whose last gap was just recorded) gets its missing leaves once, here.
Status LogStore::LoadTree() {
  const uint64_t head = GetHead().position;
  uint64_t stored = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), tree_));
    it->SeekForPrev(TreeKey(0, UINT64_MAX));
    if (!it->status().ok()) return FromRocks(it->status(), "storage fault");
    if (it->Valid() && it->key().size() == 9 && it->key()[0] == 0) {
      stored = base::DecodeU64(it->key().ToStringView().substr(1)) + 1;
    }
  }
  if (stored > head) stored = head;  // leaves past the head were never acknowledged
  Result<proofs::CompactTree> tree = proofs::CompactTree::Load(stored, Subtrees());
  if (!tree.ok()) return tree.status();
  tree_state_ = *tree;
  if (stored == head) return Status::Ok();
  tree_leaves_rebuilt_ = head - stored;
  while (tree_state_.size() < head) {
    rocksdb::WriteBatch batch;
    const uint64_t until = std::min(head, tree_state_.size() + kBuildBatchLeaves);
    while (tree_state_.size() < until) {
      Result<Hash> leaf = LeafAt(tree_state_.size() + 1);
      if (!leaf.ok()) return leaf.status();
      tree_state_.Append(*leaf, [&](int level, uint64_t index, const Hash& h) {
        batch.Put(tree_, TreeKey(level, index), View(h));
      });
    }
    rocksdb::WriteOptions write;
    write.sync = until == head;
    if (rocksdb::Status s = db_->Write(write, &batch); !s.ok())
      return FromRocks(s, "storage fault");
  }
  return Status::Ok();
}

void LogStore::StageLeaf(Txn& txn, proofs::CompactTree& tree, std::string_view event_bytes) {
  tree.Append(proofs::LeafHash(event_bytes), [&](int level, uint64_t index, const Hash& h) {
    txn.Put(tree_, TreeKey(level, index), View(h));
  });
}

LogStore::TreeCheck::TreeCheck(LogStore& store, const rocksdb::ReadOptions& read,
                               VerifyReport& report)
    : store_(store), read_(read), report_(report) {
  report_.tree_leaves_rebuilt = store.tree_leaves_rebuilt_;
  Result<SignedHeadRecords> records = store.ReadSignedHeads();
  if (!records.ok()) {
    report_.tree_problems.push_back("signed heads unreadable: " + records.status().message());
    return;
  }
  report_.tree_problems = std::move(records->problems);
  for (proofs::TreeHead& head : records->heads) {
    report_.signed_heads.push_back({std::move(head), false});
  }
  auto& all = report_.signed_heads;
  for (; next_head_ < all.size() && all[next_head_].head.tree_size == 0; ++next_head_) {
    all[next_head_].root_matches = all[next_head_].head.root == proofs::EmptyRoot();
  }
}

void LogStore::TreeCheck::Add(uint64_t position, std::string_view event_bytes) {
  // Every node the leaf completes is compared, not only the leaf: a stored inner node that
  // lies would let a later head commit to a tree the events do not make.
  tree_.Append(proofs::LeafHash(event_bytes), [&](int level, uint64_t index, const Hash& h) {
    if (report_.first_tree_mismatch != 0) return;
    const std::string key = TreeKey(level, index);
    std::unique_ptr<rocksdb::Iterator>& it = levels_[level];
    if (!it) {
      it.reset(store_.db_->NewIterator(read_, store_.tree_));
      it->Seek(key);
    }
    while (it->Valid() && it->key().ToStringView() < std::string_view(key)) it->Next();
    if (!it->Valid() || it->key().ToStringView() != key || it->value().ToStringView() != View(h)) {
      report_.first_tree_mismatch = position;
    }
  });
  auto& heads = report_.signed_heads;
  while (next_head_ < heads.size() && heads[next_head_].head.tree_size <= tree_.size()) {
    auto& check = heads[next_head_++];
    check.root_matches = check.head.tree_size == tree_.size() && check.head.root == tree_.Root();
  }
}

Result<Hash> LogStore::TreeRoot(uint64_t size) {
  if (size > GetHead().position) return PastTheHead(size);
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  return proofs::Root(size, Subtrees());
}

Result<std::vector<Hash>> LogStore::InclusionProof(uint64_t position, uint64_t size) {
  if (size > GetHead().position) return PastTheHead(size);
  if (position == 0 || position > size) {
    return Status(
        Code::kNotFound, "not_found",
        "no position " + std::to_string(position) + " in a tree of " + std::to_string(size));
  }
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  return proofs::InclusionPath(position - 1, size, Subtrees());
}

Result<std::vector<Hash>> LogStore::ConsistencyProof(uint64_t from, uint64_t to) {
  if (to > GetHead().position) return PastTheHead(to);
  if (from == 0 || from > to) {
    return Status::InvalidArgument("invalid_range", "a consistency proof needs 0 < from <= to",
                                   "from");
  }
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  return proofs::ConsistencyPath(from, to, Subtrees());
}

Status LogStore::PastTheHead(uint64_t size) {
  return Status::InvalidArgument("past_the_head",
                                 "tree size " + std::to_string(size) + " is past the head (" +
                                     std::to_string(GetHead().position) + ")",
                                 "tree_size");
}

// Value: u64 timestamp_us · root (32) · signature (64) · key id (16 characters).
Status LogStore::RecordSignedHead(const proofs::TreeHead& head) {
  rocksdb::WriteBatch batch;
  batch.Put(meta_, kSignedHeadPrefix + base::U64Key(head.tree_size),
            base::U64Key(static_cast<uint64_t>(head.timestamp_us)) + std::string(View(head.root)) +
                std::string(reinterpret_cast<const char*>(head.signature.data()), 64) +
                head.key_id);
  // Synced: once a head is published, verify must be able to hold the log to it after a crash.
  return WriteSide(batch, /*sync=*/true);
}

// Value: u64 timestamp_us of the head it signs · signature (64); key: size · key id.
Status LogStore::RecordCosignature(const proofs::TreeHead& head, const proofs::Cosignature& c) {
  const std::string key = kCosignaturePrefix + base::U64Key(head.tree_size) + c.key_id;
  const std::string value = base::U64Key(static_cast<uint64_t>(head.timestamp_us)) +
                            std::string(reinterpret_cast<const char*>(c.signature.data()), 64);
  {
    // A cosignature sent again (anyone may copy one from a served head) writes nothing.
    DbGate::Shared gate(gate_);
    if (!db_) return Reopening();
    std::string stored;
    if (db_->Get(rocksdb::ReadOptions(), meta_, key, &stored).ok() && stored == value) {
      return Status::Ok();
    }
  }
  rocksdb::WriteBatch batch;
  batch.Put(meta_, key, value);
  return WriteSide(batch, /*sync=*/true);
}

Result<std::vector<proofs::TreeHead>> LogStore::SignedHeads() {
  Result<SignedHeadRecords> records = ReadSignedHeads();
  if (!records.ok()) return records.status();
  return std::move(records->heads);
}

// Every signed head record, and what is wrong with those that cannot be one: a malformed
// record, or a size a witness cosigned whose signed head is gone.
Result<LogStore::SignedHeadRecords> LogStore::ReadSignedHeads() {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  SignedHeadRecords records;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(kSignedHeadPrefix); it->Valid() && it->key().starts_with(kSignedHeadPrefix);
       it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(sizeof(kSignedHeadPrefix) - 1);
    const std::string_view value = it->value().ToStringView();
    if (key.size() != 8 || value.size() != 8 + 32 + 64 + kKeyIdChars) {
      records.problems.push_back("a signed head record is malformed (key " + base::Hex(key) + ")");
      continue;
    }
    proofs::TreeHead head;
    head.tree_size = base::DecodeU64(key);
    head.timestamp_us = static_cast<int64_t>(base::DecodeU64(value));
    Copy(head.root, value.substr(8));
    Copy(head.signature, value.substr(40));
    head.key_id = std::string(value.substr(104));
    records.heads.push_back(std::move(head));
  }
  for (it->Seek(kCosignaturePrefix); it->Valid() && it->key().starts_with(kCosignaturePrefix);
       it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(sizeof(kCosignaturePrefix) - 1);
    if (key.size() < 8) continue;
    const uint64_t size = base::DecodeU64(key);
    const bool held = std::any_of(records.heads.begin(), records.heads.end(),
                                  [&](const proofs::TreeHead& h) { return h.tree_size == size; });
    if (!held) {
      records.problems.push_back("a witness cosigned a head of size " + std::to_string(size) +
                                 " that the ledger no longer holds (deleted?)");
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault");
  return records;
}

Result<std::vector<proofs::Cosignature>> LogStore::Cosignatures(const proofs::TreeHead& head) {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  const std::string prefix = kCosignaturePrefix + base::U64Key(head.tree_size);
  std::vector<proofs::Cosignature> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view value = it->value().ToStringView();
    if (value.size() != 72 || static_cast<int64_t>(base::DecodeU64(value)) != head.timestamp_us) {
      continue;  // a cosignature of another head of the same size
    }
    proofs::Cosignature c;
    c.key_id = std::string(it->key().ToStringView().substr(prefix.size()));
    Copy(c.signature, value.substr(8));
    out.push_back(std::move(c));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault");
  return out;
}

}  // namespace cledger::store
