// A ledger's log read as a cluster's log of record takes it (cledger cluster import): the
// exact stored bytes in position order, in groups that end at a commit's last event, with the
// commits' idempotency records and the key store's data keys (still wrapped).
#pragma once

#include <functional>
#include <string>

#include "cledger/ledger.h"

namespace cledger::store {

// Reads the closed ledger at `path` (and its key store at `key_store_dir`, when it exists)
// and hands `sink` groups of about `batch` events; the first group carries every data key.
// A commit is told by its events' shared correlation id and recording time (an idempotency
// record ends one too). Refused (kInvalidArgument "ledger_has_gaps") when an accepted WAL
// loss left positions without events: the log of record has no gaps.
// The head recorded in the closed ledger at `path`, read without opening it for writing (no
// projection is folded, nothing is written).
Result<Head> RecordedHead(const std::string& path);
// The id of the master key the ledger at `path` was recorded under; empty when none.
Result<std::string> RecordedMasterKeyId(const std::string& path);

Status ExportLog(const std::string& path, const std::string& key_store_dir, size_t batch,
                 const std::function<Status(ReplicaGroup&&)>& sink);

}  // namespace cledger::store
