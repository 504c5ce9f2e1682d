// cledger verify: the hash chain, the projections and --digest/--against, offline or remote.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/hex.h"
#include "base/time.h"
#include "cledger/json.h"
#include "cledger/proofs.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/progress.h"

namespace cledger::cli::ops {
namespace {

struct Digest {
  uint64_t position = 0;
  std::string hash;  // lower-case hex
};

std::optional<Digest> ParseDigest(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Digest d;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9' || d.position > UINT64_MAX / 10 - 9) return std::nullopt;
    d.position = d.position * 10 + static_cast<uint64_t>(c - '0');
  }
  d.hash = text.substr(colon + 1);
  if (d.hash.size() != 64) return std::nullopt;
  for (char& c : d.hash) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return d;
}

struct VerifyResult {
  bool chain_ok = true;
  uint64_t events_checked = 0;
  uint64_t lost_positions = 0;
  uint64_t first_broken = 0;
  std::string problem;
  Digest head;
  std::vector<ProjectionMismatch> projections;
  std::string projections_unchecked;  // why the projections could not be checked, when not
  std::optional<Digest> against;
  std::string against_problem;  // empty: the ledger extends the digest
  // The log held to the heads the ledger signed (docs/PROOFS.md).
  uint64_t first_tree_mismatch = 0;  // the first event the stored tree no longer agrees with
  uint64_t tree_leaves_rebuilt = 0;
  uint64_t signed_heads_checked = 0;              // whose root was compared with the log's
  uint64_t signatures_checked = 0;                // of those, whose signature was checked too
  std::vector<std::string> signed_head_problems;  // damaged, deleted, forged or no longer held
  std::string key_note;  // why signatures were not checked, when they were not
  // With --server: when the server's check finished (it answers a check younger than 10 s
  // instead of scanning again).
  std::string verified_at;
  // A log that fails its own chain or the heads it signed must not be "repaired" by folding
  // it into the projections again: that would launder the rewrite.
  bool log_suspect() const {
    return !chain_ok || first_tree_mismatch != 0 || !signed_head_problems.empty();
  }
  // Intact as far as anyone can prove: at least one head signed with the trusted key still
  // matches, and nothing else is suspect. Only then is a projection rebuild the repair.
  bool log_proven() const { return !log_suspect() && signatures_checked > 0; }
  bool ok() const {
    return !log_suspect() && projections.empty() && projections_unchecked.empty() &&
           against_problem.empty();
  }
};

// Each signed head the ledger kept, held to `key`: a head whose signature verifies but whose
// root the log no longer has proves the log was rewritten after it was published.
void CheckSignedHeads(const VerifyReport& chain, const std::optional<proofs::PublicKey>& key,
                      VerifyResult& r) {
  r.first_tree_mismatch = chain.first_tree_mismatch;
  r.tree_leaves_rebuilt = chain.tree_leaves_rebuilt;
  r.signed_head_problems = chain.tree_problems;
  for (const VerifyReport::SignedHeadCheck& check : chain.signed_heads) {
    ++r.signed_heads_checked;
    const std::string name = "signed head of size " + std::to_string(check.head.tree_size) + " (" +
                             base::Rfc3339Micros(check.head.timestamp_us) + ")";
    // A root the log no longer has is evidence with or without the key.
    if (!check.root_matches) {
      r.signed_head_problems.push_back(name + ": the log no longer has its root");
    } else if (key && !proofs::VerifyTreeHead(check.head, *key)) {
      r.signed_head_problems.push_back(name +
                                       ": its signature does not verify (a forged or "
                                       "damaged head, or another key)");
    } else if (key) {
      ++r.signatures_checked;
    }
  }
}

// Why the ledger does not extend `digest`, given the hash it holds at that position (nullopt
// when it has no event there); empty when it does.
std::string ExtendsProblem(const Digest& digest, uint64_t head,
                           const std::optional<std::string>& hash_there) {
  if (digest.position == 0) {
    return digest.hash == std::string(64, '0') ? "" : "position 0 has the all-zero hash only";
  }
  if (digest.position > head || !hash_there) {
    return "position " + std::to_string(digest.position) + " is past the head (" +
           std::to_string(head) + "): events were removed";
  }
  if (*hash_there != digest.hash) {
    return "the event at position " + std::to_string(digest.position) + " has hash " + *hash_there +
           ", not " + digest.hash;
  }
  return "";
}

Result<VerifyResult> VerifyOffline(Engine& engine, const std::optional<proofs::PublicKey>& key) {
  VerifyResult r;
  {
    ProgressBar bar("verify chain");
    const VerifyReport chain =
        engine.ledger().VerifyChain([&bar](uint64_t d, uint64_t t) { bar.Update(d, t); });
    r.chain_ok = chain.ok;
    r.events_checked = chain.events_checked;
    r.lost_positions = chain.lost_positions;
    r.first_broken = chain.first_broken_position;
    r.problem = chain.problem;
    r.head = {chain.head.position, base::Hex(chain.head.hash)};
    CheckSignedHeads(chain, key, r);
  }
  ProgressBar bar("verify projections");
  // Each projection is folded afresh in turn, each reporting (done, head): one bar for all.
  const uint64_t passes = engine.Projections().size();
  uint64_t pass = 0, last = 0;
  auto mismatches = engine.VerifyProjections([&](uint64_t done, uint64_t total) {
    if (last == total) ++pass;
    last = done;
    bar.Update(std::min(pass, passes - 1) * total + done, passes * total);
  });
  if (!mismatches.ok() && mismatches.status().reason() == "personal_data_unreadable") {
    r.projections_unchecked = mismatches.status().message();  // the chain's result still stands
    return r;
  }
  if (!mismatches.ok()) return mismatches.status();
  r.projections = *mismatches;
  return r;
}

void CheckAgainstOffline(Engine& engine, VerifyResult& r) {
  // Every position up to the digest must chain, not only the digest's own event.
  if (!r.chain_ok && r.first_broken <= r.against->position) {
    r.against_problem = "the chain is broken at position " + std::to_string(r.first_broken) +
                        ", at or before the digest's position";
    return;
  }
  std::optional<std::string> hash_there;
  if (r.against->position > 0) {
    auto events = engine.ledger().Read(r.against->position, 1);
    if (!events.ok()) {
      r.against_problem = "cannot read position " + std::to_string(r.against->position) + ": " +
                          events.status().message();
      return;
    }
    if (!events->empty() && events->front().position == r.against->position) {
      hash_there = base::Hex(events->front().hash);
    }
  }
  r.against_problem = ExtendsProblem(*r.against, r.head.position, hash_there);
}

// The objects of the array `o[key]`; none when it is absent or not an array.
std::vector<const json::object*> Objects(const json::object& o, const char* key) {
  std::vector<const json::object*> out;
  if (const json::value* list = o.if_contains(key); list && list->is_array()) {
    for (const json::value& item : list->as_array()) {
      if (item.is_object()) out.push_back(&item.as_object());
    }
  }
  return out;
}

// The server's account of its tree and signed heads, as VerifyChain gives it offline: the
// signatures are then checked here, with the key the caller trusts.
VerifyReport TreeReportOf(const json::object& report) {
  VerifyReport chain;
  chain.first_tree_mismatch = U64(report, "first_tree_mismatch");
  chain.tree_leaves_rebuilt = U64(report, "tree_leaves_rebuilt");
  if (const json::value* list = report.if_contains("tree_problems"); list && list->is_array()) {
    for (const json::value& p : list->as_array()) {
      if (p.is_string()) chain.tree_problems.emplace_back(p.as_string());
    }
  }
  for (const json::object* check : Objects(report, "signed_heads")) {
    const json::value* head = check->if_contains("head");
    auto parsed = head && head->is_object()
                      ? api::TreeHeadFromJson(head->as_object())
                      : Result<proofs::TreeHead>(Status::InvalidArgument("invalid_head", "absent"));
    if (!parsed.ok()) {
      chain.tree_problems.push_back("a signed head the server sent does not parse (" +
                                    parsed.status().message() + ")");
      continue;
    }
    const json::value* matches = check->if_contains("root_matches");
    chain.signed_heads.push_back({*parsed, matches && matches->is_bool() && matches->as_bool()});
  }
  return chain;
}

Result<VerifyResult> VerifyRemote(const OpsArgs& a, const std::optional<proofs::PublicKey>& key) {
  auto report = GetJson(a, "GET", "/v1/ledger/verify");
  if (!report.ok()) return report.status();
  // What is missing or malformed is not taken for "nothing to report".
  using Kind = bool (json::value::*)() const noexcept;
  const std::pair<const char*, Kind> expected[] = {{"ok", &json::value::is_bool},
                                                   {"events_checked", &json::value::is_number},
                                                   {"position", &json::value::is_number},
                                                   {"hash", &json::value::is_string},
                                                   {"projections", &json::value::is_array},
                                                   {"first_tree_mismatch", &json::value::is_number},
                                                   {"tree_problems", &json::value::is_array},
                                                   {"signed_heads", &json::value::is_array}};
  for (const auto& [field, is] : expected) {
    const json::value* v = report->if_contains(field);
    if (v == nullptr || !(v->*is)()) {
      return Status::IoError("bad_report", "the server's verification report lacks a valid " +
                                               std::string(field) + ": is it a ledger server?");
    }
  }
  VerifyResult r;
  r.events_checked = U64(*report, "events_checked");
  r.first_broken = U64(*report, "first_broken_position");
  r.problem = Str(*report, "problem");
  r.chain_ok = r.first_broken == 0 && r.problem.empty();
  r.head = {U64(*report, "position"), Str(*report, "hash")};
  r.projections_unchecked = Str(*report, "projections_unchecked");
  r.verified_at = audit_tools::Printable(Str(*report, "verified_at"));
  for (const json::object* m : Objects(*report, "projections")) {
    r.projections.push_back({Str(*m, "projection"), Str(*m, "key")});
  }
  CheckSignedHeads(TreeReportOf(*report), key, r);
  if (!report->at("ok").as_bool() && r.ok()) {
    r.projections_unchecked = "the server reports a failed verification it does not explain";
  }
  return r;
}

Status CheckAgainstRemote(const OpsArgs& a, VerifyResult& r) {
  std::optional<std::string> hash_there;
  if (r.against->position > 0) {
    auto page = GetJson(a, "GET", "/v1/events?limit=1&from=" + std::to_string(r.against->position));
    if (!page.ok()) return page.status();
    const json::value* events = page->if_contains("events");
    if (events && events->is_array() && !events->as_array().empty() &&
        events->as_array()[0].is_object()) {
      const json::object& e = events->as_array()[0].as_object();
      if (U64(e, "position") == r.against->position) hash_there = Str(e, "hash");
    }
  }
  r.against_problem = ExtendsProblem(*r.against, r.head.position, hash_there);
  return Status::Ok();
}

void PrintTreeText(const VerifyResult& r) {
  if (r.first_tree_mismatch != 0) {
    std::cout << "REWRITTEN: the event at position " << r.first_tree_mismatch
              << " no longer matches the Merkle tree stored when it was written\n";
  }
  for (const std::string& problem : r.signed_head_problems) {
    // A signature that does not verify may be the caller's wrong key: not called a rewrite.
    const bool signature = problem.find("its signature does not verify") != std::string::npos;
    std::cout << (signature ? "NOT VERIFIED: " : "REWRITTEN: ") << problem << "\n";
  }
  if (r.tree_leaves_rebuilt > 0) {
    std::cout << "note: the Merkle tree lacked " << r.tree_leaves_rebuilt
              << " leaves when the ledger was opened and they were rebuilt from the log; they "
                 "vouch for nothing (expected once for a ledger written before the tree)\n";
  }
  if (!r.key_note.empty()) std::cout << r.key_note << "\n";
  if (r.signed_heads_checked == 0) {
    std::cout << "no signed heads recorded: nothing proves the log is the one published; a "
                 "running server signs one when asked (GET /v1/ledger/head, an evidence "
                 "bundle, a witness polling), and a witness keeps the heads it saw\n";
  } else if (r.signed_head_problems.empty()) {
    std::cout << "signed heads ok: the log still has the root of each of the "
              << r.signed_heads_checked << " heads the ledger signed ("
              << (r.signatures_checked == 0
                      ? std::string("their signatures not checked")
                      : std::to_string(r.signatures_checked) + " signatures checked")
              << ")\n";
  }
}

// The server answers a check younger than 10 s again instead of scanning anew: said, with
// its age, so that a head signed meanwhile is not taken for missing.
void PrintCheckAge(const std::string& verified_at) {
  std::cout << "the server's check, finished at " << verified_at;
  if (auto at = api::ParseRfc3339(verified_at); at.ok()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::cout << " (" << std::max<int64_t>(0, (now - *at) / 1'000'000) << " s ago)";
  }
  std::cout << "\n";
}

void PrintVerifyText(const VerifyResult& r) {
  if (!r.verified_at.empty()) PrintCheckAge(r.verified_at);
  if (r.chain_ok) {
    std::cout << "chain ok: " << r.events_checked << " events, head " << r.head.position << " "
              << r.head.hash << "\n";
    if (r.lost_positions > 0) {
      std::cout << r.lost_positions
                << " positions recorded as lost (an accepted write-ahead "
                   "log loss): never reused\n";
    }
  } else {
    std::cout << "BROKEN at position " << r.first_broken << ": " << r.problem << " ("
              << r.events_checked << " events before it chain correctly)\n";
  }
  PrintTreeText(r);
  if (!r.projections_unchecked.empty()) {
    std::cout << "projections NOT checked: " << r.projections_unchecked << "\n";
  } else if (r.projections.empty()) {
    std::cout << "projections ok: each equals a fresh fold of the log\n";
  }
  for (const ProjectionMismatch& m : r.projections) {
    std::cout << "projection " << m.projection << " differs at key " << m.key
              << " from a fresh fold";
    if (r.log_suspect()) {
      std::cout << ": the log is suspect, not the projection; do NOT rebuild (that would fold "
                   "a rewritten log into the views). Restore from a backup, and compare with "
                   "a witness\n";
    } else if (!r.log_proven()) {
      std::cout << ": the log is not proven intact (no head signed with a trusted key holds "
                   "it); check it against a witness or a backup before you rebuild "
                   "(cledger projections rebuild "
                << m.projection << ")\n";
    } else {
      std::cout << " (the log is intact; repair: cledger projections rebuild " << m.projection
                << ")\n";
    }
  }
  if (r.against) {
    const std::string digest = std::to_string(r.against->position) + ":" + r.against->hash;
    if (r.against_problem.empty()) {
      std::cout << "digest " << digest << " holds: the ledger still extends it\n";
    } else {
      std::cout << "the ledger does not extend that digest: " << r.against_problem << "\n";
    }
  }
  if (!r.ok()) std::cout << "verify FAILED\n";
}

json::object VerifyJson(const VerifyResult& r) {
  json::array projections;
  for (const ProjectionMismatch& m : r.projections) {
    projections.push_back(json::object{{"projection", m.projection}, {"key", m.key}});
  }
  json::object out{{"ok", r.ok()},
                   {"events_checked", r.events_checked},
                   {"first_broken_position", r.first_broken},
                   {"problem", r.problem},
                   {"position", r.head.position},
                   {"hash", r.head.hash},
                   {"projections", std::move(projections)},
                   {"projections_unchecked", r.projections_unchecked},
                   {"log_suspect", r.log_suspect()},
                   {"first_tree_mismatch", r.first_tree_mismatch},
                   {"log_proven", r.log_proven()},
                   {"tree_leaves_rebuilt", r.tree_leaves_rebuilt},
                   {"signed_heads_checked", r.signed_heads_checked}};
  json::array problems;
  for (const std::string& p : r.signed_head_problems) problems.push_back(json::string(p));
  out["signed_head_problems"] = std::move(problems);
  if (!r.verified_at.empty()) out["verified_at"] = r.verified_at;
  if (r.against) {
    out["against"] = json::object{{"position", r.against->position},
                                  {"hash", r.against->hash},
                                  {"ok", r.against_problem.empty()},
                                  {"problem", r.against_problem}};
  }
  return out;
}

int PrintDigest(const OpsArgs& a) {
  Digest d;
  if (a.remote()) {
    auto digest = GetJson(a, "GET", "/v1/ledger/digest");
    if (!digest.ok()) return FailStatus(digest.status());
    d = {U64(*digest, "position"), Str(*digest, "hash")};
  } else {
    auto engine = OpenExisting(a.data_dir);
    if (!engine) return OpenFailureExit(a.data_dir);
    const Head head = engine->ledger().GetHead();
    d = {head.position, base::Hex(head.hash)};
  }
  const std::string text = std::to_string(d.position) + ":" + d.hash;
  if (a.json) {
    PrintJson(json::object{{"position", d.position}, {"hash", d.hash}, {"digest", text}});
  } else {
    std::cout << text << "\n";
  }
  return kExitOk;
}

int Verify(const OpsArgs& a) {
  if (!RemoteArgsOk(a)) return kExitUsage;
  if (a.digest) return PrintDigest(a);
  std::optional<Digest> against;
  if (!a.against.empty() && !(against = ParseDigest(a.against))) {
    return Complain(
        "--against takes POSITION:HASH as `cledger verify --digest` prints it, "
        "e.g. 1234:9f86d0…(64 hex digits)",
        kExitUsage);
  }
  std::unique_ptr<Engine> engine;
  if (!a.remote() && !(engine = OpenExisting(a.data_dir))) {
    return OpenFailureExit(a.data_dir);
  }
  std::optional<proofs::PublicKey> key;
  std::string key_note;
  if (!a.public_key.empty()) {
    auto given = PublicKeyArgument(a.public_key);
    if (!given.ok()) return Complain(given.status().message(), kExitUsage);
    key = *given;
  } else if (engine || !a.signing_key_file.empty()) {
    const std::string file =
        a.signing_key_file.empty() ? DefaultSigningKeyFile(a.data_dir) : a.signing_key_file;
    if (auto loaded = proofs::SigningKey::Load(file); loaded.ok()) {
      key = loaded->public_key();
    } else if (!a.signing_key_file.empty()) {
      return FailStatus(loaded.status());
    } else {
      key_note = "signatures of the signed heads NOT checked: no signing key at " + file +
                 " (--public-key or --signing-key-file)";
    }
  } else {
    // A server's own word for its signatures proves nothing: its key sits beside its log.
    key_note =
        "signatures of the signed heads NOT checked: give the ledger's public key you trust "
        "(--public-key, or --signing-key-file)";
  }
  auto result = engine ? VerifyOffline(*engine, key) : VerifyRemote(a, key);
  if (!result.ok()) return FailStatus(result.status());
  result->against = against;
  result->key_note = key_note;
  if (against && a.remote()) {
    if (Status s = CheckAgainstRemote(a, *result); !s.ok()) return FailStatus(s);
  } else if (against) {
    CheckAgainstOffline(*engine, *result);
  }
  if (a.json) {
    PrintJson(VerifyJson(*result));
  } else {
    PrintVerifyText(*result);
  }
  return result->ok() ? kExitOk : kExitFailed;
}

}  // namespace

void AddVerify(CLI::App& app, Runner& run, const std::shared_ptr<OpsArgs>& args) {
  auto* verify = app.add_subcommand(
      "verify", "Recompute the hash chain and compare every projection with a fresh fold");
  AddTarget(verify, *args);
  AddJson(verify, *args);
  auto* digest = verify->add_flag(
      "--digest", args->digest,
      "Only print the head digest POSITION:HASH, for an auditor to keep (fast; no check)");
  verify
      ->add_option("--against", args->against,
                   "Also prove the ledger still extends a digest taken earlier (POSITION:HASH)")
      ->excludes(digest);
  verify
      ->add_option("--signing-key-file", args->signing_key_file,
                   "The ledger's signing key: the log is held to every head signed with it "
                   "(default offline: <data>.signing-key)")
      ->type_name("FILE");
  verify
      ->add_option("--public-key", args->public_key,
                   "The ledger's public key you trust (hex), instead of its signing key file: "
                   "what an auditor holds; with --server, what checks the signatures")
      ->type_name("HEX");
  verify->footer(Footer(
      "  cledger verify --data ./data\n"
      "  cledger verify --digest --data ./data > digest.txt\n"
      "  cledger verify --against \"$(cat digest.txt)\" --data ./data\n"
      "  cledger verify --server http://127.0.0.1:8080 --token \"$OPS_TOKEN\" --public-key HEX\n"
      "Exit 0 only when the chain holds, every projection equals a fresh fold and (with\n"
      "--against) the ledger extends the digest; otherwise the first broken position or the\n"
      "projection and key that differ are named."));
  verify->callback([args, &run] { run = [args] { return Verify(*args); }; });
}

}  // namespace cledger::cli::ops
