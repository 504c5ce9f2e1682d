// cledger cluster init, and cledger serve --cluster: a node of a cluster whose log of record
// is PostgreSQL (docs/CLUSTER.md).
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>

#include "engine/api/server.h"
#include "engine/cluster/import.h"
#include "engine/cluster/node.h"
#include "engine/cluster/schema.h"
#include "tools/cledger/commands.h"

namespace cledger::cli {
namespace {

struct InitArgs {
  std::string dsn;
  int partitions = 2;
};

int Init(const InitArgs& args) {
  auto pg = cluster::Pg::Connect(args.dsn);
  if (!pg.ok()) {
    std::cerr << "cledger: " << pg.status().message() << "\n";
    return kExitUnavailable;
  }
  if (Status s = cluster::InitSchema(**pg, args.partitions); !s.ok()) {
    std::cerr << "cledger: " << s.message() << "\n";
    return s.code() == Code::kConflict ? kExitFailed : kExitUsage;
  }
  std::cout << "cluster ready: " << args.partitions << " partitions in "
            << cluster::DescribeDsn(args.dsn) << "\n"
            << "start each node with: cledger serve --data DIR --cluster DSN --node NAME "
               "--advertise http://HOST:PORT --listen HOST:PORT\n";
  return kExitOk;
}

struct ImportArgs {
  std::string dsn;
  std::string data_dir;
};

int Import(const ImportArgs& args) {
  auto pg = cluster::Pg::Connect(args.dsn);
  if (!pg.ok()) {
    std::cerr << "cledger: " << pg.status().message() << "\n";
    return kExitUnavailable;
  }
  cluster::ImportOptions options;
  options.data_dir = args.data_dir;
  options.key_store_dir = GlobalKeyLocations().key_store.empty() ? args.data_dir + ".keys"
                                                                 : GlobalKeyLocations().key_store;
  options.master_key_file = GlobalKeyLocations().master_key_file.empty()
                                ? args.data_dir + ".master-key"
                                : GlobalKeyLocations().master_key_file;
  uint64_t last = 0;
  options.progress = [&](uint64_t position) {
    last = position;
    std::cerr << "\rimported through position " << position << std::flush;
  };
  if (Status s = cluster::ImportLedger(**pg, options); !s.ok()) {
    std::cerr << "\ncledger: import failed: " << s.message() << "\n";
    return s.code() == Code::kConflict ? kExitFailed : kExitUnavailable;
  }
  std::cerr << "\n";
  std::cout << "imported " << last << " events into partition 0 (same positions and hashes); "
            << "its tenants are pinned there. Start the nodes with --master-key-file "
            << options.master_key_file << " (a copy on each)\n";
  return kExitOk;
}

}  // namespace

int ServeClusterNode(const ClusterServeArgs& args, const LedgerOptions& ledger,
                     const api::ServerOptions& server_options,
                     std::optional<int64_t> ops_token_ttl_s) {
  cluster::NodeOptions options;
  options.dsn = args.dsn;
  options.node = args.node;
  options.advertise = args.advertise;
  options.ledger = ledger;
  if (options.ledger.master_key_file.empty()) {
    options.ledger.master_key_file = GlobalKeyLocations().master_key_file.empty()
                                         ? ledger.path + ".master-key"
                                         : GlobalKeyLocations().master_key_file;
  }
  auto node = cluster::Node::Start(options);
  if (!node.ok()) {
    std::cerr << "cledger: cannot start the cluster node: " << node.status().message() << "\n";
    return kExitUnavailable;
  }
  api::Server server(**node, server_options);
  if (Status s = server.Start(); !s.ok()) {
    std::cerr << "cledger: cannot listen: " << s.message() << "\n";
    return kExitUnavailable;
  }
  std::cout << "Contact Ledger cluster node " << args.node << " is serving " << args.advertise
            << " (" << (*node)->partitions() << " partitions, data: " << ledger.path << ")\n";
  // Ops tokens live in partition 0: only its owner can issue one.
  if (ops_token_ttl_s) {
    if ((*node)->AwaitOwner(0, 10000)) {
      auto ops = (*node)->engine(0).Execute(OfflineOps(),
                                            IssueToken{"", args.node, "ops", *ops_token_ttl_s});
      if (!ops.ok()) {
        std::cerr << "cledger: cannot issue the ops token: " << ops.status().message() << "\n";
        return kExitFailed;
      }
      std::cout << "  ops token    " << ops->token << "  (any node accepts it)\n";
    } else {
      std::cout << "  no ops token: partition 0 is owned by another node; start that one with "
                   "--ops-token, or issue one through its API\n";
    }
  }
  std::cout << std::flush;
  server.Run();
  std::cout << "stopped\n";
  return kExitOk;
}

void AddCluster(CLI::App& app, Runner& run) {
  auto* cluster = app.add_subcommand("cluster", "A cluster whose log of record is PostgreSQL");
  cluster->require_subcommand(1);
  auto args = std::make_shared<InitArgs>();
  auto* init = cluster->add_subcommand(
      "init", "Create the cluster's tables (events, leases, nodes, tenants) in PostgreSQL");
  init->add_option("--pg", args->dsn, "libpq connection string of the PostgreSQL primary")
      ->required();
  init->add_option("--partitions", args->partitions, "How many partitions spread the tenants")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  init->footer(
      "Example:\n  cledger cluster init --pg 'host=db1,db2 dbname=cledger "
      "target_session_attrs=read-write' --partitions 2");
  init->callback([args, &run] { run = [args] { return Init(*args); }; });

  auto imports = std::make_shared<ImportArgs>();
  auto* import = cluster->add_subcommand(
      "import",
      "Push a closed single-node ledger into partition 0 of a new cluster, with the same "
      "positions, bytes and hashes (before any node starts)");
  import->add_option("--pg", imports->dsn, "libpq connection string of the PostgreSQL primary")
      ->required();
  import->add_option("--data", imports->data_dir, "The single-node data directory")->required();
  KeyStoreOption(import);
  import->footer(
      "Its master key (--master-key-file, default <data>.master-key) becomes the cluster's: "
      "give every node a copy.\nExample:\n  cledger cluster import --pg 'host=db1 "
      "dbname=cledger' --data ./data");
  import->callback([imports, &run] { run = [imports] { return Import(*imports);
};
}  // namespace cledger::cli
);
}

}  // namespace cledger::cli
