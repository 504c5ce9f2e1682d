// A cluster node (docs/CLUSTER.md): every partition's ledger replicated from PostgreSQL, the
// log of record, into a local data directory; the partitions this node owns written through
// it; requests routed to the partition of their tenant, and appends to a partition another
// node owns forwarded there.
//
// Thread-safety: the router's methods may be called from many threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cledger/engine.h"
#include "engine/api/handlers.h"
#include "engine/cluster/pg.h"

namespace cledger::cluster {

struct NodeOptions {
  std::string dsn;        // the log of record (libpq DSN, several hosts allowed)
  std::string node;       // this node's name, unique in the cluster
  std::string advertise;  // the http://host:port other nodes forward appends to
  // The partitions' ledgers live in `ledger.path`/p<N>; every other option (master key,
  // signing key, sync) is shared by all of them.
  LedgerOptions ledger;
  int lease_ms = 3000;          // an owner silent this long loses its partitions
  int heartbeat_ms = 500;       // how often leases are renewed and expired ones looked for
  int catch_up_wait_ms = 5000;  // the longest a read waits for ?min_position
};

class Node final : public api::EngineRouter {
 public:
  static Result<std::unique_ptr<Node>> Start(NodeOptions options);
  ~Node() override;

  std::vector<Engine*> Engines() override;
  Result<Principal> Authenticate(const std::string& token) override;
  std::variant<Engine*, api::HttpResponse> Choose(const Principal& who, const api::Route& route,
                                                  const api::HttpRequest& request) override;
  bool RoutesBy(std::string_view name) const override {
    return name == "partition" || name == "min_position";
  }
  // A command waits for its partition's owner to be known, or is forwarded to it.
  bool MayBlock(const api::Route& route) const override;

  int partitions() const { return static_cast<int>(partitions_.size()); }
  // Whether this node owns partition `p` now.
  bool Owns(int p) const;
  // Waits until partition `p` has an owner; true when it is this node.
  bool AwaitOwner(int p, int timeout_ms);
  Engine& engine(int p) { return *partitions_[static_cast<size_t>(p)]->engine; }

 private:
  struct Partition {
    int index = 0;
    std::unique_ptr<Engine> engine;
    std::atomic<int64_t> epoch{0};  // > 0 while this node owns the partition
    std::mutex apply_mu;            // the follower's applies and a takeover's catch-up
    std::unique_ptr<Pg> writer_pg;  // the writer thread's connection
    std::thread follower;
    std::mutex owner_mu;
    std::string owner_url;  // the live owner's advertised URL, "" when none
    std::string owner;
    std::atomic<int> forwards{0};  // forwards to its owner in flight
  };

  class Connections;  // node.cc: kept connections to the owners
  explicit Node(NodeOptions options);
  Status OpenPartitions(int count);
  Status Replicate(Partition& p, const ReplicaGroup& group);
  Status AppendToLogOfRecord(Partition& p, int64_t epoch, const ReplicaGroup& group);
  void StepDown(Partition& p, const std::string& why);
  void FollowerLoop(Partition& p);
  // Applies what the log of record holds past the local head, one batch; how many events.
  Result<size_t> CatchUpOnce(Pg& pg, Partition& p);
  void LeaseLoop();
  void LeaseRound(Pg& pg);
  bool TryAcquire(Pg& pg, Partition& p);
  int PartitionOf(const Principal& who, const api::Route& route, const api::HttpRequest& request);
  int PartitionOfTenant(const std::string& tenant) const;
  api::HttpResponse Forward(Partition& p, const api::HttpRequest& request);
  std::variant<Engine*, api::HttpResponse> AwaitPosition(Partition& p,
                                                         const api::HttpRequest& request);

  NodeOptions options_;
  std::vector<std::unique_ptr<Partition>> partitions_;
  std::map<std::string, int> pinned_;  // tenants an import placed, read at start
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread leases_;
  std::unique_ptr<Connections> connections_;
  // Server pool threads (of 64) held by forwards to one partition's owner, and by reads
  // waiting for a position: a silent owner never holds the threads other partitions need.
  static constexpr int kForwardsMax = 16;
  static constexpr int kWaitingReadsMax = 8;
  std::atomic<int> waiting_reads_{0};
};

}  // namespace cledger::cluster
