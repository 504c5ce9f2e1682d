#include "engine/store/log_store.h"
#include "engine/store/raw_ledger.h"

namespace cledger {

Result<std::unique_ptr<RawLedger>> RawLedger::Open(const LedgerOptions& options) {
  auto store = store::LogStore::Open(store::StoreOptions{options, {}, {}});
  if (!store.ok()) return store.status();
  return std::unique_ptr<RawLedger>(std::move(store).value());
}

}  // namespace cledger
