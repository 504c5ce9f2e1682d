// The writer: one thread stages queued commands into a commit group and writes it as one
// synced WriteBatch (one WAL sync for the whole group; commands arriving meanwhile form the
// next group); a second thread answers the producers, so waking them never delays that write.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "base/hex.h"
#include "base/keys.h"
#include "cledger/limits.h"
#include "engine/store/errors.h"
#include "engine/store/keys.h"
#include "engine/store/log_store.h"
#include "events/codec.h"
#include "events/hash.h"
#include "events/personal.h"

namespace cledger::store {
namespace {

std::string FormatUuid(uint8_t bytes[16], uint8_t version) {
  bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0F) | (version << 4));
  bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3F) | 0x80);
  const std::string hex = base::Hex({bytes, 16});
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace

void LogStore::WriterLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Request>> group;
    {
      std::unique_lock lock(queue_mu_);
      // While the storage is not ok, wake now and then to recover without waiting for a write.
      while (!stopping_ && queue_.empty()) {
        if (health_ == "ok") {
          queue_cv_.wait(lock);
        } else if (queue_cv_.wait_for(lock, std::chrono::milliseconds(limits::kRecoveryPollMs)) ==
                   std::cv_status::timeout) {
          lock.unlock();
          RecoverWhileIdle();
          lock.lock();
        }
      }
      if (queue_.empty()) return;  // stopping, and every queued commit has been answered
      // Exclusive work runs alone; commits are grouped up to the next exclusive request.
      const bool exclusive = static_cast<bool>(queue_.front()->exclusive);
      do {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } while (!exclusive && !queue_.empty() && !queue_.front()->exclusive &&
               group.size() < limits::kCommitsPerGroupMax);
    }
    space_cv_.notify_all();
    if (group.front()->exclusive) {
      RunExclusiveRequest(*group.front());
    } else {
      WriteGroup(group);
    }
  }
}

void LogStore::RunExclusiveRequest(Request& request) {
  Status status = ReadyToStage();
  if (status.ok()) status = request.exclusive();
  committed_views_.Clear();  // the work may have written, or swapped, inline projections
  request.then(status.ok() ? Result<CommitResult>(CommitResult{}) : status);
}

// Stages requests until the batch reaches kGroupBytesMax; the rest go back to the queue.
Status LogStore::StageGroup(std::vector<std::unique_ptr<Request>>& group, Txn& txn,
                            GroupState& state, std::vector<Result<CommitResult>>& results) {
  for (auto& request : group) {
    if (txn.batch().GetDataSize() >= limits::kGroupBytesMax) break;
    results.push_back(Stage(*request, txn, state));
    const Status& last = results.back().status();
    // A storage fault met while staging one command leaves the group's view unreliable:
    // the whole group fails, and every command in it may be retried.
    if (last.code() == Code::kIoError || last.code() == Code::kCorruption) return last;
    if (!txn.status().ok()) return txn.status();
  }
  DeferUnstaged(group, results.size());
  return Status::Ok();
}

LogStore::GroupState LogStore::CurrentState() {
  GroupState state;
  {
    std::lock_guard lock(head_mu_);
    state.head = head_;
  }
  state.last_recorded_at_us = last_recorded_at_us_;
  state.commits = commits_;
  state.tree = tree_state_;
  return state;
}

// Stages every commit of the group into one WriteBatch, syncs it once, then answers all.
void LogStore::WriteGroup(std::vector<std::unique_ptr<Request>>& group) {
  Status failure = ReadyToStage();  // may reopen the database: read nothing before it
  Txn txn(db_.get(), /*coalesce=*/false, &committed_views_);
  GroupState state = CurrentState();
  std::vector<Result<CommitResult>> results;
  results.reserve(group.size());
  if (failure.ok()) failure = StageGroup(group, txn, state, results);
  if (failure.ok()) failure = WriteStaged(txn, state, /*replicate=*/true);
  // Keys handed out in a group that was not written are given to nobody: the next group does
  // not record them (nor, in a cluster, hand them to the other nodes).
  if (!failure.ok() && personal_ != nullptr) personal_->DropPending();
  for (size_t i = results.size(); i < group.size(); ++i) results.push_back(failure);
  for (auto& result : results) {
    if (!failure.ok() && result.ok()) result = failure;
  }
  {
    // Counted before anyone is answered, so a caller that reads the stats sees its commit.
    std::lock_guard lock(stats_mu_);
    for (const auto& result : results) ++(result.ok() ? stats_.commits : stats_.rejected);
  }
  // Waking dozens of waiting producers costs a system call each: the notifier thread does it,
  // while this thread goes on with the next group.
  {
    std::lock_guard lock(answers_mu_);
    for (size_t i = 0; i < group.size(); ++i) {
      answers_.push_back({std::move(group[i]), std::move(results[i])});
    }
  }
  answers_cv_.notify_one();
}

Status LogStore::WriteStaged(Txn& txn, GroupState& state, bool replicate) {
  if (txn.empty()) return Status::Ok();
  if (options_.inline_applied) options_.inline_applied(txn, state.head.position);
  txn.Put(meta_, kMetaHead,
          base::EncodeHeadRecord(
              {state.head.position, state.head.hash, state.last_recorded_at_us, state.commits}));
  txn.Put(meta_, kMetaRequestsIndexed, base::U64Key(state.head.position));
  Status failure = txn.status();
  if (failure.ok()) failure = ReadyToWrite(txn.batch().GetDataSize());
  // Positions are reserved (on disk, outside the WAL) before any of them is acknowledged.
  if (failure.ok() && state.head.position > reserved_through_) {
    failure = ReservePositions(state.head.position);
  }
  // In a cluster the log of record takes the group first, with the data keys it made: nothing
  // is kept, or acknowledged, that the other nodes cannot read. A refused group's keys are
  // forgotten with it (WriteGroup): another owner may meanwhile give those subjects keys of
  // its own.
  const bool replicating = replicate && options_.ledger.replicate;
  if (failure.ok() && replicating) {
    if (personal_ != nullptr) state.replica.data_keys = personal_->PendingKeys();
    failure = ListForgottenRequests(state);
    if (failure.ok()) failure = options_.ledger.replicate(state.replica);
  }
  // A data key is durable before any event sealed under it is. A failed write leaves the key
  // store to be reopened before anything is written again, as a failed log write does.
  if (failure.ok() && personal_ != nullptr) {
    failure = personal_->PersistNewKeys([&](std::string_view subject, std::string_view key_id) {
      txn.Put(meta_, SubjectKeyIdKey(subject), key_id);
    });
    if (!failure.ok()) MarkWriteFailed("key store write failed: " + failure.message());
  }
  if (!failure.ok()) return failure;
  rocksdb::WriteOptions write;
  write.sync = options_.ledger.sync;
  const auto started = std::chrono::steady_clock::now();
  rocksdb::Status s = WriteOne(write, txn.batch());
  RecordWrite(std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count(),
              s.ok());
  if (s.ok() && personal_ != nullptr) personal_->NewKeysRecorded();
  if (!s.ok()) {
    MarkWriteFailed("write failed: " + s.ToString());
    if (replicating && options_.ledger.replica_ahead) options_.ledger.replica_ahead();
    return Status::IoError("storage_error", "write failed: " + s.ToString());
  }
  CacheStreamVersions(state);
  txn.Durable();
  token_revocations_ += state.token_revocations;  // durable now, and nobody answered yet
  {
    std::lock_guard lock(head_mu_);
    head_ = state.head;
    last_recorded_at_us_ = state.last_recorded_at_us;
    commits_ = state.commits;
  }
  tree_state_ = state.tree;
  if (options_.on_durable) options_.on_durable(state.head.position);
  std::lock_guard lock(listener_mu_);
  if (listener_) listener_(state.head.position);
  return Status::Ok();
}

// What ForgetRequestsOf will forget here once the erasure is durable, the log of record
// forgets in the group's own transaction: requests made to an erased subject, recorded before
// the group or in it.
Status LogStore::ListForgottenRequests(GroupState& state) {
  std::vector<uint64_t>& forgotten = state.replica.forgotten_requests;
  for (const auto& [target, last_position] : state.requests) {
    if (state.erased.contains(target)) forgotten.push_back(last_position);
  }
  for (const Subject& subject : state.erased) {
    Status listed = EachRequestTo(subject, [&](std::string_view, const Recorded* recorded) {
      if (recorded != nullptr) forgotten.push_back(recorded->last_position);
    });
    if (!listed.ok()) return listed;
  }
  return Status::Ok();
}

Status LogStore::ApplyReplicated(const ReplicaGroup& group) {
  return RunExclusive([&] { return ApplyReplicatedOnWriter(group); });
}

// The follower's half of the writer: the events arrive decided, chained and encoded; each is
// checked against the head it must continue, then indexed and folded like a staged commit.
Status LogStore::ApplyReplicatedOnWriter(const ReplicaGroup& group) {
  // The keys first: the inline folds open the events' personal fields.
  if (personal_ != nullptr && !group.data_keys.empty()) {
    if (Status s = personal_->ImportKeys(group.data_keys); !s.ok()) return s;
  }
  Txn txn(db_.get());
  GroupState state = CurrentState();
  std::vector<std::pair<Event, std::string>> commit;
  // Each commit's idempotency record, by its target (the stream of its first event): one whose
  // subject this group erases is not kept (ForgetRequestsOf forgot those applied before).
  std::vector<std::pair<Subject, const ReplicaEvent*>> records;
  for (const ReplicaEvent& replica : group.events) {
    if (replica.position <= state.head.position) continue;
    Result<Event> event = DecodeForReaders(replica.bytes);
    if (!event.ok()) return event.status();
    if (event->position != replica.position || replica.position != state.head.position + 1 ||
        event->prev_hash != state.head.hash ||
        events::ComputeChainHash(replica.bytes) != event->hash) {
      return Status(Code::kCorruption, "replica_breaks_chain",
                    "the replicated event at position " + std::to_string(replica.position) +
                        " does not continue the local chain at " +
                        std::to_string(state.head.position));
    }
    state.head = {event->position, event->hash};
    state.last_recorded_at_us = std::max(state.last_recorded_at_us, event->recorded_at_us);
    commit.emplace_back(std::move(event).value(), replica.bytes);
    if (!replica.idempotency_key.empty()) {
      const Event& target = commit.front().first;
      records.emplace_back(Subject{target.tenant, target.stream}, &replica);
    }
    if (replica.commit_end) {
      if (Status s = StageEvents(commit, txn, state); !s.ok()) return s;
      ++state.commits;
      commit.clear();
    }
  }
  if (!commit.empty()) {
    return Status(Code::kCorruption, "replica_partial_commit",
                  "replicated events end inside a commit");
  }
  for (const auto& [target, replica] : records) {
    if (state.erased.contains(target)) continue;
    const std::string_view record_key = replica->idempotency_key;
    const size_t tenant_end = 1u + static_cast<uint8_t>(record_key.empty() ? 0 : record_key[0]);
    if (record_key.size() <= tenant_end || replica->idempotency_value.size() < 16) {
      return Status(Code::kCorruption, "replica_bad_request_record",
                    "a replicated idempotency record is malformed");
    }
    txn.Put(idempotency_, record_key, replica->idempotency_value);
    txn.Put(requests_,
            RequestKey(record_key.substr(1, tenant_end - 1), target.second,
                       record_key.substr(tenant_end)),
            replica->idempotency_value.substr(0, 8));
  }
  if (!txn.status().ok()) return txn.status();
  return WriteStaged(txn, state, /*replicate=*/false);
}

void LogStore::NotifierLoop() {
  for (;;) {
    std::vector<Answer> batch;
    {
      std::unique_lock lock(answers_mu_);
      answers_cv_.wait(lock, [&] { return notifier_stopping_ || !answers_.empty(); });
      if (answers_.empty()) return;
      batch.swap(answers_);
    }
    for (Answer& answer : batch) answer.request->then(std::move(answer.result));
  }
}

void LogStore::RecordWrite(int64_t micros, bool ok) {
  std::lock_guard lock(stats_mu_);
  ++stats_.groups;
  if (!ok) ++stats_.write_errors;
  size_t bucket = 0;
  while (bucket < std::size(LedgerStats::kBucketsUs) &&
         static_cast<uint64_t>(micros) > LedgerStats::kBucketsUs[bucket]) {
    ++bucket;
  }
  ++stats_.write_us_buckets[bucket];
  stats_.write_us_sum += static_cast<uint64_t>(micros);
}

LedgerStats LogStore::Stats() {
  LedgerStats stats;
  {
    std::lock_guard lock(stats_mu_);
    stats = stats_;
  }
  std::lock_guard lock(head_mu_);  // commits_ changes with the head, under its lock
  stats.total_commits = commits_;
  return stats;
}

void LogStore::SetCommitListener(std::function<void(uint64_t head)> listener) {
  std::lock_guard lock(listener_mu_);
  listener_ = std::move(listener);
}

// Requests past `staged` go back to the front of the queue, in order, for the next group:
// one batch never grows past kGroupBytesMax.
void LogStore::DeferUnstaged(std::vector<std::unique_ptr<Request>>& group, size_t staged) {
  if (staged == group.size()) return;
  {
    std::lock_guard lock(queue_mu_);
    for (size_t i = group.size(); i-- > staged;) queue_.push_front(std::move(group[i]));
  }
  group.resize(staged);
}

Result<CommitResult> LogStore::Stage(Request& request, Txn& txn, GroupState& state) {
  if (request.tenant.size() > limits::kIdBytesMax ||
      request.idempotency_key.size() > limits::kIdBytesMax) {
    return IdTooLong();
  }
  if (!request.idempotency_key.empty()) {
    auto seen = txn.Get(idempotency_, IdempotencyKey(request.tenant, request.idempotency_key));
    if (!seen.ok()) return seen.status();
    if (*seen) {
      const Recorded recorded = DecodeRecorded(**seen);
      if (!IsSameRequest(recorded, request.fingerprint)) return IdempotencyKeyReused();
      return CommitResult{recorded.first_position, recorded.last_position, true};
    }
  }
  Result<Commit> commit = request.decide(txn);
  if (!commit.ok()) return commit.status();
  commit->idempotency_key = request.idempotency_key;  // event ids derive from it
  Subject target;  // the stream of its first event, which an erasure forgets requests by
  if (!commit->events.empty()) target = {commit->tenant, commit->events.front().stream};
  Result<CommitResult> result = StageCommit(std::move(*commit), txn, state);
  if (result.ok() && request.staged) request.staged(txn);
  if (result.ok() && !request.idempotency_key.empty()) {
    std::string key = IdempotencyKey(request.tenant, request.idempotency_key);
    std::string value = base::U64Key(result->first_position) + base::U64Key(result->last_position) +
                        request.fingerprint;
    txn.Put(idempotency_, key, value);
    // Filed under the record's tenant. An erasure looks under its subject's: the same, since
    // only a tenant's creation and tokens commit to another tenant, and they are not erased.
    txn.Put(requests_, RequestKey(request.tenant, target.second, request.idempotency_key),
            base::U64Key(result->first_position));
    if (options_.ledger.replicate) {  // for the log of record (ListForgottenRequests)
      state.replica.events.back().idempotency_key = std::move(key);
      state.replica.events.back().idempotency_value = std::move(value);
      state.requests.emplace_back(std::move(target), result->last_position);
    }
  }
  return result;
}

Status LogStore::CheckCommit(const Commit& commit) const {
  if (commit.events.empty()) {
    return Status::InvalidArgument("empty_commit", "a commit needs at least one event");
  }
  if (commit.events.size() > limits::kEventsPerCommitMax) {
    return Status(Code::kLimitExceeded, "too_many_events", "too many events in one commit");
  }
  for (const NewEvent& event : commit.events) {
    if (event.stream.empty() || event.stream.size() > limits::kIdBytesMax) {
      return Status::InvalidArgument("invalid_stream", "stream names are 1 to 128 bytes", "stream");
    }
  }
  if (commit.actor.id.size() > limits::kIdBytesMax ||
      commit.correlation_id.size() > limits::kIdBytesMax) {
    return Status(Code::kLimitExceeded, "too_long", "actor or correlation id too long");
  }
  return Status::Ok();
}

// Validates, numbers, encodes and chains the commit's events; nothing reaches `txn` unless
// the whole commit is accepted.
Result<CommitResult> LogStore::StageCommit(Commit&& commit, Txn& txn, GroupState& state) {
  if (Status s = CheckCommit(commit); !s.ok()) return s;
  // Stream versions: this commit's, then the group's, then the cache of durable ones, then disk.
  // Every stream the commit names is looked up first, so a failed read fails it before
  // anything is staged.
  std::unordered_map<std::string, uint64_t> versions;
  auto key_of = [&](const std::string& stream) { return StreamHeadKey(commit.tenant, stream); };
  std::vector<std::string> streams;
  for (const ExpectedVersion& expected : commit.expected) streams.push_back(expected.stream);
  for (const NewEvent& event : commit.events) streams.push_back(event.stream);
  for (const std::string& stream : streams) {
    const std::string key = key_of(stream);
    if (versions.contains(key)) continue;
    auto version = StreamVersionForStaging(key, state);
    if (!version.ok()) return version.status();
    versions.emplace(key, *version);
  }
  auto version_of = [&](const std::string& stream) -> uint64_t& {
    return versions.find(key_of(stream))->second;
  };
  for (const ExpectedVersion& expected : commit.expected) {
    if (const uint64_t actual = version_of(expected.stream); actual != expected.version) {
      return StaleVersion(expected.stream, actual, expected.version);
    }
  }
  const std::string correlation_id =
      commit.correlation_id.empty() ? NewEventId(Commit{}, 0) : commit.correlation_id;
  Head head = state.head;
  int64_t recorded_at = std::max(options_.ledger.clock->NowMicros(), state.last_recorded_at_us);
  std::vector<std::pair<Event, std::string>> staged;
  for (size_t i = 0; i < commit.events.size(); ++i) {
    Event e;
    e.position = head.position + 1;
    e.tenant = commit.tenant;
    e.stream = commit.events[i].stream;
    e.stream_version = ++version_of(e.stream);
    e.event_id = NewEventId(commit, i);
    e.correlation_id = correlation_id;
    e.recorded_at_us = recorded_at;
    e.actor = commit.actor;
    e.schema_version = events::kSchemaVersion;
    e.prev_hash = head.hash;
    e.body = std::move(commit.events[i].body);
    std::string bytes;
    if (personal_ != nullptr && events::CarriesPersonal(e.body)) {
      Event sealed = e;  // `e` keeps the fields in the clear for the inline folds
      if (Status s = personal_->Seal(sealed); !s.ok()) return s;
      bytes = events::EncodeEvent(sealed);
    } else {
      bytes = events::EncodeEvent(e);
    }
    if (bytes.size() > limits::kEventBytesMax) {
      return Status(Code::kLimitExceeded, "event_too_large", "an event exceeds 64 KiB");
    }
    e.hash = events::ComputeChainHash(bytes);
    events::PatchHash(bytes, e.hash);
    head = {e.position, e.hash};
    staged.emplace_back(std::move(e), std::move(bytes));
  }
  if (Status s = StageEvents(staged, txn, state); !s.ok()) return s;
  if (options_.ledger.replicate) {
    for (auto& [event, bytes] : staged) state.replica.events.push_back({event.position, bytes});
    state.replica.events.back().commit_end = true;
  }
  CommitResult result{staged.front().first.position, head.position, false,
                      version_of(commit.events.front().stream)};
  ++state.commits;
  state.head = head;
  state.last_recorded_at_us = recorded_at;
  return result;
}

Status LogStore::StageEvents(std::vector<std::pair<Event, std::string>>& staged, Txn& txn,
                             GroupState& state) {
  std::vector<Event> appended;
  appended.reserve(staged.size());
  for (auto& [event, bytes] : staged) {
    txn.Put(log_, LogKey(event.position), bytes);
    if (events::CarriesSecret(event.body)) {
      StageLeaf(txn, state.tree, events::ReaderBytes(event, bytes));
    } else {
      StageLeaf(txn, state.tree, bytes);  // the common case: no copy
    }
    txn.Put(streams_, StreamEventKey(event.tenant, event.stream, event.stream_version),
            base::U64Key(event.position));
    state.versions[StreamHeadKey(event.tenant, event.stream)] = event.stream_version;
    if (std::holds_alternative<TokenRevoked>(event.body)) ++state.token_revocations;
    if (events::ErasedKeyId(event.body)) state.erased.emplace(event.tenant, event.stream);
    appended.push_back(std::move(event));  // positions and versions stay readable in `staged`
  }
  if (options_.inline_fold) return options_.inline_fold(txn, appended);
  return Status::Ok();
}

// The group's own staged versions, then the cache of durable ones, then the index on disk
// (which holds everything durable: a miss in both maps means no pending write either).
Result<uint64_t> LogStore::StreamVersionForStaging(const std::string& key,
                                                   const GroupState& state) {
  if (auto it = state.versions.find(key); it != state.versions.end()) return it->second;
  if (auto it = stream_versions_.find(key); it != stream_versions_.end()) return it->second;
  return DurableStreamVersion(key);
}

// Remembers the stream versions a durable group wrote, so most commits skip a read. Bounded:
// past the limit it starts over, and misses read the stream head from disk again.
void LogStore::CacheStreamVersions(GroupState& state) {
  if (stream_versions_.size() + state.versions.size() > limits::kCachedStreamsMax) {
    stream_versions_.clear();
  }
  for (auto& [key, version] : state.versions) stream_versions_[key] = version;
}

// With an idempotency key the id is derived from it, so a replayed command names the same
// events; otherwise it is random (UUIDv4).
std::string LogStore::NewEventId(const Commit& commit, size_t index) {
  uint8_t bytes[16];
  if (commit.idempotency_key.empty()) {
    options_.ledger.random->Fill(bytes, sizeof bytes);
    return FormatUuid(bytes, 4);
  }
  const std::string index_text = std::to_string(index);
  const Hash h =
      events::Sha256({"cledger-event-id", std::string(1, '\0'), commit.tenant, std::string(1, '\0'),
                      commit.idempotency_key, std::string(1, '\0'), index_text});
  std::memcpy(bytes, h.data(), sizeof bytes);
  return FormatUuid(bytes, 8);
}

}  // namespace cledger::store
