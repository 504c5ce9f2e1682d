// The Merkle tree and signed heads (docs/PROOFS.md): proofs verify for every pair they should
// and fail for any change, and the C++ agrees with the vectors an independent Python
// implementation wrote (tests/proofs/make_vectors.py, checked by tools/verify/verify_proof.py).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/hex.h"
#include "cledger/proofs.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

namespace json = boost::json;
using proofs::CompactTree;

// A tree kept as a stored one is: every perfect subtree it completed, by (level, index).
struct StoredTree {
  CompactTree tree;
  std::map<std::pair<int, uint64_t>, Hash> nodes;

  void Append(std::string_view data) {
    tree.Append(proofs::LeafHash(data), [&](int level, uint64_t index, const Hash& h) {
      nodes[{level, index}] = h;
    });
  }
  proofs::SubtreeSource Source() const {
    return [this](int level, uint64_t index) -> Result<Hash> {
      auto it = nodes.find({level, index});
      if (it == nodes.end()) return Status::NotFound("missing", "no such node");
      return it->second;
    };
  }
};

std::string Leaf(uint64_t i) { return "event " + std::to_string(i); }

// MTH by the RFC's recursion, from the leaves themselves: the reference.
Hash ReferenceRoot(uint64_t begin, uint64_t end) {
  if (end == begin) return proofs::EmptyRoot();
  if (end - begin == 1) return proofs::LeafHash(Leaf(begin));
  uint64_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return proofs::NodeHash(ReferenceRoot(begin, begin + k), ReferenceRoot(begin + k, end));
}

StoredTree Grown(uint64_t size, std::vector<Hash>* roots = nullptr) {
  StoredTree t;
  if (roots) roots->push_back(t.tree.Root());
  for (uint64_t i = 0; i < size; ++i) {
    t.Append(Leaf(i));
    if (roots) roots->push_back(t.tree.Root());
  }
  return t;
}

TEST_CASE("TheGrowingTreesRootIsTheRfcRootAtEverySizeAndTheStoredNodesGiveItBack") {
  std::vector<Hash> roots;
  const StoredTree t = Grown(300, &roots);
  for (uint64_t size = 0; size <= 300; ++size) {
    CAPTURE(size);
    CHECK(roots[size] == ReferenceRoot(0, size));
    CHECK(*proofs::Root(size, t.Source()) == roots[size]);
    CHECK(proofs::CompactTree::Load(size, t.Source())->Root() == roots[size]);
  }
}

TEST_CASE("InclusionAndConsistencyProofsVerifyForEveryPairOfASmallLog") {
  std::vector<Hash> roots;
  const StoredTree t = Grown(200, &roots);
  size_t failures = 0;
  for (uint64_t size = 1; size <= 200; ++size) {
    for (uint64_t i = 0; i < size; ++i) {
      auto path = proofs::InclusionPath(i, size, t.Source());
      if (!path.ok() ||
          !proofs::VerifyInclusion(i, size, proofs::LeafHash(Leaf(i)), *path, roots[size])) {
        ++failures;
      }
    }
    for (uint64_t from = 1; from <= size; ++from) {
      auto path = proofs::ConsistencyPath(from, size, t.Source());
      if (!path.ok() || !proofs::VerifyConsistency(from, size, roots[from], roots[size], *path)) {
        ++failures;
      }
    }
  }
  CHECK(failures == 0);
}

TEST_CASE("ProofsOfALogOfThousandsOfEventsVerifyAtEveryPositionAndEverySize") {
  constexpr uint64_t kSize = 3000;
  std::vector<Hash> roots;
  const StoredTree t = Grown(kSize, &roots);
  size_t checked = 0, failures = 0;
  for (uint64_t size : {uint64_t{1000}, uint64_t{2047}, uint64_t{2048}, uint64_t{2049}, kSize}) {
    for (uint64_t i = 0; i < size; ++i, ++checked) {
      auto path = proofs::InclusionPath(i, size, t.Source());
      failures += !proofs::VerifyInclusion(i, size, proofs::LeafHash(Leaf(i)), *path, roots[size]);
    }
  }
  for (uint64_t size = 1; size <= kSize; ++size, checked += 2) {
    auto inclusion = proofs::InclusionPath(size - 1, size, t.Source());
    failures += !proofs::VerifyInclusion(size - 1, size, proofs::LeafHash(Leaf(size - 1)),
                                         *inclusion, roots[size]);
    auto consistency = proofs::ConsistencyPath(size, kSize, t.Source());
    failures += !proofs::VerifyConsistency(size, kSize, roots[size], roots[kSize], *consistency);
  }
  CHECK(checked > 15000);
  CHECK(failures == 0);
}

TEST_CASE("AProofFailsForAnyChangedByteAnyChangedPathElementAndAnyOtherSize") {
  std::vector<Hash> roots;
  const StoredTree t = Grown(777, &roots);
  size_t accepted = 0, tried = 0;
  for (uint64_t size : {uint64_t{5}, uint64_t{64}, uint64_t{100}, uint64_t{777}}) {
    for (uint64_t i = 0; i < size; i += 7) {
      const std::vector<Hash> path = *proofs::InclusionPath(i, size, t.Source());
      const Hash leaf = proofs::LeafHash(Leaf(i));
      Hash other_leaf = proofs::LeafHash(Leaf(i) + "x");
      accepted += proofs::VerifyInclusion(i, size, other_leaf, path, roots[size]);
      for (size_t e = 0; e < path.size(); ++e) {
        std::vector<Hash> changed = path;
        changed[e][e % 32] ^= 0x01;
        accepted += proofs::VerifyInclusion(i, size, leaf, changed, roots[size]);
        ++tried;
      }
      if (!path.empty()) {
        std::vector<Hash> shorter(path.begin(), path.end() - 1);
        accepted += proofs::VerifyInclusion(i, size, leaf, shorter, roots[size]);
      }
      std::vector<Hash> longer = path;
      longer.push_back(leaf);
      accepted += proofs::VerifyInclusion(i, size, leaf, longer, roots[size]);
      accepted += proofs::VerifyInclusion(i, size + 1, leaf, path, roots[size + 1]);
      accepted += proofs::VerifyInclusion(i + 1, size, leaf, path, roots[size]);
      tried += 5;
    }
    for (uint64_t from = 1; from < size; from += 5) {
      const std::vector<Hash> path = *proofs::ConsistencyPath(from, size, t.Source());
      for (size_t e = 0; e < path.size(); ++e) {
        std::vector<Hash> changed = path;
        changed[e][31 - e % 32] ^= 0x80;
        accepted += proofs::VerifyConsistency(from, size, roots[from], roots[size], changed);
        ++tried;
      }
      accepted += proofs::VerifyConsistency(from, size, roots[from + 1], roots[size], path);
      accepted += proofs::VerifyConsistency(from, size - 1, roots[from], roots[size - 1], path);
      tried += 2;
    }
  }
  CHECK(tried > 1000);
  CHECK(accepted == 0);
}

json::object Vectors() {
  std::ifstream in(std::string(CLEDGER_SOURCE_DIR) + "/tests/proofs/vectors.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_object();
}

std::string Bytes(json::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Hash H(const json::value& v) { return *proofs::HashFromHex(v.as_string()); }
std::vector<Hash> Path(const json::value& v) {
  std::vector<Hash> out;
  for (const json::value& h : v.as_array()) out.push_back(H(h));
  return out;
}

TEST_CASE("TheCppVerifierAgreesWithTheIndependentPythonVectors") {
  const json::object v = Vectors();
  // The tree the vectors were made from, grown and stored here: same roots, same paths.
  StoredTree t;
  const json::array& leaves = v.at("leaves").as_array();
  const json::array& roots = v.at("roots").as_array();
  CHECK(H(roots[0]) == t.tree.Root());
  for (size_t i = 0; i < leaves.size(); ++i) {
    t.Append(Bytes(leaves[i].as_string()));
    REQUIRE(H(roots[i + 1]) == t.tree.Root());
  }
  size_t good = 0, bad = 0;
  for (const json::value& e : v.at("inclusion").as_array()) {
    const json::object& o = e.as_object();
    const uint64_t index = o.at("leaf_index").to_number<uint64_t>();
    const uint64_t size = o.at("tree_size").to_number<uint64_t>();
    CAPTURE(index);
    CAPTURE(size);
    CHECK(proofs::VerifyInclusion(index, size, proofs::LeafHash(Bytes(o.at("leaf").as_string())),
                                  Path(o.at("audit_path")), H(o.at("root"))));
    CHECK(*proofs::InclusionPath(index, size, t.Source()) == Path(o.at("audit_path")));
    ++good;
  }
  for (const json::value& e : v.at("consistency").as_array()) {
    const json::object& o = e.as_object();
    const uint64_t from = o.at("from").to_number<uint64_t>();
    const uint64_t to = o.at("to").to_number<uint64_t>();
    CAPTURE(from);
    CAPTURE(to);
    CHECK(proofs::VerifyConsistency(from, to, H(o.at("old_root")), H(o.at("new_root")),
                                    Path(o.at("path"))));
    CHECK(*proofs::ConsistencyPath(from, to, t.Source()) == Path(o.at("path")));
    ++good;
  }
  for (const json::value& e : v.at("bad_inclusion").as_array()) {
    const json::object& o = e.as_object();
    CAPTURE(o.at("why").as_string());
    CHECK_FALSE(proofs::VerifyInclusion(o.at("leaf_index").to_number<uint64_t>(),
                                        o.at("tree_size").to_number<uint64_t>(),
                                        proofs::LeafHash(Bytes(o.at("leaf").as_string())),
                                        Path(o.at("audit_path")), H(o.at("root"))));
    ++bad;
  }
  for (const json::value& e : v.at("bad_consistency").as_array()) {
    const json::object& o = e.as_object();
    CAPTURE(o.at("why").as_string());
    CHECK_FALSE(proofs::VerifyConsistency(o.at("from").to_number<uint64_t>(),
                                          o.at("to").to_number<uint64_t>(), H(o.at("old_root")),
                                          H(o.at("new_root")), Path(o.at("path"))));
    ++bad;
  }
  CHECK(good > 500);
  CHECK(bad > 1000);
}

TEST_CASE("SignedHeadsVerifyExactlyAsThePythonVectorsSay") {
  const json::object v = Vectors();
  size_t checked = 0;
  for (const json::value& e : v.at("signed_heads").as_array()) {
    const json::object& o = e.as_object();
    const json::object& h = o.at("head").as_object();
    proofs::TreeHead head{h.at("tree_size").to_number<uint64_t>(), H(h.at("root_hash")),
                          h.at("timestamp_us").to_number<int64_t>(),
                          std::string(h.at("key_id").as_string()),
                          *proofs::SignatureFromHex(h.at("signature").as_string())};
    const auto key = *proofs::PublicKeyFromHex(o.at("public_key").as_string());
    CAPTURE(head.tree_size);
    CHECK(proofs::TreeHeadMessage(head.tree_size, head.root, head.timestamp_us) ==
          std::string(o.at("message").as_string()));
    CHECK(proofs::VerifyTreeHead(head, key) == o.at("valid").as_bool());
    ++checked;
  }
  CHECK(checked >= 4);
}

TEST_CASE("ASigningKeyIsCreatedOnceWithMode0600AndSignsHeadsItsPublicKeyVerifies") {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ledger.signing-key";
  auto created = proofs::SigningKey::LoadOrCreate(path);
  REQUIRE(created.ok());
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  auto again = proofs::SigningKey::LoadOrCreate(path);
  REQUIRE(again.ok());
  CHECK(again->public_key() == created->public_key());
  const proofs::TreeHead head = again->SignHead(42, proofs::LeafHash("x"), 1764800000000000);
  CHECK(proofs::VerifyTreeHead(head, created->public_key()));
  proofs::TreeHead forged = head;
  forged.tree_size = 41;
  CHECK_FALSE(proofs::VerifyTreeHead(forged, created->public_key()));

  std::ofstream(dir.path() + "/short", std::ios::binary) << "not a key";
  CHECK(proofs::SigningKey::Load(dir.path() + "/short").status().reason() == "signing_key");
  CHECK(proofs::SigningKey::Load(dir.path() + "/absent").status().reason() == "signing_key");
}

}  // namespace
}  // namespace cledger
