// RFC 9162 §2.1 over the perfect subtrees a stored tree keeps. Every range the RFC's
// recursions visit starts at a multiple of its own largest power of two, so each one is
// either a stored perfect subtree or splits into one and a smaller such range.
#include <bit>

#include "cledger/proofs.h"
#include "events/hash.h"

namespace cledger::proofs {
namespace {

std::string_view View(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

// The largest power of two smaller than n. REQUIRES: n > 1.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

// MTH(D[begin:end]). REQUIRES: begin < end, and begin is a multiple of bit_floor(end - begin).
Result<Hash> RangeRoot(uint64_t begin, uint64_t end, const SubtreeSource& subtree) {
  const uint64_t n = end - begin;
  if (std::has_single_bit(n)) {
    const int level = std::countr_zero(n);
    return subtree(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  Result<Hash> left = subtree(std::countr_zero(k), begin / k);
  if (!left.ok()) return left;
  Result<Hash> right = RangeRoot(begin + k, end, subtree);
  if (!right.ok()) return right;
  return NodeHash(*left, *right);
}

// PATH(m, D[begin:end]), appended to `path` leaf-side first.
Status AuditPath(uint64_t m, uint64_t begin, uint64_t end, const SubtreeSource& subtree,
                 std::vector<Hash>& path) {
  const uint64_t n = end - begin;
  if (n <= 1) return Status::Ok();
  const uint64_t k = SplitPoint(n);
  Result<Hash> sibling =
      m < k ? RangeRoot(begin + k, end, subtree) : RangeRoot(begin, begin + k, subtree);
  if (!sibling.ok()) return sibling.status();
  Status inner = m < k ? AuditPath(m, begin, begin + k, subtree, path)
                       : AuditPath(m - k, begin + k, end, subtree, path);
  if (!inner.ok()) return inner;
  path.push_back(*sibling);
  return Status::Ok();
}

// SUBPROOF(m, D[begin:end], b).
Status SubProof(uint64_t m, uint64_t begin, uint64_t end, bool complete,
                const SubtreeSource& subtree, std::vector<Hash>& path) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (complete) return Status::Ok();
    Result<Hash> root = RangeRoot(begin, end, subtree);
    if (!root.ok()) return root.status();
    path.push_back(*root);
    return Status::Ok();
  }
  const uint64_t k = SplitPoint(n);
  Status inner;
  Result<Hash> other = Hash{};
  if (m <= k) {
    inner = SubProof(m, begin, begin + k, complete, subtree, path);
    other = RangeRoot(begin + k, end, subtree);
  } else {
    inner = SubProof(m - k, begin + k, end, false, subtree, path);
    other = RangeRoot(begin, begin + k, subtree);
  }
  if (!inner.ok()) return inner;
  if (!other.ok()) return other.status();
  path.push_back(*other);
  return Status::Ok();
}

}  // namespace

Hash LeafHash(std::string_view data) { return events::Sha256({std::string_view("\0", 1), data}); }

Hash NodeHash(const Hash& left, const Hash& right) {
  return events::Sha256({std::string_view("\1", 1), View(left), View(right)});
}

Hash EmptyRoot() { return events::Sha256({}); }

Result<Hash> Root(uint64_t size, const SubtreeSource& subtree) {
  if (size == 0) return EmptyRoot();
  return RangeRoot(0, size, subtree);
}

Result<std::vector<Hash>> InclusionPath(uint64_t index, uint64_t size,
                                        const SubtreeSource& subtree) {
  std::vector<Hash> path;
  if (Status s = AuditPath(index, 0, size, subtree, path); !s.ok()) return s;
  return path;
}

Result<std::vector<Hash>> ConsistencyPath(uint64_t from, uint64_t to,
                                          const SubtreeSource& subtree) {
  std::vector<Hash> path;
  if (from == to) return path;
  if (Status s = SubProof(from, 0, to, true, subtree, path); !s.ok()) return s;
  return path;
}

bool VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> path,
                     const Hash& root) {
  if (index >= size) return false;
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = NodeHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

bool VerifyConsistency(uint64_t from, uint64_t to, const Hash& from_root, const Hash& to_root,
                       std::span<const Hash> path) {
  if (from == 0 || from > to) return false;
  if (from == to) return path.empty() && from_root == to_root;
  if (path.empty()) return false;
  // A first tree that is a perfect subtree of the second is the path's implicit first node.
  std::vector<Hash> nodes;
  if (std::has_single_bit(from)) nodes.push_back(from_root);
  nodes.insert(nodes.end(), path.begin(), path.end());
  uint64_t fn = from - 1;
  uint64_t sn = to - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = nodes.front();
  Hash sr = nodes.front();
  for (size_t i = 1; i < nodes.size(); ++i) {
    const Hash& c = nodes[i];
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && fr == from_root && sr == to_root;
}

Result<CompactTree> CompactTree::Load(uint64_t size, const SubtreeSource& subtree) {
  CompactTree tree;
  tree.size_ = size;
  for (int level = 0; level < 64; ++level) {
    if ((size >> level & 1) == 0) continue;
    Result<Hash> peak = subtree(level, (size >> level) - 1);
    if (!peak.ok()) return peak.status();
    tree.peaks_[level] = *peak;
  }
  return tree;
}

void CompactTree::Append(const Hash& leaf, const Completed& completed) {
  Hash h = leaf;
  uint64_t index = size_;
  if (completed) completed(0, index, h);
  int level = 0;
  while ((size_ >> level & 1) == 1) {
    h = NodeHash(peaks_[level], h);
    ++level;
    index >>= 1;
    if (completed) completed(level, index, h);
  }
  peaks_[level] = h;
  ++size_;
}

Hash CompactTree::Root() const {
  if (size_ == 0) return EmptyRoot();
  std::optional<Hash> root;
  for (int level = 0; level < 64; ++level) {
    if ((size_ >> level & 1) == 0) continue;
    root = root ? NodeHash(peaks_[level], *root) : peaks_[level];
  }
  return *root;
}

}  // namespace cledger::proofs
