#include "engine/store/export.h"

#include <rocksdb/db.h>

#include <map>
#include <memory>

#include "base/keys.h"
#include "engine/store/errors.h"
#include "engine/store/info_log.h"
#include "engine/store/keys.h"

namespace cledger::store {
namespace {

struct ReadOnlyDb {
  std::unique_ptr<rocksdb::DB> db;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families;
  ~ReadOnlyDb() {
    for (auto& [name, handle] : families) (void)db->DestroyColumnFamilyHandle(handle);
  }
};

Status OpenReadOnly(const std::string& path, ReadOnlyDb& out) {
  rocksdb::Options options;
  options.info_log = NoInfoLog();
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, path, &names);
  if (!s.ok()) return FromRocks(s, "cannot open " + path, "corrupt_ledger");
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open " + path, "corrupt_ledger");
  out.db.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) out.families[names[i]] = handles[i];
  return Status::Ok();
}

// Every data key of the key store with its subject ("s" · lp(tenant) · stream, the store's
// name): as the ledger recorded it or, for a subject it recorded none of, as the store itself
// did (keys made before the ledger recorded them, and keys another node made). The ledger's
// record wins, as it does for the ledger itself.
Result<std::vector<ReplicaDataKey>> DataKeys(ReadOnlyDb& ledger, const std::string& key_store_dir) {
  std::vector<ReplicaDataKey> keys;
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  options.info_log = NoInfoLog();
  if (!rocksdb::DB::OpenForReadOnly(options, key_store_dir, &raw).ok()) return keys;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, std::string> subjects;  // subject → key id
  auto each = [&](rocksdb::Iterator& it, std::string_view prefix) {
    for (it.Seek(prefix); it.Valid() && it.key().starts_with(prefix); it.Next()) {
      subjects["s" + it.key().ToString().substr(prefix.size())] = it.value().ToString();
    }
    return it.status();
  };
  std::unique_ptr<rocksdb::Iterator> stored(db->NewIterator(rocksdb::ReadOptions()));
  if (auto s = each(*stored, "s"); !s.ok()) return FromRocks(s, "key store", "corrupt_key_store");
  std::unique_ptr<rocksdb::Iterator> recorded(
      ledger.db->NewIterator(rocksdb::ReadOptions(), ledger.families[kCfMeta]));
  if (auto s = each(*recorded, kMetaSubjectKeyPrefix); !s.ok())
    return FromRocks(s, "storage fault");
  for (auto& [subject, key_id] : subjects) {
    ReplicaDataKey key{std::move(key_id), subject, {}};
    // A destroyed key has no "k" record: its subject was erased and stays so.
    if (db->Get(rocksdb::ReadOptions(), "k" + key.key_id, &key.wrapped).ok()) {
      keys.push_back(std::move(key));
    }
  }
  return keys;
}

}  // namespace

Result<Head> RecordedHead(const std::string& path) {
  ReadOnlyDb ledger;
  if (Status s = OpenReadOnly(path, ledger); !s.ok()) return s;
  std::string value;
  rocksdb::Status s =
      ledger.db->Get(rocksdb::ReadOptions(), ledger.families[kCfMeta], kMetaHead, &value);
  if (s.IsNotFound()) return Head{};
  if (!s.ok()) return FromRocks(s, "cannot read " + path, "corrupt_ledger");
  const std::optional<base::HeadRecord> head = base::DecodeHeadRecord(value);
  if (!head) return Status(Code::kCorruption, "corrupt_ledger", "the head record is damaged");
  return Head{head->position, head->hash};
}

Result<std::string> RecordedMasterKeyId(const std::string& path) {
  ReadOnlyDb ledger;
  if (Status s = OpenReadOnly(path, ledger); !s.ok()) return s;
  std::string id;
  rocksdb::Status s =
      ledger.db->Get(rocksdb::ReadOptions(), ledger.families[kCfMeta], kMetaMasterKeyId, &id);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "cannot read " + path, "corrupt_ledger");
  return id;
}

Status ExportLog(const std::string& path, const std::string& key_store_dir, size_t batch,
                 const std::function<Status(ReplicaGroup&&)>& sink) {
  ReadOnlyDb ledger;
  if (Status s = OpenReadOnly(path, ledger); !s.ok()) return s;
  if (!ledger.families.contains(kCfLog) || !ledger.families.contains(kCfIdempotency)) {
    return Status::InvalidArgument("not_a_ledger", path + " holds no ledger");
  }
  // The idempotency records, by the last position of the commit each answered.
  std::map<uint64_t, std::pair<std::string, std::string>> records;
  std::unique_ptr<rocksdb::Iterator> it(
      ledger.db->NewIterator(rocksdb::ReadOptions(), ledger.families[kCfIdempotency]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view value = it->value().ToStringView();
    if (value.size() < 16) continue;
    records[base::DecodeU64(value.substr(8, 8))] = {it->key().ToString(), it->value().ToString()};
  }
  auto keys = DataKeys(ledger, key_store_dir);
  if (!keys.ok()) return keys.status();
  ReplicaGroup group{{}, std::move(keys).value()};
  std::optional<Event> previous;
  it.reset(ledger.db->NewIterator(rocksdb::ReadOptions(), ledger.families[kCfLog]));
  for (it->SeekToFirst();; it->Next()) {
    std::optional<Event> event;
    if (it->Valid()) {
      auto decoded = DecodeEvent(it->value().ToStringView());
      if (!decoded.ok()) return decoded.status();
      event = std::move(decoded).value();
      if (event->position != (previous ? previous->position : 0) + 1) {
        return Status::InvalidArgument(
            "ledger_has_gaps", "position " + std::to_string(event->position) +
                                   " follows a gap (an accepted WAL loss): a cluster's log has "
                                   "none, so this ledger cannot be imported");
      }
    }
    if (previous) {
      ReplicaEvent& last = group.events.back();
      const auto record = records.find(last.position);
      last.commit_end = !event || record != records.end() ||
                        event->correlation_id != previous->correlation_id ||
                        event->recorded_at_us != previous->recorded_at_us;
      if (record != records.end()) {
        last.idempotency_key = record->second.first;
        last.idempotency_value = record->second.second;
      }
      if (last.commit_end && group.events.size() >= batch) {
        if (Status s = sink(std::move(group)); !s.ok()) return s;
        group = ReplicaGroup{};
      }
    }
    if (!event) break;
    group.events.push_back({event->position, it->value().ToString()});
    previous = std::move(event);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "storage fault", "corrupt_event");
  if (!group.events.empty()) return sink(std::move(group));
  return Status::Ok();
}

}  // namespace cledger::store
