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
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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

  // Which key each subject has is recorded by the ledger, in the batch of the first events
  // sealed under it (FORMAT.md, "data-key/"), so it is durable exactly when they are. `subject`
  // is lp(tenant) · stream; a subject the ledger has no key for finds "".
  using FindSubjectKey = std::function<Result<std::string>(std::string_view subject)>;
  using RecordSubjectKey = std::function<void(std::string_view subject, std::string_view key_id)>;
  // REQUIRES: called before the first Seal.
  void UseSubjectIndex(FindSubjectKey find) { find_subject_ = std::move(find); }

  // Writer thread: moves the event's personal fields into its sealed box under its subject's
  // key. A subject without one gets a key made ahead (durable already), or a new one when
  // none is left; either is pending until NewKeysRecorded.
  Status Seal(Event& event);
  // Writer thread: makes durable (synced) the keys Seal had to make itself and, when few are
  // left, a new batch of keys made ahead; writes (unsynced) the store's own record of each
  // pending subject's key, then hands it to `record`. Called before the group sealed under
  // them is written, with `record` putting them in its batch: a data key is durable before
  // any event sealed under it.
  Status PersistNewKeys(const RecordSubjectKey& record);
  // Writer thread: the group PersistNewKeys recorded the pending keys in is durable.
  void NewKeysRecorded();
  // Writer thread, nothing else using the store: closes it and opens it again, as after a
  // failed write it must be (LogStore::Reopen).
  Status Reopen();
  // Writer thread: the keys Seal gave and the ledger has not recorded yet, wrapped: what a
  // cluster's owner hands to the log of record with the group.
  std::vector<ReplicaDataKey> PendingKeys();
  // Writer thread: forgets the keys Seal gave subjects and nobody recorded (the log of record
  // refused their group, or its write failed), so the next event of such a subject gets the
  // key recorded for it, or a new one. They are never given again.
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
  // Destroys the subject's key — the one the ledger recorded and, when it names another, the
  // one the store's own record names — and records its tombstone and a pending purge: the delete is
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
  // master key's rotation, done once it returns. Returns how many keys were re-wrapped; the
  // keys made ahead and not given yet are deleted instead.
  Result<size_t> Rewrap(const base::AeadKey& next, const std::string& next_id);
  // Flushes and compacts the store so the wrappings a rotation replaced leave its files too.
  // A failure leaves the rotation done; the next open (not read-only) tries again.
  Status PurgeOldWrappings();

 private:
  PersonalKeys(std::unique_ptr<rocksdb::DB> db, const base::AeadKey& wrap_key);
  Status Load();
  static void ForgetKeys(std::unordered_map<std::string, base::AeadKey>& keys);
  // REQUIRES: mu_ held. The key named `key_id`, read and unwrapped on first use.
  const base::AeadKey* KeyLocked(const std::string& key_id);
  // What the ledger records of the subject's key ("" for none). Read without mu_ held: readers
  // take mu_ while they hold the ledger's gate, which this takes.
  Result<std::string> Recorded(const std::string& subject);
  // REQUIRES: mu_ held. The subject's key id, empty when it has none; a destroyed key is none.
  // `recorded`: what Recorded read before the lock was taken (the store's own record is read
  // when it is ""); nullopt when nothing can be recorded (before a stream's first event).
  Result<std::string> KeyIdLocked(const std::string& subject,
                                  const std::optional<std::string>& recorded);
  struct MadeKey {
    std::string id;
    base::AeadKey key;
    std::string wrapped;  // sealed under the wrap key
  };
  MadeKey MakeKey() const;
  // REQUIRES: mu_ held. A key for a new subject: the next one made ahead, or a new one left
  // for PersistNewKeys to write.
  MadeKey DrawKeyLocked();
  // REQUIRES: mu_ held. Writes the keys Seal made itself and, when the pool runs low, its next
  // keys, in one synced batch.
  Status WriteKeysLocked();
  void ForgetPool();
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
  std::vector<ReplicaDataKey> pending_records_;  // keys given, not yet recorded (nor replicated)
  std::unordered_set<std::string> unwritten_;    // of those, the ones the store does not hold
  std::vector<MadeKey> pool_;                    // made ahead and written, given to nobody
  FindSubjectKey find_subject_;
};

}  // namespace cledger::store
