#include "engine/store/personal_keys.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <sodium.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "base/hex.h"
#include "base/keys.h"
#include "engine/store/errors.h"
#include "engine/store/info_log.h"
#include "events/personal.h"

namespace cledger::store {
namespace {

// Records (FORMAT.md, "Personal data"):
//   "id"                    → the store's random id (32 hex digits)
//   "wrap-key-id"           → the id of the master key the data keys are wrapped under
//   "k" · key id            → the data key, sealed under the wrap key
//   "s" · lp(tenant) · stream → the subject's key id
//   "t" · key id            → lp(tenant) · lp(stream) · u64 erased_at_us: a destroyed key
//   "e" · lp(tenant) · stream → "": an erased subject (also one that never had a key)
//   "p" · lp(tenant) · stream → "": an erasure whose purge of the data directory is not done
//   "old-wrappings"          → "": a rotation's old wrappings may still be in the files
constexpr char kId[] = "id";
constexpr char kWrapKeyId[] = "wrap-key-id";
constexpr char kOldWrappings[] = "old-wrappings";
// How many opened keys stay in memory; past it the cache starts over.
constexpr size_t kCachedKeysMax = 100'000;
// Keys are made ahead, this many in one synced write once fewer than kPoolLow are left, so a
// group of commands that makes new subjects seldom syncs the store itself (FORMAT.md).
constexpr size_t kPoolBatch = 1024;
constexpr size_t kPoolLow = 256;

std::string KeyKey(std::string_view key_id) { return "k" + std::string(key_id); }
std::string PurgeKey(std::string_view tenant, std::string_view stream) {
  std::string key = "p";
  base::AppendComponent(key, tenant);
  return key.append(stream);
}
std::string ErasedKey(std::string_view tenant, std::string_view stream) {
  std::string key = "e";
  base::AppendComponent(key, tenant);
  return key.append(stream);
}
std::string TombstoneKey(std::string_view key_id) { return "t" + std::string(key_id); }
std::string SubjectKey(std::string_view tenant, std::string_view stream) {
  std::string key = "s";
  base::AppendComponent(key, tenant);
  return key.append(stream);
}
// What a wrapped key is bound to: its own id.
std::string WrapContext(std::string_view key_id) {
  return "contact-ledger/data-key/v1/" + std::string(key_id);
}
// What a box of personal fields is bound to: its subject and key.
std::string BoxContext(const Event& event) {
  std::string context = "contact-ledger/personal/v1/";
  base::AppendComponent(context, event.tenant);
  base::AppendComponent(context, event.stream);
  return context.append(event.personal_key_id);
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  return base::Hex(raw);
}

Status Fault(const rocksdb::Status& s) { return FromRocks(s, "key store", "corrupt_key_store"); }

rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions sync;
  sync.sync = true;
  return sync;
}

}  // namespace

// Keys leave memory zeroed, not merely freed.
void PersonalKeys::ForgetKeys(std::unordered_map<std::string, base::AeadKey>& keys) {
  for (auto& [id, key] : keys) sodium_memzero(key.data(), key.size());
  keys.clear();
}

PersonalKeys::PersonalKeys(std::unique_ptr<rocksdb::DB> db, const base::AeadKey& wrap_key)
    : db_(std::move(db)), wrap_key_(wrap_key) {}

std::unique_ptr<PersonalKeys> PersonalKeys::None() {
  return std::unique_ptr<PersonalKeys>(new PersonalKeys(nullptr, base::AeadKey{}));
}

PersonalKeys::~PersonalKeys() {
  // So the next open replays no write-ahead log: every key a ledger made would otherwise be
  // read back from it into memory by each open (a read-only open never flushes it).
  // The keys made ahead and given to nobody go first (after a crash they stay, unused).
  if (db_ && !read_only_) {
    rocksdb::WriteBatch unused;
    for (const MadeKey& made : pool_) unused.Delete(KeyKey(made.id));
    (void)db_->Write(rocksdb::WriteOptions(), &unused);
    (void)db_->Flush(rocksdb::FlushOptions());
  }
  sodium_memzero(wrap_key_.data(), wrap_key_.size());
  ForgetKeys(keys_);
  ForgetKeys(pending_keys_);
  ForgetPool();
}

void PersonalKeys::ForgetPool() {
  for (MadeKey& made : pool_) sodium_memzero(made.key.data(), made.key.size());
  pool_.clear();
}

rocksdb::Options PersonalKeys::StoreOptions(bool read_only, rocksdb::Env* env,
                                            std::shared_ptr<rocksdb::Logger> info_log) {
  rocksdb::Options options;
  if (env != nullptr) options.env = env;
  options.info_log = std::move(info_log);
  options.create_if_missing = !read_only;
  options.paranoid_checks = true;
  // Each new contact or customer looks up a subject that has no key yet: a Bloom filter
  // answers that without reading a block of every table.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// After a failed write RocksDB 7.8 must not be written again: its log writer asserts on the
// next append, which aborts the process (seen on a full disk). So, like the log's database,
// the store is closed and opened again first. Still unwritable (the disk still full), it is
// opened read-only, so keys can be read meanwhile, and the next reopen tries again.
Status PersonalKeys::Reopen() {
  std::lock_guard lock(mu_);
  if (read_only_ || path_.empty()) return Status::Ok();
  db_.reset();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(StoreOptions(false, env_, info_log_), path_, &raw);
  if (!s.ok() &&
      !rocksdb::DB::OpenForReadOnly(StoreOptions(true, env_, info_log_), path_, &raw).ok()) {
    raw = nullptr;
  }
  db_.reset(raw);
  return s.ok() ? Status::Ok() : Fault(s);
}

Result<std::unique_ptr<PersonalKeys>> PersonalKeys::Open(const std::string& path,
                                                         const base::AeadKey& wrap_key,
                                                         const std::string& wrap_key_id,
                                                         bool read_only, rocksdb::Env* env) {
  // A read-only look may be at the store of a running server: its LOG is left alone.
  std::shared_ptr<rocksdb::Logger> info_log =
      read_only ? NoInfoLog() : OpenInfoLog(env, path, /*create=*/true);
  const rocksdb::Options options = StoreOptions(read_only, env, info_log);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                                : rocksdb::DB::Open(options, path, &raw);
  // A read-only open races the server's own flushes (a log file it lists may be gone when it
  // reads it), the more often the busier the server: tries for about 2.7 s before it takes
  // the store for unusable.
  for (int attempt = 1; read_only && !s.ok() && attempt < 10 && std::filesystem::exists(path);
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
    s = rocksdb::DB::OpenForReadOnly(options, path, &raw);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!s.ok() && !(read_only && (s.IsInvalidArgument() || s.IsIOError() || s.IsPathNotFound()))) {
    return Fault(s);
  }
  std::unique_ptr<PersonalKeys> keys(new PersonalKeys(s.ok() ? std::move(db) : nullptr, wrap_key));
  keys->read_only_ = read_only;
  keys->path_ = path;
  keys->env_ = env;
  keys->info_log_ = std::move(info_log);
  if (!keys->db_) return keys;
  std::string recorded;
  s = keys->db_->Get(rocksdb::ReadOptions(), kWrapKeyId, &recorded);
  if (s.IsNotFound() && !read_only) {
    rocksdb::WriteBatch batch;
    batch.Put(kId, RandomHex(16));
    batch.Put(kWrapKeyId, wrap_key_id);
    s = keys->db_->Write(Synced(), &batch);
    recorded = wrap_key_id;
  }
  if (!s.ok() && !s.IsNotFound()) return Fault(s);
  if (s.ok() && recorded != wrap_key_id) {
    return Status(Code::kConflict, "key_store_mismatch",
                  "the key store " + path + " holds data keys wrapped under master key " +
                      recorded + ", not under this ledger's (" + wrap_key_id +
                      "): it is another ledger's key store, or the master key was rotated; "
                      "give the ledger's own with --key-store and --master-key-file");
  }
  if (Status loaded = keys->Load(); !loaded.ok()) return loaded;
  // A rotation's purge that failed is tried again at each open until it is done. Not fatal:
  // the store is whole under the new key either way; only the old key's wrappings linger.
  if (!read_only && keys->db_->Get(rocksdb::ReadOptions(), kOldWrappings, &recorded).ok()) {
    (void)keys->PurgeOldWrappings();
  }
  return keys;
}

Status PersonalKeys::Load() {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kId, &id_);
  if (!s.ok() && !s.IsNotFound()) return Fault(s);
  return Status::Ok();
}

Status PersonalKeys::Seal(Event& event) {
  if (!events::CarriesPersonal(event.body)) return Status::Ok();
  const std::string subject = SubjectKey(event.tenant, event.stream);
  std::unique_lock lock(mu_);
  if (!db_) {
    return Status::Unavailable("key_store_unavailable",
                               "personal data cannot be recorded without the key store");
  }
  // Before a stream's first event nothing can have been recorded of it: nothing is read. Else
  // the ledger's record is read without the lock (see Recorded). Only this thread (the
  // writer) gives keys, so the subject gets none meanwhile.
  std::optional<std::string> recorded;
  if (event.stream_version != 1 && !subjects_.contains(subject) &&
      !pending_subjects_.contains(subject)) {
    lock.unlock();
    auto found = Recorded(subject);
    if (!found.ok()) return found.status();
    recorded = std::move(found).value();
    lock.lock();
  }
  auto key_id = KeyIdLocked(subject, recorded);
  if (!key_id.ok()) return key_id.status();
  std::optional<std::string> fields = events::TakePersonal(event.body);
  if (key_id->empty()) {
    MadeKey made = DrawKeyLocked();
    *key_id = made.id;
    pending_records_.push_back({made.id, subject, std::move(made.wrapped)});
    // Held apart from the caches until recorded: an eviction must not lose them.
    pending_keys_[made.id] = made.key;
    sodium_memzero(made.key.data(), made.key.size());
    pending_subjects_[subject] = made.id;
  }
  const base::AeadKey* key = KeyLocked(*key_id);
  if (key == nullptr) {
    return Status(Code::kConflict, "subject_erased",
                  "the personal data of " + event.stream + " was erased; nothing more is recorded");
  }
  event.personal_key_id = *key_id;
  event.personal_box = base::AeadSeal(*key, *fields, BoxContext(event));
  return Status::Ok();
}

PersonalKeys::MadeKey PersonalKeys::MakeKey() const {
  MadeKey made{RandomHex(16), base::NewAeadKey(), {}};
  made.wrapped = base::AeadSeal(
      wrap_key_, std::string_view(reinterpret_cast<const char*>(made.key.data()), made.key.size()),
      WrapContext(made.id));
  return made;
}

PersonalKeys::MadeKey PersonalKeys::DrawKeyLocked() {
  if (pool_.empty()) {
    MadeKey made = MakeKey();
    unwritten_.insert(made.id);
    return made;
  }
  MadeKey made = pool_.back();
  sodium_memzero(pool_.back().key.data(), pool_.back().key.size());
  pool_.pop_back();
  return made;
}

Status PersonalKeys::WriteKeysLocked() {
  const bool refill = pool_.size() < kPoolLow;
  rocksdb::WriteBatch batch;
  for (const ReplicaDataKey& given : pending_records_) {
    // Erased before it was recorded (Destroy deleted what was on disk): never written now.
    if (destroyed_.contains(given.key_id)) continue;
    if (unwritten_.contains(given.key_id)) batch.Put(KeyKey(given.key_id), given.wrapped);
    // The ledger's record is the one relied on; the store's own is for a binary from before
    // the ledger recorded them, should one open the ledger again.
    batch.Put(given.subject, given.key_id);
  }
  std::vector<MadeKey> ahead;
  if (refill) {
    ahead.reserve(kPoolBatch);
    for (size_t i = 0; i < kPoolBatch; ++i) {
      ahead.push_back(MakeKey());
      batch.Put(KeyKey(ahead.back().id), ahead.back().wrapped);
    }
  }
  if (batch.Count() == 0) return Status::Ok();
  const bool durable_keys = refill || !unwritten_.empty();
  rocksdb::Status s = db_->Write(durable_keys ? Synced() : rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    for (MadeKey& made : ahead) sodium_memzero(made.key.data(), made.key.size());
    return Fault(s);
  }
  unwritten_.clear();
  pool_.reserve(kPoolLow + kPoolBatch);  // never moved again: no copy of a key left behind
  for (MadeKey& made : ahead) {
    pool_.push_back(made);
    sodium_memzero(made.key.data(), made.key.size());
  }
  return Status::Ok();
}

Status PersonalKeys::PersistNewKeys(const RecordSubjectKey& record) {
  std::lock_guard lock(mu_);
  if (pending_records_.empty()) return Status::Ok();
  if (!db_) return Status::Unavailable("key_store_unavailable", "the key store is not open");
  if (Status written = WriteKeysLocked(); !written.ok()) return written;
  for (const ReplicaDataKey& given : pending_records_) {
    if (!destroyed_.contains(given.key_id)) {
      record(std::string_view(given.subject).substr(1), given.key_id);
    }
  }
  return Status::Ok();
}

void PersonalKeys::NewKeysRecorded() {
  std::lock_guard lock(mu_);
  pending_records_.clear();
  // Kept for the events that follow: a new subject's next events come soon after its first.
  for (const auto& [id, key] : pending_keys_) {
    if (destroyed_.contains(id)) continue;
    if (keys_.size() >= kCachedKeysMax) ForgetKeys(keys_);
    keys_[id] = key;
  }
  ForgetKeys(pending_keys_);
  for (auto& [subject, id] : pending_subjects_) {
    if (destroyed_.contains(id)) continue;
    if (subjects_.size() >= kCachedKeysMax) subjects_.clear();
    subjects_[subject] = std::move(id);
  }
  pending_subjects_.clear();
}

std::vector<ReplicaDataKey> PersonalKeys::PendingKeys() {
  std::lock_guard lock(mu_);
  return pending_records_;
}

void PersonalKeys::DropPending() {
  std::lock_guard lock(mu_);
  pending_records_.clear();
  unwritten_.clear();
  ForgetKeys(pending_keys_);
  pending_subjects_.clear();
}

Status PersonalKeys::ImportKeys(const std::vector<ReplicaDataKey>& keys) {
  std::lock_guard lock(mu_);
  if (!db_) return Status::Unavailable("key_store_unavailable", "the key store is not open");
  rocksdb::WriteBatch batch;
  for (const ReplicaDataKey& k : keys) {
    std::string tombstone;
    if (destroyed_.contains(k.key_id) ||
        db_->Get(rocksdb::ReadOptions(), TombstoneKey(k.key_id), &tombstone).ok()) {
      continue;
    }
    batch.Put(KeyKey(k.key_id), k.wrapped);
    batch.Put(k.subject, k.key_id);
  }
  if (batch.Count() == 0) return Status::Ok();
  rocksdb::Status s = db_->Write(Synced(), &batch);
  return s.ok() ? Status::Ok() : Fault(s);
}

void PersonalKeys::Open(Event& event) {
  if (event.personal_box.empty()) {
    // Recorded before sealing existed: in the clear, unless its subject was erased since.
    if (events::CarriesPersonal(event.body) && SubjectErased(event)) {
      events::BlankPersonal(event.body);
      event.personal = Personal::kErased;
    }
    return;
  }
  std::lock_guard lock(mu_);
  const base::AeadKey* key = db_ ? KeyLocked(event.personal_key_id) : nullptr;
  std::optional<std::string> fields;
  if (key != nullptr) fields = base::AeadOpen(*key, event.personal_box, BoxContext(event));
  if (fields && events::PutPersonal(event.body, *fields)) return;
  // A key this store never held is gone for good if its subject was erased: a node that
  // follows a cluster never receives the key of a subject erased before it caught up.
  const bool erased = destroyed_.contains(event.personal_key_id) || SubjectErasedLocked(event);
  event.personal = erased ? Personal::kErased : Personal::kUnreadable;
}

bool PersonalKeys::SubjectErased(const Event& event) {
  std::lock_guard lock(mu_);
  return SubjectErasedLocked(event);
}

bool PersonalKeys::SubjectErasedLocked(const Event& event) {
  const std::string key = ErasedKey(event.tenant, event.stream);
  if (!db_) return false;
  if (auto it = erased_subjects_.find(key); it != erased_subjects_.end()) return it->second;
  std::string ignored;
  const bool erased = db_->Get(rocksdb::ReadOptions(), key, &ignored).ok();
  if (erased_subjects_.size() >= kCachedKeysMax) erased_subjects_.clear();
  erased_subjects_[key] = erased;
  return erased;
}

const base::AeadKey* PersonalKeys::KeyLocked(const std::string& key_id) {
  if (auto it = keys_.find(key_id); it != keys_.end()) return &it->second;
  if (auto it = pending_keys_.find(key_id); it != pending_keys_.end()) return &it->second;
  if (destroyed_.contains(key_id)) return nullptr;
  std::string wrapped;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), KeyKey(key_id), &wrapped);
  std::optional<std::string> key;
  if (s.ok()) key = base::AeadOpen(wrap_key_, wrapped, WrapContext(key_id));
  if (!key || key->size() != sizeof(base::AeadKey)) {
    std::string tombstone;
    // Only a destroyed key is remembered as gone: a missing one may be a fault, or a key
    // store restored from elsewhere; it is looked up again next time.
    if (db_->Get(rocksdb::ReadOptions(), TombstoneKey(key_id), &tombstone).ok()) {
      destroyed_.insert(key_id);
    }
    return nullptr;
  }
  if (keys_.size() >= kCachedKeysMax) ForgetKeys(keys_);
  base::AeadKey& slot = keys_[key_id];
  std::copy(key->begin(), key->end(), slot.begin());
  sodium_memzero(key->data(), key->size());
  return &slot;
}

Result<std::string> PersonalKeys::KeyIdLocked(const std::string& subject,
                                              const std::optional<std::string>& recorded) {
  if (auto it = subjects_.find(subject); it != subjects_.end()) return it->second;
  if (auto it = pending_subjects_.find(subject); it != pending_subjects_.end()) return it->second;
  if (!recorded) return std::string();
  // The ledger records the keys this store made for it; the store itself the keys it made
  // before that, and the ones another node made (ImportKeys).
  std::string key_id = *recorded;
  if (key_id.empty()) {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), subject, &key_id);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return Fault(s);
  } else if (KeyLocked(key_id) == nullptr && destroyed_.contains(key_id)) {
    return std::string();  // erased: the ledger's record stays, the key does not
  }
  if (subjects_.size() >= kCachedKeysMax) subjects_.clear();
  subjects_[subject] = key_id;
  return key_id;
}

Result<std::string> PersonalKeys::Recorded(const std::string& subject) {
  if (!find_subject_) return std::string();
  return find_subject_(std::string_view(subject).substr(1));
}

Result<std::string> PersonalKeys::KeyIdOf(const std::string& tenant, const std::string& stream) {
  const std::string subject = SubjectKey(tenant, stream);
  auto recorded = Recorded(subject);
  if (!recorded.ok()) return recorded;
  std::lock_guard lock(mu_);
  if (!db_) return std::string();
  return KeyIdLocked(subject, *recorded);
}

Result<std::string> PersonalKeys::Destroy(const std::string& tenant, const std::string& stream,
                                          int64_t now_us) {
  const std::string subject = SubjectKey(tenant, stream);
  auto recorded = Recorded(subject);
  if (!recorded.ok()) return recorded;
  std::lock_guard lock(mu_);
  if (!db_) return Status::Unavailable("key_store_unavailable", "the key store is not open");
  generation_.fetch_add(1, std::memory_order_acq_rel);
  auto key_id = KeyIdLocked(subject, *recorded);
  if (!key_id.ok()) return key_id;
  // The store's own record may name another key than the ledger's: one a binary from before
  // the ledger recorded keys gave the subject, or a record of a group never written. It goes
  // too, so no event of the subject stays readable.
  std::vector<std::string> doomed;
  if (!key_id->empty()) doomed.push_back(*key_id);
  std::string stored;
  rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), subject, &stored);
  if (!found.ok() && !found.IsNotFound()) return Fault(found);
  if (found.ok() && stored != *key_id && !destroyed_.contains(stored)) doomed.push_back(stored);
  const std::string erased = ErasedKey(tenant, stream);
  erased_subjects_[erased] = true;
  if (doomed.empty()) {  // no key (recorded before sealing, or destroyed already)
    std::string ignored;
    if (db_->Get(rocksdb::ReadOptions(), erased, &ignored).ok()) return key_id;  // done before
    rocksdb::WriteBatch batch;
    batch.Put(erased, "");
    batch.Put(PurgeKey(tenant, stream), "");
    rocksdb::Status s = db_->Write(Synced(), &batch);
    if (!s.ok()) return Fault(s);
    return key_id;
  }
  std::string tombstone;
  base::AppendComponent(tombstone, tenant);
  base::AppendComponent(tombstone, stream);
  tombstone += base::U64Key(static_cast<uint64_t>(now_us));
  rocksdb::WriteBatch batch;
  for (const std::string& id : doomed) {
    batch.Delete(KeyKey(id));
    batch.Put(TombstoneKey(id), tombstone);
  }
  batch.Delete(subject);
  batch.Put(erased, "");
  batch.Put(PurgeKey(tenant, stream), "");
  rocksdb::Status s = db_->Write(Synced(), &batch);
  if (s.ok()) s = db_->Flush(rocksdb::FlushOptions());
  if (s.ok()) {
    // The key's bytes live on in the file the memtable was flushed to (or an older one) until
    // a compaction drops them under the delete: force it at the bottom level too.
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = db_->CompactRange(compact, nullptr, nullptr);
  }
  if (!s.ok()) return Fault(s);
  for (const std::string& id : doomed) {
    if (auto it = keys_.find(id); it != keys_.end()) {
      sodium_memzero(it->second.data(), it->second.size());
      keys_.erase(it);
    }
    destroyed_.insert(id);
  }
  subjects_.erase(subject);
  return doomed.front();
}

// Under mu_, like every use of the store: a reopen after a failed write replaces it.
Result<bool> PersonalKeys::PurgePending() {
  std::lock_guard lock(mu_);
  if (!db_) return false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->Seek("p");
  if (!it->status().ok()) return Fault(it->status());
  return it->Valid() && it->key().starts_with("p");
}

Status PersonalKeys::PurgeDone() {
  std::lock_guard lock(mu_);
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next()) {
    batch.Delete(it->key());
  }
  if (!it->status().ok()) return Fault(it->status());
  rocksdb::Status s = db_->Write(Synced(), &batch);
  return s.ok() ? Status::Ok() : Fault(s);
}

Result<std::vector<PersonalKeys::Tombstone>> PersonalKeys::Tombstones() {
  std::vector<Tombstone> out;
  std::lock_guard lock(mu_);
  if (!db_) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("t"); it->Valid() && it->key().starts_with("t"); it->Next()) {
    std::string_view value = it->value().ToStringView();
    Tombstone t;
    t.key_id = it->key().ToString().substr(1);
    for (std::string* part : {&t.tenant, &t.stream}) {
      if (value.empty() || value.size() < 1u + static_cast<uint8_t>(value[0])) {
        return Status::Corruption("corrupt_key_store", "a tombstone does not decode");
      }
      const size_t length = static_cast<uint8_t>(value[0]);
      part->assign(value.substr(1, length));
      value.remove_prefix(1 + length);
    }
    if (value.size() != 8)
      return Status::Corruption("corrupt_key_store", "a tombstone does not decode");
    t.erased_at_us = static_cast<int64_t>(base::DecodeU64(value));
    out.push_back(std::move(t));
  }
  if (!it->status().ok()) return Fault(it->status());
  return out;
}

Result<size_t> PersonalKeys::Rewrap(const base::AeadKey& next, const std::string& next_id) {
  std::lock_guard lock(mu_);
  if (!db_) return Status::Unavailable("key_store_unavailable", "the key store is not open");
  rocksdb::WriteBatch batch;
  size_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::unordered_set<std::string> ahead;  // deleted, not re-wrapped
  for (const MadeKey& made : pool_) ahead.insert(made.id);
  for (it->Seek("k"); it->Valid() && it->key().starts_with("k"); it->Next()) {
    const std::string key_id = it->key().ToString().substr(1);
    if (ahead.contains(key_id)) continue;
    auto key = base::AeadOpen(wrap_key_, it->value().ToStringView(), WrapContext(key_id));
    if (!key) {
      return Status::Corruption(
          "corrupt_key_store",
          "data key " + key_id + " does not open under the current master key");
    }
    batch.Put(it->key(), base::AeadSeal(next, *key, WrapContext(key_id)));
    sodium_memzero(key->data(), key->size());
    ++count;
  }
  if (!it->status().ok()) return Fault(it->status());
  for (const MadeKey& made : pool_) batch.Delete(KeyKey(made.id));
  batch.Put(kWrapKeyId, next_id);
  batch.Put(kOldWrappings, "");
  if (rocksdb::Status s = db_->Write(Synced(), &batch); !s.ok()) return Fault(s);
  // Written: the store is wrapped under `next` from here on, whatever follows.
  wrap_key_ = next;
  ForgetPool();
  return count;
}

Status PersonalKeys::PurgeOldWrappings() {
  std::lock_guard lock(mu_);
  if (!db_) return Status::Unavailable("key_store_unavailable", "the key store is not open");
  rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  if (s.ok()) s = db_->CompactRange(compact, nullptr, nullptr);
  if (s.ok()) s = db_->Delete(Synced(), kOldWrappings);
  return s.ok() ? Status::Ok() : Fault(s);
}

}  // namespace cledger::store
