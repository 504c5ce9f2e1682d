// cledger witness: someone outside the operator who holds the ledger to what it signed
// (docs/PROOFS.md, "Witnesses"). It pins the ledger's public key, keeps the last signed head
// it accepted, and takes a new head only when the signature verifies and a consistency proof
// shows the new tree extends the accepted one. A head that fails is evidence of a fork or a
// rewrite: it is kept in the state directory with the accepted head, and the witness stops
// with exit code 3. A head that passes is cosigned, so readers of GET /v1/ledger/head see
// that an independent party saw the same tree.
#include <fcntl.h>
#include <unistd.h>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "base/hex.h"
#include "base/time.h"
#include "cledger/json.h"
#include "cledger/proofs.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/remote.h"

namespace cledger::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using audit_tools::Printable;

constexpr int kExitAlarm = 3;
constexpr char kKeyFile[] = "witness.key";
constexpr char kLedgerKeyFile[] = "ledger.pub";
constexpr char kAcceptedFile[] = "accepted.json";
constexpr char kAlarmFile[] = "alarm.json";

struct WitnessArgs {
  std::string server;
  std::string token;
  std::string ca_file;  // https: a CA to trust besides the system's
  std::string state_dir;
  std::string ledger_key;  // hex; empty: pinned from the server at the first run
  bool once = false;
  bool print_key = false;
  uint64_t interval_ms = 5000;
};

// What the witness keeps between rounds, and between runs in its state directory.
struct State {
  fs::path dir;
  proofs::SigningKey key;
  std::optional<proofs::PublicKey> ledger_key;  // nullopt until pinned
  std::optional<proofs::TreeHead> accepted;
};

// Why a served head is refused.
struct Alarm {
  std::string reason;  // bad_signature, bad_root, tree_shrank, root_changed, inconsistent
  std::string detail;
  json::value proof = nullptr;  // the consistency proof that failed, if one did
};
using Verdict = std::optional<Alarm>;  // nullopt: the head may be accepted

int Fail(const std::string& what, int exit_code) {
  std::cerr << "cledger witness: " << what << "\n";
  return exit_code;
}

int FailStatus(const Status& s) {
  const bool usage = s.reason() == "invalid_key" || s.reason() == "key_mismatch" ||
                     s.reason() == "invalid_server" || s.reason() == "invalid_ca_file";
  return Fail(cli::Describe(s), usage ? kExitUsage : kExitFailed);
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Describe(const proofs::TreeHead& h) {
  return "size " + std::to_string(h.tree_size) + ", root " + base::Hex(h.root) + ", signed " +
         base::Rfc3339Micros(h.timestamp_us) + " by key " + Printable(h.key_id);
}

// The server's URL without any user:password in it, for messages and the alarm file.
std::string ServerName(const std::string& server) {
  auto parsed = boost::urls::parse_uri(server);
  if (parsed.has_error()) return "the server";
  boost::urls::url url(*parsed);
  url.remove_userinfo();
  return std::string(url.buffer());
}

// ---- the state directory -------------------------------------------------------------------

Status CannotWrite(const fs::path& path, int error) {
  return Status::IoError("cannot_write",
                         "cannot write " + path.string() + ": " + std::strerror(error));
}

bool WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// The rename itself is durable only once the directory that holds it is synced.
Status SyncDirectory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return CannotWrite(dir, errno);
  const int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error == 0 ? Status::Ok() : CannotWrite(dir, error);
}

// Written beside the target, synced, then renamed over it: after a crash the file holds the
// old text or the new one, never a part, so the witness never forgets a head it cosigned.
Status WriteAtomically(const fs::path& path, const std::string& text) {
  const std::string temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return CannotWrite(path, errno);
  int error = WriteAll(fd, text) && ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    return CannotWrite(path, error);
  }
  return SyncDirectory(path.parent_path());
}

std::optional<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status Damaged(const fs::path& path, const std::string& what) {
  return Status::Corruption("damaged_state", path.string() + " " + what +
                                                 " (restore it, or start a new state directory)");
}

// The state directory, made owner-only when this creates it: it holds the witness's key.
Result<proofs::SigningKey> OpenKey(const fs::path& dir) {
  std::error_code ec;
  if (fs::create_directories(dir, ec)) fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec) {
    return Status::IoError("state_dir", "cannot create " + dir.string() + ": " + ec.message());
  }
  return proofs::SigningKey::LoadOrCreate((dir / kKeyFile).string());
}

Result<std::optional<proofs::TreeHead>> LoadAccepted(const fs::path& dir) {
  const fs::path file = dir / kAcceptedFile;
  const std::optional<std::string> text = ReadText(file);
  if (!text) return std::optional<proofs::TreeHead>();
  auto o = api::ParseObject(*text);
  if (!o.ok()) return Damaged(file, "is not JSON");
  auto head = api::TreeHeadFromJson(*o);
  if (!head.ok()) return Damaged(file, "is not a signed head: " + head.status().message());
  return std::optional<proofs::TreeHead>(*head);
}

Status PinLedgerKey(const fs::path& dir, const proofs::PublicKey& key) {
  return WriteAtomically(dir / kLedgerKeyFile, base::Hex(key) + "\n");
}

// The key pinned in ledger.pub, which --ledger-key may repeat but never replace: a ledger's
// key does not change, and a witness that took another would vouch for another ledger.
Result<std::optional<proofs::PublicKey>> LoadLedgerKey(const WitnessArgs& a, const fs::path& dir) {
  std::optional<proofs::PublicKey> given;
  if (!a.ledger_key.empty() && !(given = proofs::PublicKeyFromHex(a.ledger_key))) {
    return Status::InvalidArgument("invalid_key",
                                   "--ledger-key takes the 64 hex digits of the "
                                   "ledger's public key (GET /v1/ledger/public-key)");
  }
  const fs::path file = dir / kLedgerKeyFile;
  const std::optional<std::string> text = ReadText(file);
  if (!text) return given;
  auto pinned = proofs::PublicKeyFromHex(text->substr(0, text->find_first_of(" \r\n")));
  if (!pinned) return Damaged(file, "does not hold a public key");
  if (given && *given != *pinned) {
    return Status::InvalidArgument(
        "key_mismatch", "--ledger-key (key id " + proofs::KeyId(*given) +
                            ") is not the key pinned in " + file.string() + " (key id " +
                            proofs::KeyId(*pinned) +
                            "); a witness holds one ledger to one key: use a new --state "
                            "directory for another ledger");
  }
  return pinned;
}

Result<State> OpenState(const WitnessArgs& a) {
  const fs::path dir(a.state_dir);
  auto key = OpenKey(dir);
  if (!key.ok()) return key.status();
  auto ledger_key = LoadLedgerKey(a, dir);
  if (!ledger_key.ok()) return ledger_key.status();
  if (*ledger_key && !fs::exists(dir / kLedgerKeyFile)) {
    if (Status s = PinLedgerKey(dir, **ledger_key); !s.ok()) return s;
  }
  auto accepted = LoadAccepted(dir);
  if (!accepted.ok()) return accepted.status();
  return State{dir, *key, *ledger_key, *accepted};
}

// ---- the server ----------------------------------------------------------------------------

Result<json::object> GetObject(const WitnessArgs& a, const std::string& target) {
  auto reply = Remote({a.server, a.token, a.ca_file}, "GET", target);
  if (!reply.ok()) return reply.status();
  auto o = api::ParseObject(reply->body);
  if (!o.ok()) {
    return Status::IoError("bad_reply", "the server's reply to " + target + " is not JSON");
  }
  return o;
}

Result<proofs::PublicKey> FetchLedgerKey(const WitnessArgs& a) {
  auto reply = GetObject(a, "/v1/ledger/public-key");
  if (!reply.ok()) return reply.status();
  const json::value* hex = reply->if_contains("public_key");
  auto key = hex && hex->is_string() ? proofs::PublicKeyFromHex(hex->as_string()) : std::nullopt;
  if (!key) return Status::IoError("bad_reply", "the server sent no public key");
  return *key;
}

// Without --ledger-key the first run trusts the server's key, and says so: the operator should
// compare it with a key published elsewhere.
Status PinFromServer(const WitnessArgs& a, State& state) {
  auto key = FetchLedgerKey(a);
  if (!key.ok()) return key.status();
  if (Status s = PinLedgerKey(state.dir, *key); !s.ok()) return s;
  state.ledger_key = *key;
  std::cerr << "cledger witness: pinned the ledger key the server gave (key id "
            << proofs::KeyId(*key) << ") in " << (state.dir / kLedgerKeyFile).string()
            << "; compare it with the key the operator publishes\n";
  return Status::Ok();
}

// ---- checking a head -----------------------------------------------------------------------

Result<Verdict> CheckConsistency(const WitnessArgs& a, const proofs::TreeHead& old,
                                 const proofs::TreeHead& head) {
  auto proof = GetObject(a, "/v1/ledger/proofs/consistency?from=" + std::to_string(old.tree_size) +
                                "&to=" + std::to_string(head.tree_size));
  if (!proof.ok()) return proof.status();
  const json::value* path_json = proof->if_contains("consistency_path");
  auto path = api::HashesFromJson(path_json ? *path_json : json::value(), "consistency_path");
  if (!path.ok()) return path.status();
  // The sizes are the ones asked for, whatever the reply claims.
  if (proofs::VerifyConsistency(old.tree_size, head.tree_size, old.root, head.root, *path)) {
    return Verdict();
  }
  return Verdict(Alarm{"inconsistent",
                       "the consistency proof from the accepted head does not verify: the first " +
                           std::to_string(old.tree_size) +
                           " events are not the ones the accepted head signed",
                       std::move(*proof)});
}

// Whether `head` may follow what was accepted. A proof that cannot be fetched is a Status, no
// evidence of anything: only what the ledger signed, or proved, raises an alarm.
Result<Verdict> Check(const WitnessArgs& a, const State& state, const proofs::TreeHead& head) {
  if (!proofs::VerifyTreeHead(head, *state.ledger_key)) {
    return Verdict(Alarm{"bad_signature", "its signature does not verify under the pinned key " +
                                              proofs::KeyId(*state.ledger_key)});
  }
  if (head.tree_size == 0 && head.root != proofs::EmptyRoot()) {
    return Verdict(Alarm{"bad_root", "a tree of size 0 has the empty tree's root, not this one"});
  }
  if (!state.accepted) return Verdict();
  const proofs::TreeHead& old = *state.accepted;
  if (head.tree_size < old.tree_size) {
    return Verdict(Alarm{"tree_shrank", "the tree is smaller than the accepted one"});
  }
  if (head.tree_size == old.tree_size) {
    if (head.root == old.root) return Verdict();
    return Verdict(Alarm{"root_changed", "the same tree size with another root"});
  }
  if (old.tree_size == 0) return Verdict();  // every tree extends the empty one
  return CheckConsistency(a, old, head);
}

int RaiseAlarm(const WitnessArgs& a, const State& state, const proofs::TreeHead& head,
               const json::object& served, const Alarm& alarm) {
  const json::value accepted =
      state.accepted ? json::value(api::ToJson(*state.accepted)) : json::value(nullptr);
  const json::object doc{{"format", "contact-ledger-witness-alarm/v1"},
                         {"reason", alarm.reason},
                         {"detail", alarm.detail},
                         {"detected_at", base::Rfc3339Micros(NowMicros())},
                         {"server", ServerName(a.server)},
                         {"ledger_public_key", base::Hex(*state.ledger_key)},
                         {"accepted", accepted},
                         {"served", served},
                         {"consistency_proof", alarm.proof}};
  const fs::path file = state.dir / kAlarmFile;
  const Status written = WriteAtomically(file, json::serialize(doc) + "\n");
  std::cerr << "cledger witness: ALARM [" << alarm.reason << "]: the ledger at "
            << ServerName(a.server) << " served a head this witness refuses: " << alarm.detail
            << ". Its history was forked or rewritten, or it signs with another key.\n"
            << "  accepted head: " << (state.accepted ? Describe(*state.accepted) : "none yet")
            << "\n  served head:   " << Describe(head) << "\n"
            << (written.ok() ? "  evidence:      " + file.string()
                             : "  the evidence could not be kept: " + written.message())
            << "\n";
  return kExitAlarm;
}

// ---- accepting a head ----------------------------------------------------------------------

bool ShowsCosignature(const json::object& served, const std::string& key_id) {
  const json::value* list = served.if_contains("cosignatures");
  if (list == nullptr || !list->is_array()) return false;
  for (const json::value& c : list->as_array()) {
    const json::value* id = c.is_object() ? c.as_object().if_contains("key_id") : nullptr;
    if (id && id->is_string() && id->as_string() == key_id) return true;
  }
  return false;
}

// Posts the witness's cosignature unless the head already shows it. A refusal says nothing
// against the ledger (the server may not list this witness yet), so it is a warning.
std::string Cosign(const WitnessArgs& a, const State& state, const proofs::TreeHead& head,
                   const json::object& served) {
  if (ShowsCosignature(served, state.key.key_id())) return "already cosigned";
  const proofs::Signature signature =
      state.key.Sign(proofs::TreeHeadMessage(head.tree_size, head.root, head.timestamp_us));
  const json::object body{{"head", api::ToJson(head)},
                          {"key_id", state.key.key_id()},
                          {"signature", base::Hex(signature)}};
  auto reply = Remote({a.server, a.token, a.ca_file}, "POST", "/v1/ledger/cosignatures",
                      json::serialize(body));
  if (reply.ok()) return "cosigned";
  const Status& s = reply.status();
  // The server wrote that message: never let it drive the terminal.
  std::cerr << "cledger witness: warning: the cosignature was not taken: " << Printable(s.message())
            << " [" << Printable(s.reason()) << "]";
  if (s.reason() == "unknown_witness") {
    std::cerr << "; the server accepts it once started with --witness-key "
              << base::Hex(state.key.public_key());
  }
  std::cerr << "\n";
  return "not cosigned";
}

int Accept(const WitnessArgs& a, State& state, const proofs::TreeHead& head,
           const json::object& served) {
  // The same tree signed again later (e.g. after a restart) is a newer head of it.
  const bool newer = !state.accepted || head.tree_size > state.accepted->tree_size ||
                     head.timestamp_us > state.accepted->timestamp_us;
  if (newer) {
    const std::string text = json::serialize(api::ToJson(head)) + "\n";
    if (Status s = WriteAtomically(state.dir / kAcceptedFile, text); !s.ok()) return FailStatus(s);
    state.accepted = head;
  }
  const std::string cosigned = Cosign(a, state, head, served);
  if (newer) {
    std::cout << "accepted head " << Describe(head) << "; " << cosigned << "\n" << std::flush;
  } else if (a.once) {
    std::cout << "unchanged head of size " << head.tree_size << "; " << cosigned << "\n";
  }
  return kExitOk;
}

// One round: kExitOk, kExitFailed (said on stderr) or kExitAlarm.
int Round(const WitnessArgs& a, State& state) {
  if (!state.ledger_key) {
    if (Status s = PinFromServer(a, state); !s.ok()) return FailStatus(s);
  }
  auto served = GetObject(a, "/v1/ledger/head");
  if (!served.ok()) return FailStatus(served.status());
  auto head = api::TreeHeadFromJson(*served);
  if (!head.ok()) return FailStatus(head.status());
  auto verdict = Check(a, state, *head);
  if (!verdict.ok()) return FailStatus(verdict.status());
  if (*verdict) return RaiseAlarm(a, state, *head, *served, **verdict);
  return Accept(a, state, *head, *served);
}

// ---- the command ---------------------------------------------------------------------------

int PrintKey(const WitnessArgs& a) {
  auto key = OpenKey(a.state_dir);
  if (!key.ok()) return FailStatus(key.status());
  std::cout << base::Hex(key->public_key()) << "\n";
  return kExitOk;
}

// An alarm is evidence: it stays, and keeps the witness stopped, until someone looks at it.
int AlarmStands(const fs::path& file) {
  return Fail("an alarm stands: " + file.string() +
                  " holds the heads that disagree. Investigate, then move the file away to let "
                  "this witness go on",
              kExitAlarm);
}

int Witness(const WitnessArgs& a) {
  if (a.state_dir.empty()) return Fail("--state DIR is required", kExitUsage);
  if (a.print_key) return PrintKey(a);
  if (a.server.empty() || a.token.empty()) {
    return Fail("--server URL and --token T (or CLEDGER_TOKEN) are required", kExitUsage);
  }
  const fs::path alarm = fs::path(a.state_dir) / kAlarmFile;
  if (std::error_code ec; fs::exists(alarm, ec)) return AlarmStands(alarm);
  auto state = OpenState(a);
  if (!state.ok()) return FailStatus(state.status());
  for (;;) {
    const int code = Round(a, *state);
    if (a.once || code == kExitAlarm) return code;
    std::this_thread::sleep_for(std::chrono::milliseconds(a.interval_ms));
  }
}

constexpr char kFooter[] =
    "The state directory keeps witness.key (this witness's Ed25519 key, mode 0600), ledger.pub\n"
    "(the ledger's key, pinned at the first run), accepted.json (the last head accepted) and,\n"
    "after an alarm, alarm.json (both heads and the proof). A head is refused when its\n"
    "signature does not verify, its tree is smaller than the accepted one, it has another root\n"
    "at the same size, or its consistency proof from the accepted head does not verify.\n"
    "Examples:\n"
    "  cledger witness --print-key --state ./witness   # then: cledger serve --witness-key HEX\n"
    "  cledger witness --server http://127.0.0.1:8080 --token \"$TOKEN\" --state ./witness\n"
    "  cledger witness --server http://ledger.internal:8080 --token \"$TOKEN\" --state ./w \\\n"
    "      --ledger-key HEX --once   # from cron, pinning the key the operator published\n"
    "Exit codes: 0 ok (--once) · 1 the server could not be reached, its certificate did not\n"
    "verify, or it answered wrongly, or the\n"
    "state directory could not be used · 2 bad arguments, or --ledger-key differs from the\n"
    "pinned key · 3 ALARM: a refused head (see alarm.json), or an alarm still stands.";

}  // namespace

void AddWitness(CLI::App& app, Runner& run) {
  auto a = std::make_shared<WitnessArgs>();
  auto* cmd = app.add_subcommand(
      "witness", "Watch a ledger's signed heads, prove each extends the last, and cosign them");
  auto* server = cmd->add_option(
      "--server", a->server,
      "The ledger's server, e.g. http://127.0.0.1:8080 or https://ledger.example:8443");
  AddToken(cmd, a->token, "A token that reads events");
  AddCaFile(cmd, a->ca_file)->needs(server);
  cmd->add_option("--state", a->state_dir, "This witness's own directory (created when missing)")
      ->type_name("DIR");
  cmd->add_option("--ledger-key", a->ledger_key,
                  "The ledger's public key to pin at the first run, instead of the server's")
      ->type_name("HEX");
  cmd->add_flag("--once", a->once, "One round, then exit");
  cmd->add_option("--interval-ms", a->interval_ms, "Time between rounds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--print-key", a->print_key,
                "Print this witness's public key (hex) for `cledger serve --witness-key`");
  cmd->footer(kFooter);
  cmd->callback([a, &run] { run = [a] { return Witness(*a); }; });
}

}  // namespace cledger::cli
