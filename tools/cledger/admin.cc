// Offline administration on a data directory: head, tenants, tokens.
#include <unistd.h>

#include <iostream>

#include "base/hex.h"
#include "base/time.h"
#include "cledger/ledger.h"
#include "tools/cledger/commands.h"

namespace cledger::cli {

// Commands that record no credential never create a master key: one made by a mistyped or
// read-only command would then be refused by the ledger's own, or taken for it.
std::unique_ptr<Engine> OpenOrExplain(const std::string& data_dir) {
  LedgerOptions options;
  options.path = data_dir;
  options.create_master_key = false;
  return OpenOrExplain(options);
}

KeyLocations& GlobalKeyLocations() {
  static KeyLocations locations;
  return locations;
}

void AddKeyLocationOptions(CLI::App& app) {
  app.add_option("--key-store", GlobalKeyLocations().key_store,
                 "The key store of personal data (the server's --key-store). Default: <data>.keys "
                 "beside the data directory")
      ->type_name("DIR");
  app.add_option("--master-key-file", GlobalKeyLocations().master_key_file,
                 "The master key (the server's --master-key-file). Default: <data>.master-key "
                 "beside the data directory")
      ->type_name("FILE");
}

void KeyStoreOption(CLI::App* cmd) {
  cmd->add_option("--key-store", GlobalKeyLocations().key_store,
                  "The key store of personal data. Default: <data>.keys beside the data "
                  "directory; one process at a time uses it")
      ->type_name("DIR");
}

std::unique_ptr<Engine> OpenOrExplain(const LedgerOptions& given) {
  LedgerOptions options = given;
  if (options.key_store_dir.empty()) options.key_store_dir = GlobalKeyLocations().key_store;
  if (options.master_key_file.empty()) {
    options.master_key_file = GlobalKeyLocations().master_key_file;
  }
  const std::string& data_dir = options.path;
  if (ExplainIfDamaged(data_dir)) return nullptr;
  auto engine = Engine::Open(options);
  if (!engine.ok()) {
    std::cerr << "cledger: cannot open " << data_dir << ": " << engine.status().message() << " ["
              << engine.status().reason() << "]\n";
    if (engine.status().reason() == "wal_damaged") {
      WalWasDamaged() = true;
      std::cerr << "To open it without the commits after the damage (their positions are "
                   "never reused): cledger recover --data "
                << data_dir << " --accept-wal-loss FILE, naming the file above\n";
    }
    if (engine.status().message().find("lock") != std::string::npos) {  // RocksDB's LOCK file
      std::cerr << "(is a server running on it? offline commands need the directory to "
                   "themselves)\n";
    }
    return nullptr;
  }
  return std::move(engine).value();
}

bool& WalWasDamaged() {
  static bool damaged = false;  // one command per process: the last open's verdict
  return damaged;
}

CommandContext OfflineOps() { return CommandContext{"", {"cli", "ops"}, {}, {}, {}}; }

namespace {

int Fail(const Status& status) {
  std::cerr << "cledger: " << status.message()
            << (status.field().empty() ? "" : " (" + status.field() + ")") << " ["
            << status.reason() << "]\n";
  return kExitFailed;
}

struct AdminArgs {
  std::string data_dir = "./data";
  std::string name;
  std::string plan = "standard";
  std::string tenant;
  std::string actor;
  std::string role;
  std::string token;
  std::string wal;
  std::string master_key_file;      // empty: beside the data directory
  std::string new_master_key_file;  // keys rotate
  std::string expires_in;           // token issue: a lifetime, e.g. 30d; empty: never expires
  bool every_tenant = true;         // token list: no --tenant given
};

// The token commands record or look up a token's keyed digest: they need the master key the
// server uses.
void MasterKeyOption(CLI::App* cmd, AdminArgs& args) {
  cmd->add_option("--master-key-file", args.master_key_file,
                  "The master key the server uses (cledger serve --master-key-file). Default: "
                  "<data>.master-key beside the data directory")
      ->type_name("FILE");
}

std::unique_ptr<Engine> OpenWithMasterKey(const AdminArgs& args) {
  LedgerOptions options;
  options.path = args.data_dir;
  options.master_key_file = args.master_key_file;
  return OpenOrExplain(options);
}

}  // namespace

void AddAdmin(CLI::App& app, Runner& run) {
  auto args = std::make_shared<AdminArgs>();
  auto data = [args](CLI::App* cmd) {
    cmd->add_option("--data", args->data_dir, "Data directory")->capture_default_str();
  };

  auto* head = app.add_subcommand("head", "Print the head position and hash of a data directory");
  data(head);
  head->footer(
      "Example:\n  cledger head --data ./data\n"
      "Exit codes: 0 printed · 1 a damaged ledger · 3 the data directory could not be opened.");
  head->callback([args, &run] {
    run = [args] {
      auto engine = OpenOrExplain(args->data_dir);
      if (!engine) return OpenFailureExit(args->data_dir);
      const Head h = engine->ledger().GetHead();
      std::cout << "position " << h.position << "\nhash " << base::Hex(h.hash) << "\n";
      return kExitOk;
    };
  });

  auto* recover = app.add_subcommand(
      "recover", "Open a ledger whose write-ahead log is damaged, accepting the loss it names");
  recover
      ->add_option("--accept-wal-loss", args->wal,
                   "The damaged write-ahead log file a refused open named, e.g. 000012.log")
      ->required();
  data(recover);
  recover->footer(
      "Every commit before the damage is kept; commits after it are lost. The positions they may\n"
      "have taken (up to those reserved on disk) are recorded as a gap that verify and readers\n"
      "understand, and are never given to another event. Copy the directory first; restoring a\n"
      "backup and re-running the lost commands is the alternative.\n"
      "Example:\n  cledger recover --data ./data --accept-wal-loss 000012.log\n"
      "Exit codes: 0 recovered · 1 a damaged ledger · 3 the data directory could not be opened ·\n"
      "4 the write-ahead log is damaged and the name does not match.");
  recover->callback([args, &run] {
    run = [args] {
      LedgerOptions options;
      options.path = args->data_dir;
      options.create_if_missing = false;
      options.accept_wal_loss = args->wal;
      auto engine = OpenOrExplain(options);
      if (!engine) return OpenFailureExit(args->data_dir);
      const VerifyReport report = engine->ledger().VerifyChain();
      std::cout << "head position " << report.head.position << "; " << report.events_checked
                << " events kept, " << report.lost_positions
                << " positions recorded as lost (never reused)\n";
      return report.ok ? kExitOk : kExitFailed;
    };
  });

  auto* tenant = app.add_subcommand("tenant", "Manage tenants (offline)");
  tenant->require_subcommand(1);
  auto* create = tenant->add_subcommand("create", "Create a tenant");
  create->add_option("name", args->name, "Tenant name: letters, digits, '-' or '_'")->required();
  create->add_option("--plan", args->plan, "free | standard")
      ->check(CLI::IsMember({"free", "standard"}))
      ->capture_default_str();
  data(create);
  create->footer("Example:\n  cledger tenant create acme --plan standard --data ./data");
  create->callback([args, &run] {
    run = [args] {
      auto engine = OpenOrExplain(args->data_dir);
      if (!engine) return OpenFailureExit(args->data_dir);
      auto outcome = engine->Execute(OfflineOps(), CreateTenant{args->name, args->plan});
      if (!outcome.ok()) return Fail(outcome.status());
      std::cout << "tenant " << args->name << " (" << args->plan << ") created at position "
                << outcome->last_position << "\n";
      return kExitOk;
    };
  });

  auto* token = app.add_subcommand("token", "Issue, list or revoke API tokens (offline)");
  token->require_subcommand(1);
  auto* issue =
      token->add_subcommand("issue", "Issue a bearer token; only a keyed digest of it is stored");
  issue->add_option("--tenant", args->tenant, "Tenant (omit with --role ops)");
  issue->add_option("--actor", args->actor, "Who acts with the token")->required();
  issue
      ->add_option("--role", args->role,
                   "owner | admin | manager | member | auditor | service | ops")
      ->required();
  data(issue);
  MasterKeyOption(issue, *args);
  issue
      ->add_option("--expires-in", args->expires_in,
                   "Lifetime: 90s, 15m, 12h, 30d (at most 10 years); default: never expires")
      ->type_name("TTL");
  issue->footer(
      "Prints the token itself; it is shown only this once. Piped, stdout holds only the token.\n"
      "Examples:\n  cledger token issue --data ./data --tenant acme --actor alice --role owner\n"
      "  TOKEN=$(cledger token issue --data ./data --actor root --role ops)");
  issue->callback([args, &run] {
    run = [args] {
      auto engine = OpenWithMasterKey(*args);
      if (!engine) return OpenFailureExit(args->data_dir);
      int64_t lifetime_s = 0;
      if (!args->expires_in.empty()) {
        auto parsed = base::ParseDurationSeconds(args->expires_in);
        if (!parsed) {
          std::cerr << "cledger: --expires-in takes a lifetime of at most 10 years: 90s, 15m, 12h "
                       "or 30d\n";
          return kExitUsage;
        }
        lifetime_s = *parsed;
      }
      auto outcome = engine->Execute(OfflineOps(),
                                     IssueToken{args->tenant, args->actor, args->role, lifetime_s});
      if (!outcome.ok()) return Fail(outcome.status());
      if (isatty(STDOUT_FILENO)) {
        std::cout << "token      " << outcome->token << "\ntoken hash " << outcome->token_hash
                  << "  (to revoke it)\n";
      } else {
        std::cout << outcome->token << "\n";
      }
      return kExitOk;
    };
  });
  auto* keys = app.add_subcommand("keys", "Manage the master key of a data directory (offline)");
  keys->require_subcommand(1);
  auto* rotate = keys->add_subcommand(
      "rotate", "Re-wrap every data key of the key store under a new master key");
  data(rotate);
  MasterKeyOption(rotate, *args);
  KeyStoreOption(rotate);
  rotate
      ->add_option("--new-master-key-file", args->new_master_key_file,
                   "The new master key: created (mode 0600) when missing")
      ->required()
      ->type_name("FILE");
  rotate->footer(
      "With the server stopped. Afterwards move NEW over the old master key file (or give "
      "--master-key-file NEW to every command) and destroy the old one.\nTokens are recorded under "
      "digests keyed by the master key: every token "
      "issued before must be issued again.\nExample:\n  cledger keys rotate --data ./data "
      "--new-master-key-file ./data.master-key.2");
  rotate->callback([args, &run] {
    run = [args] {
      auto engine = OpenWithMasterKey(*args);
      if (!engine) return OpenFailureExit(args->data_dir);
      auto rewrapped = engine->RotateMasterKey(args->new_master_key_file);
      if (!rewrapped.ok()) return Fail(rewrapped.status());
      std::cout << "re-wrapped " << *rewrapped << " data keys under " << args->new_master_key_file
                << "\nnext: move it over the old master key file, or give --master-key-file "
                << args->new_master_key_file
                << " to every command from now on; then issue the tokens again (cledger token "
                   "issue)\n";
      return kExitOk;
    };
  });

  auto* list = token->add_subcommand("list", "List the tokens not revoked: digests, never tokens");
  list->add_option("--tenant", args->tenant, "Only this tenant's tokens ('' for the ops tokens)")
      ->each([args](const std::string&) { args->every_tenant = false; });
  data(list);
  list->footer(
      "One line a token: digest, tenant (- for ops), actor, role, issued at, expires at (never).\n"
      "Example:\n  cledger token list --data ./data --tenant acme");
  list->callback([args, &run] {
    run = [args] {
      auto engine = OpenOrExplain(args->data_dir);
      if (!engine) return OpenFailureExit(args->data_dir);
      const Principal ops{"", OfflineOps().actor};
      auto tokens = engine->ListTokens(
          ops, args->every_tenant ? std::nullopt : std::optional<std::string>(args->tenant));
      if (!tokens.ok()) return Fail(tokens.status());
      for (const TokenInfo& t : *tokens) {
        std::cout << t.token_hash << "  " << (t.principal.tenant.empty() ? "-" : t.principal.tenant)
                  << "  " << t.principal.actor.id << "  " << t.principal.actor.role << "  "
                  << base::Rfc3339Micros(t.issued_at_us) << "  "
                  << (t.expires_at_us ? base::Rfc3339Micros(*t.expires_at_us) : "never") << "\n";
      }
      return kExitOk;
    };
  });
  auto* revoke = token->add_subcommand("revoke", "Revoke a token, given it or its hash");
  revoke->add_option("token", args->token, "The token or its hash")->required();
  data(revoke);
  MasterKeyOption(revoke, *args);
  revoke->footer("Example:\n  cledger token revoke --data ./data 3f2a…(token hash)");
  revoke->callback([args, &run] {
    run = [args] {
      auto engine = OpenWithMasterKey(*args);
      if (!engine) return OpenFailureExit(args->data_dir);
      const bool is_hash = args->token.size() == 64 && args->token.find('_') == std::string::npos;
      auto outcome = engine->Execute(
          OfflineOps(), is_hash ? RevokeToken{"", args->token} : RevokeToken{args->token, ""});
      if (!outcome.ok()) return Fail(outcome.status());
      std::cout << "revoked\n";
      return kExitOk;
    };
  });
}

}  // namespace cledger::cli
