// Administration: head, recover and keys on a data directory; tenants and tokens on one or,
// with --server, through a running server's admin routes.
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <functional>
#include <iostream>

#include "base/hex.h"
#include "base/key_file.h"
#include "base/time.h"
#include "cledger/ledger.h"
#include "tools/cledger/audit_common.h"
#include "tools/cledger/commands.h"
#include "tools/cledger/ops_common.h"
#include "tools/cledger/remote.h"

namespace cledger::cli {

namespace json = boost::json;

// Commands that record no credential never create a master key: one made by a mistyped or
// read-only command would then be refused by the ledger's own, or taken for it.
// Nor a ledger: a mistyped --data must not make an empty one and answer from it.
std::unique_ptr<Engine> OpenOrExplain(const std::string& data_dir) {
  LedgerOptions options;
  options.path = data_dir;
  options.create_master_key = false;
  options.create_if_missing = false;
  return OpenOrExplain(options);
}

// Escaped: a message may echo what was typed (an id, a name), control characters and all.
std::string Describe(const Status& status) {
  return audit_tools::Printable(status.message()) +
         (status.field().empty() ? "" : " (field " + status.field() + ")") + " [" +
         status.reason() + "]";
}

Status TenantExists(Engine& engine, const std::string& tenant) {
  auto tenants = engine.Tenants(Principal{"", OfflineOps().actor});
  if (!tenants.ok()) return tenants.status();
  if (std::any_of(tenants->begin(), tenants->end(),
                  [&](const TenantView& t) { return t.name == tenant; })) {
    return Status::Ok();
  }
  return Status::NotFound("tenant_not_found", "no tenant '" + tenant + "'");
}

KeyLocations& GlobalKeyLocations() {
  static KeyLocations locations;
  return locations;
}

KeyLocations KeyLocationsOf(const std::string& data_dir) {
  KeyLocations where = GlobalKeyLocations();
  if (where.key_store.empty()) where.key_store = base::BesideDirectory(data_dir, ".keys");
  if (where.master_key_file.empty()) {
    where.master_key_file = base::BesideDirectory(data_dir, ".master-key");
  }
  return where;
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
  std::error_code ec;
  if (!options.create_if_missing && !std::filesystem::exists(data_dir + "/CURRENT", ec)) {
    std::cerr << "cledger: no ledger in " << data_dir
              << " (give --data the directory `cledger serve` uses; --create starts a new ledger "
                 "where a command offers it)\n";
    return nullptr;
  }
  auto engine = Engine::Open(options);
  // RocksDB's LOCK file: held by another process, most likely a server on the directory.
  if (!engine.ok() && engine.status().message().find("/LOCK: ") != std::string::npos) {
    std::cerr << "cledger: " << data_dir
              << " is in use by another process (a running cledger serve?): stop it first, or "
                 "give --server URL --token TOKEN instead of --data where a command takes them\n";
    return nullptr;
  }
  if (!engine.ok()) {
    std::cerr << "cledger: cannot open " << data_dir << ": " << engine.status().message() << " ["
              << engine.status().reason() << "]\n";
    if (engine.status().reason() == "wal_damaged") {
      WalWasDamaged() = true;
      std::cerr << "To open it without the commits after the damage (their positions are "
                   "never reused): cledger recover --data "
                << data_dir << " --accept-wal-loss FILE, naming the file above\n";
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
  std::cerr << "cledger: " << Describe(status) << "\n";
  // A value the ledger refuses (a role, a tenant's name) is a bad argument, as a bad option is.
  return status.code() == Code::kInvalidArgument ? kExitUsage : kExitFailed;
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
  bool create = false;              // tenant create, token issue: a new ledger if none
  RemoteServer server;              // --server: through the admin routes instead
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
  options.create_if_missing = args.create;
  return OpenOrExplain(options);
}

// A field of a server's reply, made printable: a hostile server cannot drive the terminal.
std::string Text(const json::object& o, const char* key) {
  const json::value* found = o.if_contains(key);
  if (found == nullptr || found->is_null()) return "";
  const std::string text =
      found->is_string() ? std::string(found->as_string()) : json::serialize(*found);
  return audit_tools::Printable(text);
}

// The items of a list route's reply.
Result<std::vector<json::object>> List(const AdminArgs& args, const std::string& target) {
  auto reply = RemoteJson(args.server, "GET", target);
  if (!reply.ok()) return reply.status();
  return ItemsOf(*reply);
}

// Runs `online` with --server (after checking there is a token), else `offline`.
int OnlineOr(const AdminArgs& args, const std::function<int()>& online,
             const std::function<int()>& offline) {
  if (args.server.url.empty()) return offline();
  if (args.server.token.empty()) {
    std::cerr << "cledger: --server needs an ops token: --token T or CLEDGER_TOKEN\n";
    return kExitUsage;
  }
  return online();
}

void PrintIssued(const std::string& token, const std::string& token_hash) {
  if (isatty(STDOUT_FILENO)) {
    std::cout << "token      " << token << "\ntoken hash " << token_hash << "  (to revoke it)\n";
  } else {
    std::cout << token << "\n";
  }
}

void PrintToken(const TokenInfo& t) {
  std::cout << t.token_hash << "  " << (t.principal.tenant.empty() ? "-" : t.principal.tenant)
            << "  " << t.principal.actor.id << "  " << t.principal.actor.role << "  "
            << base::Rfc3339Micros(t.issued_at_us) << "  "
            << (t.expires_at_us ? base::Rfc3339Micros(*t.expires_at_us) : "never") << "\n";
}

}  // namespace

void AddAdmin(CLI::App& app, Runner& run) {
  auto args = std::make_shared<AdminArgs>();
  auto data = [args](CLI::App* cmd) {
    return cmd->add_option("--data", args->data_dir, "Data directory")->capture_default_str();
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

  const std::string ops_token = "Ops token";
  auto* tenant = app.add_subcommand("tenant", "Create and list tenants (offline or --server)");
  tenant->require_subcommand(1);
  auto* create = tenant->add_subcommand("create", "Create a tenant");
  create->add_option("name", args->name, "Tenant name: letters, digits, '-' or '_'")->required();
  create->add_option("--plan", args->plan, "free | standard")
      ->check(CLI::IsMember({"free", "standard"}))
      ->capture_default_str();
  create->add_flag("--create", args->create, "Start a new ledger in --data if it holds none");
  AddServerOptions(create, args->server, data(create), ops_token);
  create->footer(
      "Examples:\n  cledger tenant create acme --plan standard --data ./data --create\n"
      "  cledger tenant create acme --server http://127.0.0.1:8080 --token $OPS_TOKEN");
  create->callback([args, &run] {
    run = [args] {
      auto say = [&](const std::string& where) {
        std::cout << "tenant " << args->name << " (" << args->plan << ") created" << where << "\n";
        return kExitOk;
      };
      return OnlineOr(
          *args,
          [&] {
            auto made = RemoteJson(
                args->server, "POST", "/v1/admin/tenants",
                json::serialize(json::object{{"name", args->name}, {"plan", args->plan}}));
            return made.ok() ? say("") : ops::FailStatus(made.status());
          },
          [&] {
            LedgerOptions options;
            options.path = args->data_dir;
            options.create_master_key = false;
            options.create_if_missing = args->create;
            auto engine = OpenOrExplain(options);
            if (!engine) return OpenFailureExit(args->data_dir);
            auto outcome = engine->Execute(OfflineOps(), CreateTenant{args->name, args->plan});
            if (!outcome.ok()) return Fail(outcome.status());
            return say(" at position " + std::to_string(outcome->last_position));
          });
    };
  });
  auto* tenants = tenant->add_subcommand("list", "List the tenants: name and plan");
  AddServerOptions(tenants, args->server, data(tenants), ops_token);
  tenants->footer("Example:\n  cledger tenant list --data ./data");
  tenants->callback([args, &run] {
    run = [args] {
      auto print = [](const std::string& name, const std::string& plan) {
        std::cout << name << "  " << plan << "\n";
      };
      return OnlineOr(
          *args,
          [&] {
            auto listed = List(*args, "/v1/admin/tenants");
            if (!listed.ok()) return ops::FailStatus(listed.status());
            for (const json::object& t : *listed) {
              print(Text(t, "name"), Text(t, "plan"));
            }
            return kExitOk;
          },
          [&] {
            auto engine = OpenOrExplain(args->data_dir);
            if (!engine) return OpenFailureExit(args->data_dir);
            auto all = engine->Tenants(Principal{"", OfflineOps().actor});
            if (!all.ok()) return Fail(all.status());
            for (const TenantView& t : *all) print(t.name, t.plan);
            return kExitOk;
          });
    };
  });

  auto* token =
      app.add_subcommand("token", "Issue, list or revoke API tokens (offline or --server)");
  token->require_subcommand(1);
  auto* issue =
      token->add_subcommand("issue", "Issue a bearer token; only a keyed digest of it is stored");
  issue->add_option("--tenant", args->tenant, "Tenant (omit with --role ops)");
  issue->add_option("--actor", args->actor, "Who acts with the token")->required();
  issue
      ->add_option("--role", args->role,
                   "owner | admin | manager | member | auditor | service | ops")
      ->required();
  MasterKeyOption(issue, *args);
  issue
      ->add_option("--expires-in", args->expires_in,
                   "Lifetime: 90s, 15m, 12h, 30d (at most 10 years); default: never expires")
      ->type_name("TTL");
  issue->add_flag("--create", args->create, "Start a new ledger in --data if it holds none");
  AddServerOptions(issue, args->server, data(issue), ops_token);
  issue->footer(
      "Prints the token itself; it is shown only this once. Piped, stdout holds only the token.\n"
      "Examples:\n  cledger token issue --data ./data --tenant acme --actor alice --role owner\n"
      "  TOKEN=$(cledger token issue --data ./data --actor root --role ops)\n"
      "  cledger token issue --server http://127.0.0.1:8080 --token $OPS_TOKEN --tenant acme \\\n"
      "      --actor audrey --role auditor --expires-in 30d");
  issue->callback([args, &run] {
    run = [args] {
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
      return OnlineOr(
          *args,
          [&] {
            json::object body{{"actor", args->actor}, {"role", args->role}};
            if (!args->tenant.empty()) body["tenant"] = args->tenant;
            if (!args->expires_in.empty()) body["expires_in"] = args->expires_in;
            auto issued =
                RemoteJson(args->server, "POST", "/v1/admin/tokens", json::serialize(body));
            if (!issued.ok()) return ops::FailStatus(issued.status());
            PrintIssued(Text(*issued, "token"), Text(*issued, "token_hash"));
            return kExitOk;
          },
          [&] {
            auto engine = OpenWithMasterKey(*args);
            if (!engine) return OpenFailureExit(args->data_dir);
            auto outcome = engine->Execute(
                OfflineOps(), IssueToken{args->tenant, args->actor, args->role, lifetime_s});
            if (!outcome.ok()) return Fail(outcome.status());
            PrintIssued(outcome->token, outcome->token_hash);
            return kExitOk;
          });
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
      // Rotated all the same: only the old wrappings' removal from the files is left.
      const bool kept = !rewrapped.ok() && rewrapped.status().reason() == "old_wrappings_kept";
      if (!rewrapped.ok() && !kept) return Fail(rewrapped.status());
      if (kept) std::cerr << "warning: " << cli::Describe(rewrapped.status()) << "\n";
      std::cout << (kept ? "rotated" : "re-wrapped " + std::to_string(*rewrapped) + " data keys")
                << " under " << args->new_master_key_file
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
  AddServerOptions(list, args->server, data(list), ops_token);
  list->footer(
      "One line a token: digest, tenant (- for ops), actor, role, issued at, expires at (never).\n"
      "Example:\n  cledger token list --data ./data --tenant acme");
  list->callback([args, &run] {
    run = [args] {
      const auto tenant =
          args->every_tenant ? std::nullopt : std::optional<std::string>(args->tenant);
      return OnlineOr(
          *args,
          [&] {
            // "?tenant=" (the ops tokens) is not "no tenant given" (every token).
            const std::string query =
                tenant ? (tenant->empty() ? "?tenant=" : QueryString({{"tenant", *tenant}})) : "";
            auto listed = List(*args, "/v1/admin/tokens" + query);
            if (!listed.ok()) return ops::FailStatus(listed.status());
            for (const json::object& t : *listed) {
              const std::string expires = Text(t, "expires_at");
              std::cout << Text(t, "token_hash") << "  "
                        << (Text(t, "tenant").empty() ? "-" : Text(t, "tenant")) << "  "
                        << Text(t, "actor") << "  " << Text(t, "role") << "  "
                        << Text(t, "issued_at") << "  " << (expires.empty() ? "never" : expires)
                        << "\n";
            }
            return kExitOk;
          },
          [&] {
            auto engine = OpenOrExplain(args->data_dir);
            if (!engine) return OpenFailureExit(args->data_dir);
            auto tokens = engine->ListTokens(Principal{"", OfflineOps().actor}, tenant);
            if (!tokens.ok()) return Fail(tokens.status());
            for (const TokenInfo& t : *tokens) PrintToken(t);
            return kExitOk;
          });
    };
  });
  auto* revoke = token->add_subcommand("revoke", "Revoke a token, given it or its hash");
  revoke->add_option("token", args->token, "The token or its hash (only its hash with --server)")
      ->required();
  MasterKeyOption(revoke, *args);
  AddServerOptions(revoke, args->server, data(revoke), ops_token);
  revoke->footer(
      "Examples:\n  cledger token revoke --data ./data 3f2a…(token hash)\n"
      "  cledger token revoke --server http://127.0.0.1:8080 --token $OPS_TOKEN 3f2a…");
  revoke->callback([args, &run] {
    run = [args] {
      const bool is_hash = args->token.size() == 64 && args->token.find('_') == std::string::npos;
      const int revoked = OnlineOr(
          *args,
          [&] {
            if (!is_hash) {
              std::cerr << "cledger: with --server, give the token's hash (cledger token list)\n";
              return kExitUsage;
            }
            auto done =
                Remote(args->server, "DELETE", "/v1/admin/tokens/" + PathSegment(args->token));
            return done.ok() ? kExitOk : ops::FailStatus(done.status());
          },
          [&] {
            auto engine = OpenWithMasterKey(*args);
            if (!engine) return OpenFailureExit(args->data_dir);
            auto outcome = engine->Execute(OfflineOps(), is_hash ? RevokeToken{"", args->token}
                                                                 : RevokeToken{args->token, ""});
            return outcome.ok() ? kExitOk : Fail(outcome.status());
          });
      if (revoked == kExitOk) std::cout << "revoked\n";
      return revoked;
    };
  });
}

}  // namespace cledger::cli
