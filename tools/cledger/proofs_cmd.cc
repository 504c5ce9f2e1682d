// cledger proof verify | public-key: checks what a ledger proves, offline, from files alone
// (docs/PROOFS.md). Nothing here opens a ledger: a head, a proof or a bundle and a public key
// the checker trusts are all it takes.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/hex.h"
#include "base/key_file.h"
#include "base/time.h"
#include "cledger/json.h"
#include "cledger/proofs.h"
#include "events/codec.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"

namespace cledger::cli {
namespace {

namespace json = boost::json;

struct ProofArgs {
  std::string public_key;        // hex
  std::string signing_key_file;  // its public half, instead of --public-key
  std::string head;
  std::string inclusion;
  std::string leaf_file;
  std::string consistency;
  std::string old_head;
  std::string bundle;
  std::string data_dir;
  bool trust_bundle_key = false;
};

Result<json::object> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("unreadable", "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto o = api::ParseObject(text.str());
  if (!o.ok()) {
    return Status::InvalidArgument("malformed_json", path + ": " + o.status().message());
  }
  return o;
}

Result<std::string> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("unreadable", "cannot read " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

Result<proofs::TreeHead> ReadHead(const std::string& path) {
  auto o = ReadJsonFile(path);
  if (!o.ok()) return o.status();
  return api::TreeHeadFromJson(*o);
}

Result<proofs::PublicKey> TrustedKey(const ProofArgs& a) {
  if (!a.public_key.empty()) return PublicKeyArgument(a.public_key);
  if (!a.signing_key_file.empty()) {
    auto key = proofs::SigningKey::Load(a.signing_key_file);
    if (!key.ok()) return Status::InvalidArgument("invalid_key", key.status().message());
    return key->public_key();
  }
  return Status::InvalidArgument("invalid_key",
                                 "name the key you trust: --public-key HEX or --signing-key-file");
}

// Every check that fails is a line on stderr; the result says whether all held.
class Checks {
 public:
  bool Check(bool holds, const std::string& what) {
    std::cout << (holds ? "ok       " : "FAILED   ") << what << "\n";
    all_ &= holds;
    return holds;
  }
  bool all() const { return all_; }

 private:
  bool all_ = true;
};

std::string HeadName(const proofs::TreeHead& h) {
  return "head of size " + std::to_string(h.tree_size) + " (root " +
         base::Hex(h.root).substr(0, 16) + "…)";
}

Status VerifyInclusionFile(const ProofArgs& a, const proofs::TreeHead& head, Checks& checks) {
  auto proof = ReadJsonFile(a.inclusion);
  if (!proof.ok()) return proof.status();
  if (a.leaf_file.empty()) {
    return Status::InvalidArgument("required", "--inclusion needs --leaf-file (the event's bytes)");
  }
  auto leaf = ReadBytes(a.leaf_file);
  if (!leaf.ok()) return leaf.status();
  const uint64_t position = ops::U64(*proof, "position");
  const uint64_t size = ops::U64(*proof, "tree_size");
  const json::value* path_json = proof->if_contains("audit_path");
  auto path = api::HashesFromJson(path_json ? *path_json : json::value(), "audit_path");
  if (!path.ok()) return path.status();
  checks.Check(size == head.tree_size,
               "the proof is for the head's tree size " + std::to_string(head.tree_size));
  checks.Check(
      position > 0 &&
          proofs::VerifyInclusion(position - 1, size, proofs::LeafHash(*leaf), *path, head.root),
      "the event at position " + std::to_string(position) + " is in the " + HeadName(head));
  return Status::Ok();
}

Status VerifyConsistencyFile(const ProofArgs& a, const proofs::PublicKey& key,
                             const proofs::TreeHead& head, Checks& checks) {
  if (a.old_head.empty()) {
    return Status::InvalidArgument("required", "--consistency needs --old (the earlier head)");
  }
  auto old_head = ReadHead(a.old_head);
  if (!old_head.ok()) return old_head.status();
  auto proof = ReadJsonFile(a.consistency);
  if (!proof.ok()) return proof.status();
  const json::value* path_json = proof->if_contains("consistency_path");
  auto path = api::HashesFromJson(path_json ? *path_json : json::value(), "consistency_path");
  if (!path.ok()) return path.status();
  checks.Check(proofs::VerifyTreeHead(*old_head, key),
               "the old " + HeadName(*old_head) + " is signed by that key");
  checks.Check(proofs::VerifyConsistency(old_head->tree_size, head.tree_size, old_head->root,
                                         head.root, *path),
               "the " + HeadName(head) + " extends the old one: nothing before position " +
                   std::to_string(old_head->tree_size) + " was changed or removed");
  return Status::Ok();
}

// The event names the bundle's tenant, the subject's stream and its own position.
bool BelongsTo(const Evidence& bundle, const Evidence::Item& item) {
  auto event = events::DecodeEvent(item.bytes);
  return event.ok() && event->tenant == bundle.tenant &&
         event->stream == bundle.subject + "-" + bundle.id && event->position == item.position;
}

Status VerifyBundleFile(const ProofArgs& a, Checks& checks) {
  auto o = ReadJsonFile(a.bundle);
  if (!o.ok()) return o.status();
  auto bundle = api::EvidenceFromJson(*o);
  if (!bundle.ok()) return bundle.status();
  proofs::PublicKey key = bundle->public_key;
  if (a.trust_bundle_key) {
    std::cout << "note     --trust-bundle-key: the bundle's own key " << proofs::KeyId(key)
              << " is taken on trust; this shows only that the bundle is self-consistent\n";
  } else {
    auto trusted = TrustedKey(a);
    if (!trusted.ok()) return trusted.status();
    checks.Check(*trusted == key, "the bundle's public key is the one you trust");
  }
  checks.Check(bundle->subject == "contact" || bundle->subject == "customer",
               "the bundle's subject is a contact or a customer");
  checks.Check(proofs::VerifyTreeHead(bundle->head, key),
               "the " + HeadName(bundle->head) + " is signed by key " + proofs::KeyId(key));
  checks.Check(!bundle->events.empty(), "the bundle holds events");
  for (const Evidence::Item& item : bundle->events) {
    const std::string at = "position " + std::to_string(item.position);
    checks.Check(BelongsTo(*bundle, item), "the event at " + at + " is " + bundle->tenant + "'s " +
                                               bundle->subject + " " + bundle->id);
    checks.Check(
        item.position > 0 && proofs::VerifyInclusion(item.position - 1, bundle->head.tree_size,
                                                     proofs::LeafHash(item.bytes), item.audit_path,
                                                     bundle->head.root),
        "the event at " + at + " is in the signed tree");
  }
  return Status::Ok();
}

int Verify(const ProofArgs& a) {
  Checks checks;
  Status s = Status::Ok();
  if (!a.bundle.empty()) {
    s = VerifyBundleFile(a, checks);
  } else {
    if (a.head.empty()) return ops::Complain("name a --head (or a --bundle) to verify", kExitUsage);
    auto key = TrustedKey(a);
    if (!key.ok()) {
      return key.status().reason() == "invalid_key"
                 ? ops::Complain(key.status().message(), kExitUsage)
                 : ops::FailStatus(key.status());
    }
    auto head = ReadHead(a.head);
    if (!head.ok()) return ops::FailStatus(head.status());
    checks.Check(proofs::VerifyTreeHead(*head, *key),
                 "the " + HeadName(*head) + " is signed by key " + proofs::KeyId(*key));
    if (!a.inclusion.empty()) s = VerifyInclusionFile(a, *head, checks);
    if (s.ok() && !a.consistency.empty()) s = VerifyConsistencyFile(a, *key, *head, checks);
  }
  if (!s.ok()) {
    const bool usage = s.reason() == "required" || s.reason() == "invalid_key";
    return usage ? ops::Complain(s.message(), kExitUsage) : ops::FailStatus(s);
  }
  std::cout << (checks.all() ? "verified\n" : "NOT VERIFIED\n");
  return checks.all() ? kExitOk : kExitFailed;
}

int PrintPublicKey(const ProofArgs& a) {
  const std::string file =
      a.signing_key_file.empty() ? DefaultSigningKeyFile(a.data_dir) : a.signing_key_file;
  auto key = proofs::SigningKey::Load(file);
  if (!key.ok()) return ops::FailStatus(key.status());
  std::cout << "key_id      " << key->key_id() << "\npublic_key  " << base::Hex(key->public_key())
            << "\n";
  return kExitOk;
}

// cledger erasure verify CERT: the certificate (or the whole answer of an erase request)
// is signed by the key the checker trusts.
int VerifyErasure(const std::string& path, const ProofArgs& a) {
  constexpr uintmax_t kCertificateBytesMax = 1 << 20;  // a certificate is a few hundred bytes
  std::error_code ec;
  if (const uintmax_t size = std::filesystem::file_size(path, ec);
      !ec && size > kCertificateBytesMax) {
    std::cerr << "cledger: " << path << " is " << size
              << " bytes: not an erasure certificate (at most 1 MiB)\n";
    return kExitUsage;
  }
  auto file = ReadJsonFile(path);
  auto key = file.ok() ? TrustedKey(a) : Result<proofs::PublicKey>(file.status());
  if (!key.ok()) {
    std::cerr << "cledger: " << key.status().message() << "\n";
    return kExitUsage;
  }
  const json::value* inner = file->if_contains("certificate");
  auto certificate = api::ErasureCertificateFromJson(
      inner != nullptr && inner->is_object() ? inner->as_object() : *file);
  if (!certificate.ok()) {
    std::cerr << "cledger: " << path << ": " << certificate.status().message() << "\n";
    return kExitUsage;
  }
  const proofs::ErasureCertificate& c = *certificate;
  Checks checks;
  const std::string trusted = proofs::KeyId(*key);
  const bool named = c.signing_key_id == trusted;
  checks.Check(named, named ? "the certificate names the key you trust (" + trusted + ")"
                            : "the certificate names key " +
                                  (c.signing_key_id.empty() ? std::string("none (unsigned)")
                                                            : c.signing_key_id) +
                                  ", not the key you trust (" + trusted + ")");
  if (named) {
    checks.Check(proofs::VerifyErasureCertificate(c, *key),
                 "its signature covers every field as they read now");
  }
  if (checks.all()) {
    using audit_tools::Printable;  // the reason is anyone's text: it must not drive the terminal
    std::cout << "erased: " << Printable(c.subject) << " " << Printable(c.id) << " of tenant "
              << Printable(c.tenant) << " at " << base::Rfc3339Micros(c.erased_at_us) << " by "
              << Printable(c.actor.id) << " (" << Printable(c.actor.role) << "), position "
              << c.position << "\n"
              << "reason: " << Printable(c.reason) << "\n"
              << "destroyed key: " << (c.key_id.empty() ? "(none)" : c.key_id) << "; "
              << c.unreadable_positions.size() << " events' personal fields unreadable\n"
              << "ledger digest after it: size " << c.tree_size << ", root " << base::Hex(c.root)
              << "\n";
  }
  std::cout << (checks.all() ? "certificate verified" : "certificate FAILED") << "\n";
  return checks.all() ? kExitOk : kExitFailed;
}

}  // namespace

Result<proofs::PublicKey> PublicKeyArgument(const std::string& given) {
  if (auto key = proofs::PublicKeyFromHex(given)) return *key;
  if (auto text = ReadBytes(given); text.ok()) {
    std::istringstream words(*text);
    for (std::string word; words >> word;) {
      if (auto key = proofs::PublicKeyFromHex(word)) return *key;
    }
  }
  return Status::InvalidArgument("invalid_key",
                                 "--public-key is 64 hex digits or a file holding them");
}

std::string DefaultSigningKeyFile(const std::string& data_dir) {
  return base::BesideDirectory(data_dir, ".signing-key");
}

void AddProofs(CLI::App& app, Runner& run) {
  auto a = std::make_shared<ProofArgs>();
  auto* proof = app.add_subcommand("proof", "Check signed tree heads, proofs and evidence offline");
  proof->require_subcommand(1);
  auto* verify = proof->add_subcommand(
      "verify", "Verify a signed head, an inclusion or consistency proof, or an evidence bundle");
  verify->add_option("--public-key", a->public_key, "The ledger's public key you trust (hex)");
  verify->add_option("--signing-key-file", a->signing_key_file,
                     "Take the public key from the ledger's signing key file instead");
  verify->add_option("--head", a->head, "A signed head (GET /v1/ledger/head)")->type_name("FILE");
  verify->add_option("--inclusion", a->inclusion, "An inclusion proof against --head")
      ->type_name("FILE");
  verify->add_option("--leaf-file", a->leaf_file, "The event's raw bytes, for --inclusion")
      ->type_name("FILE");
  verify->add_option("--consistency", a->consistency, "A consistency proof from --old to --head")
      ->type_name("FILE");
  verify->add_option("--old", a->old_head, "The earlier signed head, for --consistency")
      ->type_name("FILE");
  verify->add_option("--bundle", a->bundle, "An evidence bundle (GET /v1/contacts/{id}/evidence)")
      ->type_name("FILE");
  verify->add_flag("--trust-bundle-key", a->trust_bundle_key,
                   "Take a bundle's own public key on trust (shows only self-consistency)");
  verify->footer(
      ops::Footer("  cledger proof verify --bundle k1.json --public-key ledger.pub\n"
                  "  cledger proof verify --head head.json --public-key HEX --inclusion p.json "
                  "--leaf-file event.bin\n"
                  "  cledger proof verify --head new.json --old old.json --consistency c.json "
                  "--public-key HEX"));
  verify->callback([a, &run] { run = [a] { return Verify(*a); }; });

  auto* key = proof->add_subcommand("public-key", "Print the public key that signs the tree heads");
  key->add_option("--signing-key-file", a->signing_key_file,
                  "The signing key file (default: <data>.signing-key)");
  key->add_option("--data", a->data_dir, "The data directory the key sits beside")
      ->capture_default_str();
  a->data_dir = "./data";
  key->footer(ops::Footer("  cledger proof public-key --data ./data"));
  key->callback([a, &run] { run = [a] { return PrintPublicKey(*a); }; });

  auto cert = std::make_shared<std::string>();
  auto* erasure = app.add_subcommand("erasure", "Check erasure certificates offline");
  erasure->require_subcommand(1);
  auto* check = erasure->add_subcommand(
      "verify", "Verify an erasure certificate (the answer of POST /v1/contacts/{id}/erase)");
  check->add_option("CERT", *cert, "The certificate, or the whole erase answer (JSON)")
      ->required()
      ->type_name("FILE");
  check->add_option("--public-key", a->public_key,
                    "The ledger's public key you trust: hex, or a file holding it");
  check->add_option("--signing-key-file", a->signing_key_file,
                    "Take the public key from the ledger's signing key file instead");
  check->footer(ops::Footer(
      "  cledger proof public-key --data ./data > ledger.pub\n"
      "  curl -sX POST -H \"Authorization: Bearer $TOKEN\" -d '{\"reason\":\"GDPR request 42\"}' "
      "http://127.0.0.1:8080/v1/contacts/k1/erase > k1-erased.json\n"
      "  cledger erasure verify k1-erased.json --public-key ledger.pub"));
  check->callback([a, cert, &run] { run = [a, cert] { return VerifyErasure(*cert, *a); }; });
  AddWitness(app, run);
}

}  // namespace cledger::cli
