// Erasure of personal data (FORMAT.md, "Personal data"): the event that records it, the data
// key destroyed, every plaintext copy in the data directory rewritten away, and a certificate
// signed with the ledger's key. A restored backup that predates an erasure gets it again when
// it is opened, from the key store's tombstones.
#pragma once

#include <mutex>
#include <string>

#include "cledger/engine.h"
#include "engine/command_runner.h"
#include "engine/projection_host.h"
#include "engine/store/log_store.h"
#include "engine/store/personal_keys.h"
#include "engine/transparency.h"

namespace cledger {

class Erasure {
 public:
  Erasure(store::LogStore& store, ProjectionHost& host, CommandRunner& commands,
          store::PersonalKeys& keys, Transparency& transparency, std::shared_ptr<Clock> clock)
      : store_(store),
        host_(host),
        commands_(commands),
        keys_(keys),
        transparency_(transparency),
        clock_(std::move(clock)) {}

  // `subject`: "contact" or "customer".
  Result<Engine::ErasureOutcome> Erase(const CommandContext& context, const std::string& subject,
                                       const std::string& id, const std::string& reason);

  // Appends the erasure of every subject the key store has a tombstone for and the ledger
  // does not show as erased (a backup restored from before the erasure), and finishes a purge
  // a crash interrupted.
  Status ReapplyTombstones();
  // A follower's half of an erasure another node decided: the subject's key goes from this
  // key store too (before the erasure's event is applied here, so a crash in between applies
  // the event again and destroys again, never leaves an applied erasure with its key), then,
  // once the events are applied, the values the projections overwrote are purged.
  Status DestroyFollowed(const std::string& tenant, const std::string& stream);
  Status PurgeFollowed();

 private:
  // Appends the erasure (or finds the one recorded), destroys the key and purges; `erased_key`
  // names the key when it is already gone. Whether the subject was erased already.
  Result<bool> Run(const CommandContext& context, const std::string& subject, const std::string& id,
                   const std::string& reason, std::string erased_key);
  // Ends what could still confirm the subject's fields: the fingerprints of the requests that
  // carried them, then its data key.
  Status Shred(const std::string& tenant, const std::string& stream);
  // Purges the data directory of what the projections overwrote; `pending_only`: only when an
  // erasure's purge may not have finished (a crash came between).
  Status Purge(bool pending_only);
  // The certificate of the erasure recorded at the end of the subject's stream.
  Result<proofs::ErasureCertificate> Certify(const std::string& tenant, const std::string& subject,
                                             const std::string& id);

  store::LogStore& store_;
  ProjectionHost& host_;
  CommandRunner& commands_;
  store::PersonalKeys& keys_;
  Transparency& transparency_;
  std::shared_ptr<Clock> clock_;
  // One erasure at a time, commit to purge: a purge then covers every erasure before it, and
  // a pending purge is cleared only by one that ran after it was recorded.
  std::mutex mu_;
};

}  // namespace cledger
