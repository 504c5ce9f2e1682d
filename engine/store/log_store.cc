#include "engine/store/log_store.h"

#include <pthread.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "base/keys.h"
#include "cledger/limits.h"
#include "engine/store/errors.h"
#include "engine/store/info_log.h"
#include "engine/store/keys.h"
#include "events/codec.h"
#include "events/hash.h"
#include "events/personal.h"

namespace cledger::store {
namespace {

namespace fs = std::filesystem;

// The newest write-ahead log file of the directory: the one a damaged open names.
std::string NewestWal(const std::string& dir) {
  std::string newest;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".log") && name > newest) newest = name;  // numbered, zero-padded
  }
  return newest.empty() ? "(no *.log file)" : (std::filesystem::path(dir) / newest).string();
}

Status WalDamaged(const std::string& dir, const rocksdb::Status& s) {
  return Status::Corruption(
      "wal_damaged",
      "the database in " + dir + " does not open: " + s.ToString() +
          ". If the damage is in the write-ahead log (newest: " + NewestWal(dir) +
          "), commits acknowledged after it would be lost; opening refuses rather than drop "
          "them silently. Keep a copy of the directory and restore from a backup");
}

}  // namespace

Result<std::unique_ptr<LogStore>> LogStore::Open(StoreOptions options) {
  std::unique_ptr<LogStore> store(new LogStore(std::move(options)));
  if (Status s = store->OpenDb(); !s.ok()) return s;
  store->writer_ = std::thread([raw = store.get()] {
    pthread_setname_np(pthread_self(), "cledger-writer");  // visible in top -H and perf
    raw->WriterLoop();
  });
  store->notifier_ = std::thread([raw = store.get()] {
    pthread_setname_np(pthread_self(), "cledger-notify");
    raw->NotifierLoop();
  });
  return store;
}

LogStore::LogStore(StoreOptions options)
    : options_(std::move(options)),
      block_cache_(rocksdb::NewLRUCache(limits::kBlockCacheBytes)),
      write_buffers_(std::make_shared<rocksdb::WriteBufferManager>(limits::kMemtableBytesMax)) {}

// Level 1 of every family: about four flushes' worth, in 8 MiB tables (FamilyOptions).
constexpr uint64_t kLevelOneBytes = 32u << 20;

rocksdb::ColumnFamilyOptions LogStore::FamilyOptions() const {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache_;
  table.cache_index_and_filter_blocks = true;
  // Level 0 is read by every lookup: its index and filter stay in the cache.
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Folds look up many keys that do not exist yet (a new record, a new index entry): a Bloom
  // filter answers those without reading a block of every table.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Indexes and filters in small partitions under a pinned top level: a lookup in a large
  // table reads one 4 KiB partition, not the whole index, which a cache shared with data
  // blocks would otherwise evict and read again for every lookup.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  rocksdb::ColumnFamilyOptions family;
  family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // A family's memtable is flushed small (every family at once, each time the write-ahead log
  // reaches max_total_wal_size), and most families' keys land all over their range, so each
  // compaction out of level 0 rewrites every level-1 file. With RocksDB's 256 MiB level 1 in
  // 64 MiB files that is the whole family until it passes 256 MiB: the work per command grew
  // with the ledger. A level 1 of a few flushes' size in small files keeps it bounded; the
  // files double in size at each level below, so a large family stays a few hundred files.
  family.max_bytes_for_level_base = kLevelOneBytes;
  family.target_file_size_base = kLevelOneBytes / 4;
  family.target_file_size_multiplier = 2;
  return family;
}

LogStore::~LogStore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(answers_mu_);
    notifier_stopping_ = true;
  }
  answers_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  // Flushed on a clean close, so the next open replays no write-ahead log: restart time does
  // not grow with what was written before.
  CloseDb(/*flush=*/true);
}

void LogStore::CloseDb(bool flush) {
  if (!db_) return;
  recent_.Clear();  // what a reopen finds is read afresh
  std::lock_guard lock(families_mu_);
  if (flush) {
    std::vector<rocksdb::ColumnFamilyHandle*> all;
    for (auto& [name, handle] : families_) all.push_back(handle);
    (void)db_->Flush(rocksdb::FlushOptions(), all);
  }
  for (auto& [name, handle] : families_) (void)db_->DestroyColumnFamilyHandle(handle);
  for (auto* handle : dropped_) (void)db_->DestroyColumnFamilyHandle(handle);
  families_.clear();
  dropped_.clear();
  log_ = streams_ = idempotency_ = requests_ = meta_ = tree_ = nullptr;
  (void)db_->Close();
  db_.reset();
}

Status LogStore::OpenDb() {
  rocksdb::Options db_options;
  db_options.create_if_missing = options_.ledger.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.paranoid_checks = true;
  // Bounds what a restart after a crash replays: past this much WAL, memtables are flushed.
  db_options.max_total_wal_size = 32 << 20;
  if (options_.env != nullptr) db_options.env = options_.env;
  db_options.write_buffer_manager = write_buffers_;
  // A torn last record is what a crash leaves and is dropped; damage anywhere else would drop
  // acknowledged commits silently (and let new commits reuse their positions): refuse.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // A NoSpace from a flush or compaction becomes an error RocksDB recovers from by itself
  // once space returns (it needs an SstFileManager for that), instead of a lasting one.
  db_options.sst_file_manager.reset(
      rocksdb::NewSstFileManager(options_.env != nullptr ? options_.env : rocksdb::Env::Default()));
  if (!info_log_) {  // one per store: a reopen after a fault goes on appending to it
    info_log_ = OpenInfoLog(options_.env, options_.ledger.path, options_.ledger.create_if_missing);
  }
  db_options.info_log = info_log_;

  std::vector<std::string> names = {kCfMeta,        kCfLog,  kCfStreams,
                                    kCfIdempotency, kCfTree, kCfRequests};
  names.insert(names.end(), options_.column_families.begin(), options_.column_families.end());
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options_.ledger.path, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, FamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options_.ledger.path, descriptors, &handles, &raw);
  // Only a refused open lists the directory: a clean start does no work for this.
  const std::string wal = s.IsCorruption() && !options_.ledger.accept_wal_loss.empty()
                              ? fs::path(NewestWal(options_.ledger.path)).filename().string()
                              : std::string();
  const bool accepting = !wal.empty() && options_.ledger.accept_wal_loss == wal;
  if (accepting) {
    if (Status refused = CheckWalLossAcceptable(); !refused.ok()) return refused;
    // Replays the log up to the damage and drops the rest: the loss the operator named.
    db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
    handles.clear();
    s = rocksdb::DB::Open(db_options, options_.ledger.path, descriptors, &handles, &raw);
  }
  if (s.IsCorruption()) return WalDamaged(options_.ledger.path, s);
  if (!s.ok()) return FromRocks(s, "storage fault");
  db_.reset(raw);
  {
    std::lock_guard lock(families_mu_);
    for (size_t i = 0; i < names.size(); ++i) families_[names[i]] = handles[i];
    log_ = families_[kCfLog];
    streams_ = families_[kCfStreams];
    idempotency_ = families_[kCfIdempotency];
    requests_ = families_[kCfRequests];
    meta_ = families_[kCfMeta];
    tree_ = families_[kCfTree];
  }

  if (Status h = ReadHead(); !h.ok()) return h;
  if (Status g = LoadGaps(); !g.ok()) return g;
  if (Status r = IndexRequestsByTarget(); !r.ok()) return r;
  if (accepting) {
    if (Status r = RecordAcceptedLoss(wal); !r.ok()) return r;
  }
  if (Status t = LoadTree(); !t.ok()) return t;
  return reserved_through_ > GetHead().position ? Status::Ok()
                                                : ReservePositions(GetHead().position);
}

Status LogStore::ReadHead() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kMetaHead, &value);
  if (s.IsNotFound()) {  // a new ledger
    rocksdb::WriteOptions write;
    write.sync = true;
    s = db_->Put(write, meta_, kMetaFormat, kFormatVersion);
    return s.ok() ? Status::Ok() : FromRocks(s, "storage fault");
  }
  if (!s.ok()) return FromRocks(s, "storage fault");
  const std::optional<base::HeadRecord> head = base::DecodeHeadRecord(value);
  if (!head) return Status::Corruption("corrupt_head", "bad head record");
  std::lock_guard lock(head_mu_);
  head_ = {head->position, head->hash};
  last_recorded_at_us_ = head->last_recorded_at_us;
  commits_ = head->commits;
  return Status::Ok();
}

rocksdb::ColumnFamilyHandle* LogStore::Family(const std::string& name) {
  std::lock_guard lock(families_mu_);
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : it->second;
}

Result<rocksdb::ColumnFamilyHandle*> LogStore::CreateFamily(const std::string& name) {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  std::lock_guard lock(families_mu_);
  if (auto it = families_.find(name); it != families_.end()) return it->second;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s = db_->CreateColumnFamily(FamilyOptions(), name, &handle);
  if (!s.ok()) return FromRocks(s, "storage fault");
  families_[name] = handle;
  return handle;
}

std::vector<std::string> LogStore::FamilyNames() {
  std::lock_guard lock(families_mu_);
  std::vector<std::string> names;
  for (const auto& [name, handle] : families_) names.push_back(name);
  return names;
}

Status LogStore::DropFamily(const std::string& name, bool shared) {
  return shared ? DropFamilies({name}) : DropOne(name, /*shared=*/false);
}

Status LogStore::DropFamilies(const std::vector<std::string>& names) {
  Status first = Status::Ok();
  for (const std::string& name : names) {
    Status s = DropOne(name, /*shared=*/true);
    if (first.ok()) first = s;
  }
  ReleaseDroppedFamilies();  // one wait for readers, not one per family
  return first;
}

Status LogStore::DropOne(const std::string& name, bool shared) {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  std::lock_guard lock(families_mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return Status::Ok();
  rocksdb::Status s = db_->DropColumnFamily(it->second);
  if (!s.ok()) return FromRocks(s, "storage fault");
  if (shared) {
    dropped_.push_back(it->second);
  } else {
    (void)db_->DestroyColumnFamilyHandle(it->second);
  }
  families_.erase(it);
  return Status::Ok();
}

// RocksDB deletes a dropped family's files only with its last handle; until then they hold
// whatever the family held, erased fields included. Readers use a handle only while they
// hold the gate, so a moment with no reader is a moment nobody holds a dropped one. The wait
// is short: a long reader (a verify, a backup) leaves them to the next drop or the close.
void LogStore::ReleaseDroppedFamilies() {
  {
    std::lock_guard lock(families_mu_);
    if (dropped_.empty()) return;  // no reason to wait for the readers
  }
  if (!gate_.TryExclusiveFor(limits::kReleaseDroppedWaitMs)) return;
  DbGate::Exclusive gate(gate_, DbGate::kAdopt);
  std::lock_guard lock(families_mu_);
  if (!db_) return;
  for (rocksdb::ColumnFamilyHandle* handle : dropped_) (void)db_->DestroyColumnFamilyHandle(handle);
  dropped_.clear();
}

Result<CommitResult> LogStore::Append(Commit commit) {
  std::string tenant = commit.tenant;
  std::string key = commit.idempotency_key;
  // Decided once: the commit moves into the writer rather than being copied.
  return Submit(tenant, key,
                [c = std::move(commit)](Txn&) mutable -> Result<Commit> { return std::move(c); });
}

Result<CommitResult> LogStore::Submit(const std::string& tenant, const std::string& idempotency_key,
                                      Decide decide) {
  return SubmitAsync(tenant, idempotency_key, std::move(decide)).get();
}

std::future<Result<CommitResult>> LogStore::SubmitAsync(const std::string& tenant,
                                                        const std::string& idempotency_key,
                                                        Decide decide, std::string fingerprint,
                                                        Staged staged) {
  auto request = MakeRequest(tenant, idempotency_key, std::move(decide), std::move(fingerprint),
                             std::move(staged));
  auto future = Promised(*request);
  Enqueue(std::move(request));
  return future;
}

// The request's result, through a future. The promise is shared with `then`: the writer's
// thread may still be inside set_value when the waiter wakes and returns.
std::future<Result<CommitResult>> LogStore::Promised(Request& request) {
  auto done = std::make_shared<std::promise<Result<CommitResult>>>();
  request.then = [done](Result<CommitResult> result) { done->set_value(std::move(result)); };
  return done->get_future();
}

void LogStore::SubmitThen(const std::string& tenant, const std::string& idempotency_key,
                          Decide decide, std::string fingerprint, Then then, Staged staged) {
  auto request = MakeRequest(tenant, idempotency_key, std::move(decide), std::move(fingerprint),
                             std::move(staged));
  request->then = std::move(then);
  Enqueue(std::move(request));
}

std::unique_ptr<LogStore::Request> LogStore::MakeRequest(const std::string& tenant,
                                                         const std::string& idempotency_key,
                                                         Decide decide, std::string fingerprint,
                                                         Staged staged) {
  auto request = std::make_unique<Request>();
  request->tenant = tenant;
  request->idempotency_key = idempotency_key;
  request->fingerprint = std::move(fingerprint);
  request->decide = std::move(decide);
  request->staged = std::move(staged);
  return request;
}

Status LogStore::RunExclusive(Exclusive work) {
  auto request = std::make_unique<Request>();
  request->exclusive = std::move(work);
  auto future = Promised(*request);
  Enqueue(std::move(request));
  Result<CommitResult> result = future.get();
  return result.ok() ? Status::Ok() : result.status();
}

void LogStore::Enqueue(std::unique_ptr<Request> request) {
  {
    std::unique_lock lock(queue_mu_);
    // Back-pressure: producers wait rather than let the queue grow without bound.
    space_cv_.wait(lock, [&] { return stopping_ || queue_.size() < limits::kPendingCommitsMax; });
    if (!stopping_) {
      queue_.push_back(std::move(request));
      request = nullptr;
    }
  }
  if (request != nullptr) {
    request->then(Status(Code::kUnavailable, "shutting_down", "the ledger is closing"));
    return;
  }
  queue_cv_.notify_one();
}

Status LogStore::WriteSide(rocksdb::WriteBatch& batch, bool sync) {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  if (write_failed_) return Status::Unavailable("storage_unavailable", "a write failed");
  if (Status s = CheckFreeSpace(batch.GetDataSize()); !s.ok()) return s;
  rocksdb::WriteOptions write;
  write.sync = sync;
  rocksdb::Status s = WriteOne(write, batch);
  if (s.ok()) return Status::Ok();
  return FromRocks(s, "write failed");  // the writer reopens the database before any write
}

rocksdb::Status LogStore::WriteOne(const rocksdb::WriteOptions& options,
                                   rocksdb::WriteBatch& batch) {
  std::lock_guard lock(write_mu_);
  if (write_failed_) return rocksdb::Status::Aborted("an earlier write failed");
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) write_failed_ = true;
  return s;
}

Head LogStore::GetHead() {
  std::lock_guard lock(head_mu_);
  return head_;
}

Result<std::string> LogStore::ReadAt(const rocksdb::ReadOptions& read, uint64_t position) {
  std::string bytes;
  rocksdb::Status s = db_->Get(read, log_, LogKey(position), &bytes);
  if (s.IsNotFound()) {
    return Status(Code::kNotFound, "not_found", "no event at position " + std::to_string(position));
  }
  if (!s.ok()) return FromRocks(s, "storage fault", "corrupt_event");
  return bytes;
}

LogStore::Recorded LogStore::DecodeRecorded(std::string_view value) {
  return Recorded{base::DecodeU64(value), base::DecodeU64(value.substr(8)),
                  std::string(value.substr(16))};
}

Result<std::optional<LogStore::Recorded>> LogStore::FindRecorded(
    const std::string& tenant, const std::string& idempotency_key) {
  if (tenant.size() > limits::kIdBytesMax || idempotency_key.size() > limits::kIdBytesMax) {
    return IdTooLong();
  }
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), idempotency_,
                               IdempotencyKey(tenant, idempotency_key), &value);
  if (s.IsNotFound()) return std::optional<Recorded>();
  if (!s.ok()) return FromRocks(s, "storage fault");
  return std::optional<Recorded>(DecodeRecorded(value));
}

bool IsSameRequest(const LogStore::Recorded& recorded, std::string_view fingerprint) {
  return recorded.fingerprint.empty() || fingerprint.empty() || recorded.fingerprint == fingerprint;
}

Status IdempotencyKeyReused() {
  return Status::InvalidArgument(
      "idempotency_key_reused", "this Idempotency-Key was used for another request; use a new key");
}

void LogStore::SetPersonalKeys(PersonalKeys* keys) {
  personal_ = keys;
  recent_.Clear();  // decoded under other keys, or none
  if (keys == nullptr) return;
  keys->UseSubjectIndex([this](std::string_view subject) -> Result<std::string> {
    DbGate::Shared gate(gate_);
    if (!db_) return Reopening();
    std::string key_id;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, SubjectKeyIdKey(subject), &key_id);
    if (s.IsNotFound()) return std::string();
    if (!s.ok()) return FromRocks(s, "storage fault");
    return key_id;
  });
}

Result<std::string> LogStore::ReadRaw(uint64_t position) {
  if (position == 0 || position > GetHead().position) {
    return Status(Code::kNotFound, "not_found", "no event at position " + std::to_string(position));
  }
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  return ReadAt(rocksdb::ReadOptions(), position);
}

Result<std::string> LogStore::ReadRedacted(uint64_t position) {
  auto raw = ReadRaw(position);
  if (!raw.ok()) return raw;
  return events::RedactSecrets(*raw);
}

// The newest events come from RecentEvents, decoded once for every reader that follows the
// head; the rest from disk, kept there for the next reader when they are among the newest.
Result<std::vector<Event>> LogStore::Read(uint64_t from, size_t limit) {
  std::vector<Event> out;
  if (Status s = ReadInto(from, limit, out); !s.ok()) return s;
  return out;
}

Status LogStore::ReadInto(uint64_t from, size_t limit, std::vector<Event>& out) {
  out.clear();
  const uint64_t head = GetHead().position;
  limit = std::min(limit, limits::kReadBatchMax);
  from = std::max<uint64_t>(from, 1);
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  const uint64_t keys = KeysGeneration();
  from = recent_.Take(from, head, limit, keys, out);
  if (out.size() == limit || from > head) return Status::Ok();
  const size_t kept = out.size();
  // Grown one event at a time, a batch would move every event (about 1 KiB each) over and
  // over into fresh memory.
  out.reserve(std::min<uint64_t>(limit, head - from + 1 + kept));
  std::vector<size_t> stored_bytes;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_));
  for (it->Seek(LogKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    const uint64_t position = base::DecodeU64(it->key().ToStringView());
    if (position > head) break;  // written but not yet acknowledged
    Result<Event> event = DecodeForReaders(it->value().ToStringView());
    if (!event.ok() || event->position != position) {
      return Status(Code::kCorruption, "corrupt_event",
                    "event at position " + std::to_string(position) + " fails verification");
    }
    out.push_back(std::move(event).value());
    stored_bytes.push_back(it->value().size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault", "corrupt_event");
  recent_.Keep(std::span<const Event>(out).subspan(kept), stored_bytes, head, keys,
               KeysGeneration());
  return Status::Ok();
}

Result<std::vector<Event>> LogStore::ReadStream(const std::string& tenant,
                                                const std::string& stream, uint64_t from_version,
                                                size_t limit) {
  if (tenant.size() > limits::kIdBytesMax || stream.size() > limits::kIdBytesMax) {
    return std::vector<Event>{};
  }
  limit = std::min(limit, limits::kReadBatchMax);
  const std::string prefix = StreamHeadKey(tenant, stream);
  std::vector<Event> out;
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_));
  for (it->Seek(StreamEventKey(tenant, stream, std::max<uint64_t>(from_version, 1)));
       it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
    const uint64_t position = base::DecodeU64(it->value().ToStringView());
    Result<std::string> bytes = ReadAt(rocksdb::ReadOptions(), position);
    if (!bytes.ok()) return bytes.status();
    Result<Event> event = DecodeForReaders(*bytes);
    if (!event.ok()) return event.status();
    out.push_back(std::move(event).value());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault", "corrupt_event");
  return out;
}

Status LogStore::ForgetRequestsOf(const std::string& tenant, const std::string& stream) {
  rocksdb::WriteBatch forget;
  {
    DbGate::Shared gate(gate_);
    if (!db_) return Reopening();
    Status listed =
        EachRequestTo({tenant, stream}, [&](std::string_view key, const Recorded* recorded) {
          if (recorded != nullptr) forget.Delete(idempotency_, IdempotencyKey(tenant, key));
          forget.Delete(requests_, RequestKey(tenant, stream, key));
        });
    if (!listed.ok()) return listed;
  }
  return forget.Count() == 0 ? Status::Ok() : WriteSide(forget, /*sync=*/true);
}

Status LogStore::EachRequestTo(const Subject& subject,
                               const std::function<void(std::string_view, const Recorded*)>& fn) {
  const auto& [tenant, stream] = subject;
  if (tenant.size() > limits::kIdBytesMax || stream.size() > limits::kIdBytesMax) {
    return Status::Ok();  // never written
  }
  const std::string prefix = StreamHeadKey(tenant, stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), requests_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view key = it->key().ToStringView().substr(prefix.size());
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), idempotency_, IdempotencyKey(tenant, key), &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "storage fault");
    // The key names this commit's record unless it was forgotten (and perhaps used again).
    const std::optional<Recorded> recorded =
        s.ok() ? std::optional(DecodeRecorded(value)) : std::nullopt;
    const bool same =
        recorded && recorded->first_position == base::DecodeU64(it->value().ToStringView());
    fn(key, same ? &*recorded : nullptr);
  }
  return it->status().ok() ? Status::Ok() : FromRocks(it->status(), "storage fault");
}

// The `requests` index is complete up to the position `"requests-indexed"` holds: every group
// this binary writes moves it with the head. Behind the head, something else wrote the log —
// a binary from before the index (or one that went back to it): the records of the commits
// after it are indexed now, each under the stream of the event at its first position. The
// records are read in key order and their events in position order, a chunk at a time.
Status LogStore::IndexRequestsByTarget() {
  const uint64_t head = GetHead().position;
  std::string indexed;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_, kMetaRequestsIndexed, &indexed);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "storage fault");
  const uint64_t from = indexed.size() == 8 ? base::DecodeU64(indexed) : 0;
  if (from >= head) return Status::Ok();
  std::vector<std::pair<uint64_t, std::string>> chunk;  // first position, record key
  size_t chunk_bytes = 0;
  auto index_chunk = [&]() -> Status {
    std::sort(chunk.begin(), chunk.end());
    rocksdb::WriteBatch batch;
    std::unique_ptr<rocksdb::Iterator> log(db_->NewIterator(rocksdb::ReadOptions(), log_));
    for (const auto& [first, key] : chunk) {
      log->Seek(LogKey(first));
      if (!log->Valid() || log->key() != LogKey(first)) continue;  // in a lost range
      // A damaged event is verify's to name; its record stays unindexed.
      Result<Event> target = events::DecodeEvent(log->value().ToStringView());
      if (!target.ok()) continue;
      const size_t tenant_end = 1u + static_cast<uint8_t>(key[0]);
      batch.Put(requests_,
                RequestKey(std::string_view(key).substr(1, tenant_end - 1), target->stream,
                           std::string_view(key).substr(tenant_end)),
                base::U64Key(first));
    }
    if (!log->status().ok()) return FromRocks(log->status(), "storage fault");
    chunk.clear();
    chunk_bytes = 0;
    rocksdb::Status written = db_->Write(rocksdb::WriteOptions(), &batch);
    return written.ok() ? Status::Ok() : FromRocks(written, "storage fault");
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), idempotency_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const std::string_view value = it->value().ToStringView();
    if (key.empty() || key.size() <= 1u + static_cast<uint8_t>(key[0]) || value.size() < 16) {
      continue;  // not a record this binary wrote
    }
    if (base::DecodeU64(value) <= from) continue;  // indexed when it was written
    chunk.emplace_back(base::DecodeU64(value), std::string(key));
    chunk_bytes += key.size() + 48;
    if (chunk_bytes >= limits::kGroupBytesMax) {
      if (Status c = index_chunk(); !c.ok()) return c;
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault");
  if (Status c = index_chunk(); !c.ok()) return c;
  rocksdb::WriteOptions synced;
  synced.sync = true;
  s = db_->Put(synced, meta_, kMetaRequestsIndexed, base::U64Key(head));
  return s.ok() ? Status::Ok() : FromRocks(s, "storage fault");
}

Status LogStore::PurgeOverwritten() {
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  std::vector<rocksdb::ColumnFamilyHandle*> families;
  rocksdb::Status s;
  {
    // Listed and flushed under the lock: no family is dropped (a rebuild's old generation,
    // verify's scratch families, whose handles go at once) while it is flushed.
    std::lock_guard lock(families_mu_);
    for (const auto& [name, handle] : families_) families.push_back(handle);
    s = db_->Flush(rocksdb::FlushOptions(), families);
  }
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (rocksdb::ColumnFamilyHandle* family : families) {
    if (!s.ok()) break;
    if (family->GetName().starts_with("p.") || family == idempotency_ || family == requests_) {
      s = db_->CompactRange(compact, family, nullptr, nullptr);
      // Swapped out by a rebuild meanwhile (its handle is kept): its files go with the drop.
      if (s.IsColumnFamilyDropped()) s = rocksdb::Status::OK();
    }
  }
  if (s.ok()) s = db_->FlushWAL(/*sync=*/true);
  return s.ok() ? Status::Ok() : FromRocks(s, "purge");
}

Result<Event> LogStore::DecodeForReaders(std::string_view bytes) {
  Result<Event> event = events::DecodeEvent(bytes);
  if (!event.ok() || !events::CarriesPersonal(event->body)) return event;
  if (personal_ != nullptr) {
    personal_->Open(*event);
  } else if (!event->personal_box.empty()) {
    event->personal = Personal::kUnreadable;  // a store opened without the engine's keys
  }
  return event;
}

Result<uint64_t> LogStore::StreamVersion(const std::string& tenant, const std::string& stream) {
  if (tenant.size() > limits::kIdBytesMax || stream.size() > limits::kIdBytesMax) return 0;
  DbGate::Shared gate(gate_);
  if (!db_) return Reopening();
  return DurableStreamVersion(StreamHeadKey(tenant, stream));
}

// A stream's version is its last index entry: the greatest key under its prefix. Every
// stream's first event is version 1, and no index entry is ever deleted, so a point lookup of
// that entry tells a new stream (every new record's) first: the Bloom filters answer it, where
// the backward seek reads a block of every table and was a fifth of the writer's time.
Result<uint64_t> LogStore::DurableStreamVersion(const std::string& prefix) {
  std::string position;
  const rocksdb::Status first =
      db_->Get(rocksdb::ReadOptions(), streams_, prefix + base::U64Key(1), &position);
  if (first.IsNotFound()) return uint64_t{0};
  if (!first.ok()) return FromRocks(first, "storage fault");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_));
  it->SeekForPrev(prefix + base::U64Key(UINT64_MAX));
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault");
  if (!it->Valid() || !it->key().starts_with(prefix)) return uint64_t{0};
  return base::DecodeU64(it->key().ToStringView().substr(prefix.size()));
}

VerifyReport LogStore::VerifyChain(const Progress& progress) {
  VerifyReport report;
  report.head = GetHead();
  DbGate::Shared gate(gate_);
  if (!db_) {
    report.ok = false;
    report.problem = Reopening().message();
    return report;
  }
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  read.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, log_));
  Hash prev{};
  auto broken = [&](uint64_t position, std::string problem) {
    report.ok = false;
    report.first_broken_position = position;
    report.problem = std::move(problem);
  };
  uint64_t expected = 1;
  uint64_t lost = 0;  // positions of recorded gaps: an accepted loss of the WAL's end
  TreeCheck tree(*this, read, report);
  // Steps `expected` over a recorded gap that starts there.
  auto skip_gap = [&] {
    if (const uint64_t end = GapEnd(expected); end != 0) {
      lost += end - expected + 1;
      for (; expected <= end; ++expected) tree.Add(expected, "");
    }
  };
  for (it->SeekToFirst(); it->Valid() && expected <= report.head.position; it->Next(), ++expected) {
    const uint64_t position = base::DecodeU64(it->key().ToStringView());
    if (position != expected) skip_gap();
    if (position != expected) {
      broken(expected, "event missing");
      break;
    }
    Result<Event> event = events::DecodeEvent(it->value().ToStringView());
    if (!event.ok()) {
      broken(position, "bytes fail FlatBuffers verification");
      break;
    }
    if (event->position != position) {
      broken(position, "envelope names another position");
      break;
    }
    if (event->prev_hash != prev) {
      broken(position, "prev_hash does not match the previous event's hash");
      break;
    }
    if (events::ComputeChainHash(it->value().ToStringView()) != event->hash) {
      broken(position, "hash does not match the event's bytes");
      break;
    }
    prev = event->hash;
    tree.Add(position, events::ReaderBytes(*event, it->value().ToStringView()));
    ++report.events_checked;
    if (progress && position % 65536 == 0) progress(position, report.head.position);
  }
  if (report.ok && !it->status().ok()) broken(expected, "read failed: " + it->status().ToString());
  if (report.ok) skip_gap();  // a gap the head ends in
  report.lost_positions = lost;
  if (report.ok && report.events_checked + lost != report.head.position) {
    broken(report.events_checked + 1, "event missing");
  }
  if (report.ok && prev != report.head.hash) {
    broken(report.head.position, "head record does not match the last event's hash");
  }
  it.reset();
  tree.Close();
  db_->ReleaseSnapshot(snapshot);
  if (progress) progress(report.events_checked, report.head.position);
  return report;
}

}  // namespace cledger::store
