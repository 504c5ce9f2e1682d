// cledger serve: the HTTP/JSON server on a data directory, over HTTPS when given a certificate.
#include <arpa/inet.h>
#include <netdb.h>
#include <spdlog/spdlog.h>

#include <boost/url/parse.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "base/hex.h"
#include "base/time.h"
#include "engine/api/server.h"
#include "tools/cledger/commands.h"

namespace cledger::cli {
namespace {

struct ServeArgs {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  bool bootstrap = false;
  int threads = 2;
  std::string signing_key_file;  // empty: beside the data directory
  std::string master_key_file;   // empty: beside the data directory
  std::string ops_token_ttl;     // empty: an ops token only at the first start, never expiring
  bool replace_master_key = false;
  std::vector<std::string> witness_keys;
  uint64_t min_free_mb = limits::kMinFreeBytesDefault >> 20;
  std::string tls_cert_file;  // both or neither: HTTPS
  std::string tls_key_file;
  ClusterServeArgs cluster;  // dsn empty: a single node
};

// Creates the demo tenant and its owner token; returns the owner token.
Result<std::string> Bootstrap(Engine& engine) {
  if (auto t = engine.Execute(OfflineOps(), CreateTenant{"demo", "standard"});
      !t.ok() && t.status().reason() != "tenant_exists") {
    return t.status();
  }
  auto owner = engine.Execute(OfflineOps(), IssueToken{"demo", "demo-owner", "owner"});
  if (!owner.ok()) return owner.status();
  return owner->token;
}

// The ops token this start issues: at the first start of a data directory (never expiring),
// or when --ops-token asks for one (expiring). Empty when none is issued.
Result<std::string> IssueOpsToken(Engine& engine, bool first_start, std::optional<int64_t> ttl_s) {
  if (!first_start && !ttl_s) return std::string();
  auto ops = engine.Execute(OfflineOps(), IssueToken{"", "serve", "ops", ttl_s.value_or(0)});
  if (!ops.ok()) return ops.status();
  return ops->token;
}

void PrintWelcome(const std::string& url, const std::string& data_dir, const Head& head,
                  const std::string& owner_token, const std::string& ops_token,
                  const std::string& ops_ttl) {
  std::cout << "Contact Ledger is serving " << url << "  (data: " << data_dir << ", head position "
            << head.position << ")\n\n";
  if (url.starts_with("https:")) {
    std::cout << "Clients must trust the certificate's issuer: curl --cacert FILE, "
                 "cledger --ca-file FILE for a private CA or a self-signed certificate.\n\n";
  }
  if (!owner_token.empty()) {
    std::cout << "Demo tenant \"demo\":\n  owner token  " << owner_token << "\n";
  }
  if (!ops_token.empty()) {
    std::cout << "  ops token    " << ops_token
              << "  (admin routes: tenants, tokens, backups, projections, stats; /metrics; "
              << (ops_ttl.empty() ? "never expires" : "expires in " + ops_ttl) << ")\n"
              << "Tokens are shown once; only keyed digests of them are stored.\n\n";
  } else {
    std::cout
        << "No ops token issued at this start (the first start printed one). Another:\n"
        << "  cledger serve --ops-token 12h …, or offline (this server stopped): cledger token "
           "issue --data "
        << data_dir << " --actor root --role ops\n\n";
  }
  if (!owner_token.empty()) {
    std::cout << "Try:\n  curl -s -X POST " << url << "/v1/customers \\\n"
              << "    -H 'Authorization: Bearer " << owner_token << "' \\\n"
              << "    -H 'Content-Type: application/json' \\\n"
              << "    -d '{\"name\": \"Acme Corp\", \"email\": \"ap@acme.test\"}'\n\n";
  }
  std::cout << "Stop with Ctrl-C (in-flight commands finish first).\n" << std::flush;
}

// Where --listen asks to listen.
struct Listen {
  std::string address;  // numeric, as the server binds it
  std::string host;     // as given, for the URL: an IPv6 address keeps its brackets
  uint16_t port = 0;
};

// The first address `name` resolves to, numeric; empty when it resolves to none.
std::string Resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0) return "";
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  char text[INET6_ADDRSTRLEN] = "";
  const sockaddr* address = found->ai_addr;
  const void* bytes =
      address->sa_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  return inet_ntop(address->sa_family, bytes, text, sizeof text) ? text : "";
}

// HOST:PORT as a URL's authority has it: HOST an IPv4 address, an IPv6 address in brackets
// or a name (resolved here, e.g. localhost); PORT 0 to 65535, 0 for any free port. Says on
// stderr what is wrong otherwise.
std::optional<Listen> ParseListen(const std::string& text) {
  auto authority = boost::urls::parse_authority(text);
  if (!authority || authority->has_userinfo() || !authority->has_port() ||
      authority->encoded_host().empty() ||
      authority->host_type() == boost::urls::host_type::ipvfuture) {
    std::cerr << "cledger: --listen takes HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080\n";
    return std::nullopt;
  }
  Listen listen;
  const std::string_view port = authority->port();
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), listen.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    std::cerr << "cledger: bad port in --listen " << text << "\n";
    return std::nullopt;
  }
  listen.host = authority->encoded_host();
  listen.address = authority->host_address();
  if (authority->host_type() == boost::urls::host_type::name) {
    listen.address = Resolve(listen.address);
    if (listen.address.empty()) {
      std::cerr << "cledger: cannot resolve the host in --listen " << text << "\n";
      return std::nullopt;
    }
  }
  return listen;
}

// Whether `address` (numeric) is one only this machine can reach: 127.0.0.0/8 or ::1, also
// as an IPv4-mapped IPv6 address.
bool IsLoopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  return IN6_IS_ADDR_LOOPBACK(&v6);
}

// Plain HTTP beyond this machine: bearer tokens, passwords and personal data cross the network
// readable by anyone on the path. Allowed (a TLS proxy in front is a fine setup), but said.
void WarnIfCleartextBeyondLoopback(const Listen& listen, const api::ServerOptions& options) {
  if (options.tls() || IsLoopback(listen.address)) return;
  // The log is stderr: one line, seen at start and kept with the log.
  spdlog::warn(
      "serving plain HTTP on {}, which is not a loopback address: tokens and personal data "
      "cross the network in clear. Serve HTTPS with --tls-cert FILE --tls-key FILE, or put a "
      "TLS proxy in front",
      listen.host);
}

int Serve(const ServeArgs& args) {
  const std::optional<Listen> listen = ParseListen(args.listen);
  if (!listen) return kExitUsage;
  std::optional<int64_t> ops_ttl_s;
  if (!args.ops_token_ttl.empty()) {
    ops_ttl_s = base::ParseDurationSeconds(args.ops_token_ttl);
    if (!ops_ttl_s) {
      std::cerr << "cledger: --ops-token takes a lifetime: 90s, 15m, 12h or 30d\n";
      return kExitUsage;
    }
  }
  api::ServerOptions options;
  options.host = listen->address;
  options.port = listen->port;
  options.threads = args.threads;
  options.handle_signals = true;
  options.tls_cert_file = args.tls_cert_file;
  options.tls_key_file = args.tls_key_file;
  // Before the ledger is opened: a bad certificate must not leave a bootstrapped tenant behind.
  if (Status s = api::CheckTls(options); !s.ok()) {
    std::cerr << "cledger: cannot serve HTTPS: " << s.message() << "\n";
    return kExitUsage;
  }
  WarnIfCleartextBeyondLoopback(*listen, options);
  LedgerOptions ledger;
  ledger.path = args.data_dir;
  ledger.min_free_bytes = args.min_free_mb << 20;
  ledger.on_storage_fault = [](const Status& s) { spdlog::warn("storage: {}", s.ToString()); };
  ledger.signing_key_file =
      args.signing_key_file.empty() ? DefaultSigningKeyFile(args.data_dir) : args.signing_key_file;
  ledger.witness_keys = args.witness_keys;
  ledger.master_key_file = args.master_key_file;
  ledger.replace_master_key = args.replace_master_key;
  if (!args.cluster.dsn.empty()) {
    if (options.tls()) {
      std::cerr << "cledger: a cluster node serves plain HTTP (forwarding speaks no TLS yet)\n";
      return kExitUsage;
    }
    return ServeClusterNode(args.cluster, ledger, options, ops_ttl_s);
  }
  auto engine = OpenOrExplain(ledger);
  if (!engine) return OpenFailureExit(args.data_dir);

  const bool first_start = engine->ledger().GetHead().position == 0;
  api::Server server(*engine, options);
  if (Status s = server.Start(); !s.ok()) {
    std::cerr << "cledger: cannot listen on " << args.listen << ": " << s.message() << "\n";
    return kExitUnavailable;
  }
  // Issued once the port is ours: no token is committed for a start that cannot serve, and
  // the next start of a ledger that never served is its first start still.
  std::string owner_token;
  if (args.bootstrap || first_start) {
    auto token = Bootstrap(*engine);
    if (!token.ok()) {
      std::cerr << "cledger: bootstrap failed: " << token.status().message() << "\n";
      return kExitFailed;
    }
    owner_token = *token;
  }
  auto ops = IssueOpsToken(*engine, first_start, ops_ttl_s);
  if (!ops.ok()) {
    std::cerr << "cledger: cannot issue the ops token: " << ops.status().message() << "\n";
    return kExitFailed;
  }
  const std::string url =
      (options.tls() ? "https://" : "http://") + listen->host + ":" + std::to_string(server.port());
  PrintWelcome(url, args.data_dir, engine->ledger().GetHead(), owner_token, *ops,
               args.ops_token_ttl);
  if (auto key = engine->PublicKey(); key.ok()) {
    std::cout << "Tree heads are signed with key " << proofs::KeyId(*key) << " ("
              << ledger.signing_key_file << "); its public key, for cledger proof verify "
              << "--public-key: " << base::Hex(*key) << "\n"
              << std::flush;
  }
  server.Run();
  std::cout << "stopped\n";
  return kExitOk;
}

}  // namespace

void AddServe(CLI::App& app, Runner& run) {
  auto args = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand("serve", "Serve the HTTP/JSON API and the live event stream");
  serve->add_option("--data", args->data_dir, "Data directory (created when missing)")
      ->capture_default_str();
  serve->add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve->add_flag("--bootstrap", args->bootstrap,
                  "Create the demo tenant and an owner token even if the ledger is not empty");
  serve->add_option("--threads", args->threads, "I/O threads")->capture_default_str();
  serve
      ->add_option("--min-free-mb", args->min_free_mb,
                   "Refuse writes (507, Retry-After) while the data directory's file system has "
                   "less free space than this, plus the commit group; 0: no check")
      ->capture_default_str();
  serve
      ->add_option("--signing-key-file", args->signing_key_file,
                   "Ed25519 key that signs the tree heads, kept outside the data directory; "
                   "created (mode 0600) when missing. Default: <data>.signing-key beside it")
      ->type_name("FILE");
  serve->add_flag("--replace-master-key", args->replace_master_key,
                  "The ledger's master key is lost: record the one given (or a new one) instead. "
                  "Tokens issued under the lost key stop authenticating; issue new ones");
  serve
      ->add_option("--ops-token", args->ops_token_ttl,
                   "Issue and print an ops token at this start that expires after TTL (90s, 15m, "
                   "12h, 30d). Without it only the first start of a data directory issues one, "
                   "which never expires")
      ->type_name("TTL");
  KeyStoreOption(serve);
  serve
      ->add_option("--master-key-file", args->master_key_file,
                   "32-byte key under which credentials are recorded (password hashes sealed, "
                   "tokens named by a keyed digest), kept outside the data directory and never "
                   "in a backup; created (mode 0600) when missing. Default: <data>.master-key "
                   "beside it. Keep it with the data: tokens issued under it need it")
      ->type_name("FILE");
  serve
      ->add_option("--witness-key", args->witness_keys,
                   "Hex public key of a witness whose cosignatures the ledger accepts and shows "
                   "on GET /v1/ledger/head (repeatable)")
      ->type_name("HEX");
  auto* cert = serve
                   ->add_option("--tls-cert", args->tls_cert_file,
                                "Serve HTTPS (TLS 1.2+) with this PEM certificate chain, the "
                                "server's own certificate first")
                   ->type_name("FILE");
  auto* key = serve
                  ->add_option("--tls-key", args->tls_key_file,
                               "The unencrypted PEM private key of --tls-cert")
                  ->type_name("FILE");
  cert->needs(key);
  key->needs(cert);
  auto* cluster = serve
                      ->add_option("--cluster", args->cluster.dsn,
                                   "Run as a node of the cluster whose log of record is this "
                                   "PostgreSQL (libpq DSN; list every host with "
                                   "target_session_attrs=read-write). See cledger cluster init")
                      ->type_name("DSN");
  auto* node = serve->add_option("--node", args->cluster.node, "This node's name in the cluster")
                   ->type_name("NAME");
  auto* advertise = serve
                        ->add_option("--advertise", args->cluster.advertise,
                                     "The http://HOST:PORT other nodes forward commands to")
                        ->type_name("URL");
  cluster->needs(node)->needs(advertise);
  node->needs(cluster);
  advertise->needs(cluster);
  serve->footer(
      "On an empty data directory it creates a demo tenant and prints an owner token and an ops\n"
      "token; later starts print an ops token only with --ops-token TTL. Without\n"
      "--tls-cert/--tls-key it serves plain HTTP, and warns when --listen is not a loopback\n"
      "address: tokens and personal data would cross the network in clear.\n"
      "With --cluster it runs a node of a cluster (cledger cluster init; docs/CLUSTER.md): no\n"
      "demo tenant, and an ops token only from the node that owns partition 0.\nExamples:\n"
      "  cledger serve --data ./data --listen 127.0.0.1:8080\n"
      "  cledger serve --data ./data --ops-token 12h   # a fresh ops token valid for 12 hours\n"
      "  cledger serve --data ./data --listen 0.0.0.0:8443 --tls-cert server.pem --tls-key "
      "server.key\n"
      "  cledger serve --data ./node1 --cluster 'host=db1,db2 dbname=cledger "
      "target_session_attrs=read-write' --node n1 --advertise http://10.0.0.11:8080 --listen "
      "10.0.0.11:8080\n"
      "Exit codes: 0 stopped · 1 the demo tenant or the ops token could not be made · 2 bad "
      "arguments · 3 the data directory could not be opened, or --listen could not be "
      "listened on.");
  serve->callback([args, &run] { run = [args] { return Serve(*args); }; });
}

}  // namespace cledger::cli
