// Runs commands: decides who may run one before any work, prepares what the writer thread must
// not compute (fresh ids, token digests, argon2id password hashes), hands the decision to the
// store's single writer and completes the outcome once the commit is durable.
//
// Thread-safety: Submit may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <semaphore>

#include "cledger/commands.h"
#include "cledger/world.h"
#include "engine/domain/credentials.h"
#include "engine/domain/rules.h"
#include "engine/projection_host.h"
#include "engine/store/errors.h"
#include "engine/store/log_store.h"

namespace cledger {

class CommandRunner {
 public:
  CommandRunner(store::LogStore& store, ProjectionHost& host, std::shared_ptr<Random> random,
                std::shared_ptr<Clock> clock, const std::optional<domain::CredentialKeys>& keys);

  // As Engine::ExecuteAsync; `awaited`: as Engine::Execute, the caller waits for the outcome
  // before it submits anything else. REQUIRES: the future is consumed before this runner goes.
  std::future<Result<CommandOutcome>> Submit(const CommandContext& context, Command command,
                                             bool awaited = false);
  // As Engine::ExecuteThen.
  using Then = std::function<void(std::function<Result<CommandOutcome>()>)>;
  void SubmitThen(const CommandContext& context, Command command, Then then);
  // argon2id hashes and verifications of passwords run since the runner was made.
  uint64_t PasswordHashes() const { return password_hashes_.load(std::memory_order_relaxed); }

 private:
  // A command on its way to the writer, shared with the writer thread, which fills in
  // `decision`.
  struct Pending {
    CommandContext context;
    Command command;
    domain::Prepared prepared;
    CommandOutcome outcome;
    std::optional<domain::Decision> decision;
  };
  struct Queued {
    std::shared_ptr<Pending> pending;
    store::Decide decide;  // what the writer runs
    std::string fingerprint;
    store::Staged staged;  // what the writer runs once the commit is staged, if anything
  };
  // Everything before the writer: who may run it, whether it is a retry, what it needs
  // prepared (a password hash when it sets one).
  Result<Queued> Queue(const CommandContext& context, Command command, bool awaited);
  Status DecidedOnCommitted(const CommandContext& context, const Command& command);
  Result<bool> IsRetry(const CommandContext& context, const Command& command,
                       const std::string& fingerprint);
  Status CheckSamePassword(const store::LogStore::Recorded& recorded, const std::string& given);
  Status Prepare(const CommandContext& context, const Command& command, bool awaited,
                 domain::Prepared& prepared, CommandOutcome& outcome);
  Status RecordedTokenDigest(const std::string& token, std::string& digest);
  Status PreparePassword(const PasswordChoice& choice, domain::Prepared& prepared,
                         CommandOutcome& outcome, const Status& refused_by_rule = Status::Ok());
  Result<CommandOutcome> Finish(Result<CommitResult> committed, CommandOutcome outcome,
                                const std::optional<domain::Decision>& decision);
  void KeepRecord(store::Txn& txn, Pending& pending);

  store::LogStore& store_;
  ProjectionHost& host_;
  std::shared_ptr<Random> random_;
  std::shared_ptr<Clock> clock_;                // when an issued token expires
  std::optional<domain::CredentialKeys> keys_;  // none: opened without the master key
  std::counting_semaphore<> hashes_;            // argon2id hashes running now, at most one per core
  std::atomic<uint64_t> password_hashes_{0};
};

}  // namespace cledger
