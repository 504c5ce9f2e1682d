// The key store of personal data (FORMAT.md, "Personal data"): one data key per subject — a
// contact's or a customer's stream — in a RocksDB database of its own beside the data
// directory, so a backup of the ledger never holds one. Each key is stored wrapped (sealed)
// under a key derived from the master key. The writer seals each event's personal fields
// under its subject's key before the event is hashed; readers in the engine open them again.
// Destroying a subject's key (an erasure) makes every field sealed under it unreadable for
// good, while the events, their hashes and proofs stay as they are; a tombstone records it.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/aead.h"
#include "cledger/events.h"
#include "cledger/ledger.h"
#include "cledger/status.h"

namespace cledger::store {

class PersonalKeys {
 public:
  // Opens (and, unless `read_only`, creates) the key store at `path`. Its keys are wrapped
  // under `wrap_key`, named `wrap_key_id`; a store wrapped under another key is refused with
  // kConflict "key_store_mismatch". A read-only open of a missing store holds no key. `env`
  // is RocksDB's default unless a test injects faults.
  static Result<std::unique_ptr<PersonalKeys>> Open(const std::string& path,
                                                    const base::AeadKey& wrap_key,
                                                    const std::string& wrap_key_id, bool read_only,
                                                    rocksdb::Env* env = nullptr);
  // A store that holds no key: personal fields read as unreadable, none can be recorded.
  static std::unique_ptr<PersonalKeys> None();
  ~PersonalKeys();

  // The store's own random id, which the ledger records so it is never opened with another.
  const std::string& id() const { return id_; }

  // Writer thread: moves the event's personal fields into its sealed box under its subject's
  // key, making the key (kept in memory until PersistNewKeys) when the subject has none.
  Status Seal(Event& event);
  // Writer thread: writes the keys Seal made, synced, before any event sealed under them is.
  Status PersistNewKeys();
  // Writer thread, nothing else using the store: closes it and opens it again, as after a
  // failed write it must be (LogStore::Reopen).
  Status Reopen();
  // Writer thread: the keys Seal made and PersistNewKeys has not written yet, wrapped: what a
  // cluster's owner hands to the log of record with the group.
  std::vector<ReplicaDataKey> PendingKeys();
  // Writer thread: forgets the keys Seal made and nobody kept (the log of record refused their
  // group), so the next event of such a subject gets the key the cluster knows, or a new one.
  void DropPending();
  // Keeps keys another node made (wrapped under the same master key), synced. A key this
  // store destroyed stays destroyed.
  Status ImportKeys(const std::vector<ReplicaDataKey>& keys);

  // Any thread: puts the personal fields of an event as stored back into its body; marks it
  // Personal::kErased when its key was destroyed, kUnreadable when no such key is at hand. An
  // event recorded before sealing existed keeps its fields, unless its subject was erased:
  // then they are blanked (kErased).
  void Open(Event& event);

  // Raised whenever a key is destroyed: whoever keeps events Open opened drops them then
  // (RecentEvents). Imported keys only open more, and what Open could not open is not kept.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // The subject's key id; empty when it has none.
  Result<std::string> KeyIdOf(const std::string& tenant, const std::string& stream);

  struct Tombstone {
    std::string key_id;
    std::string tenant;
    std::string stream;
    int64_t erased_at_us = 0;
  };
  // Destroys the subject's key and records its tombstone and a pending purge: the delete is
  // synced, the memtable flushed and the store compacted, so no file of it holds the key
  // afterwards.
  // Returns the key's id; empty when the subject had none. Destroying again changes nothing.
  Result<std::string> Destroy(const std::string& tenant, const std::string& stream, int64_t now_us);
  Result<std::vector<Tombstone>> Tombstones();
  // Whether an erasure's purge of the data directory may not have finished (Destroy records
  // it, PurgeDone clears it once the purge is done): a crash in between leaves it pending.
  Result<bool> PurgePending();
  Status PurgeDone();

  // Re-wraps every data key under `next` (one synced batch) and records `next_id`: the
  // master key's rotation. Returns how many keys were re-wrapped.
  Result<size_t> Rewrap(const base::AeadKey& next, const std::string& next_id);

 private:
  PersonalKeys(std::unique_ptr<rocksdb::DB> db, const base::AeadKey& wrap_key);
  Status Load();
  static void ForgetKeys(std::unordered_map<std::string, base::AeadKey>& keys);
  // REQUIRES: mu_ held. The key named `key_id`, read and unwrapped on first use.
  const base::AeadKey* KeyLocked(const std::string& key_id);
  Result<std::string> KeyIdLocked(const std::string& subject);
  // Whether the event's subject was erased (its `e` record).
  bool SubjectErased(const Event& event);
  bool SubjectErasedLocked(const Event& event);  // REQUIRES: mu_ held

  static rocksdb::Options StoreOptions(bool read_only, rocksdb::Env* env,
                                       std::shared_ptr<rocksdb::Logger> info_log);

  // Every use of db_ is under mu_: Reopen replaces it. Null: a read-only open of a store that
  // does not exist, or a reopen that failed (the next one tries again).
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::Env* env_ = nullptr;
  std::shared_ptr<rocksdb::Logger> info_log_;  // kept across reopens
  bool read_only_ = false;
  std::string path_;
  base::AeadKey wrap_key_;
  std::string id_;
  std::mutex mu_;
  std::atomic<uint64_t> generation_{0};  // raised under mu_, so never during an Open
  std::unordered_map<std::string, base::AeadKey> keys_;            // key id → data key
  std::unordered_map<std::string, std::string> subjects_;          // subject → key id
  std::unordered_set<std::string> destroyed_;                      // key ids with a tombstone
  std::unordered_map<std::string, base::AeadKey> pending_keys_;    // made, not yet written
  std::unordered_map<std::string, std::string> pending_subjects_;  // their subjects
  std::unordered_map<std::string, bool> erased_subjects_;          // "e" record → present
  std::vector<ReplicaDataKey> pending_records_;  // keys made, not yet written (nor replicated)
};

}  // namespace cledger::store
