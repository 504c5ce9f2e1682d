// Guards the database object against a reopen: readers hold it shared while they use the
// database or any of its handles, a reopen holds it exclusively.
//
// Readers may nest (a query that holds it calls a read that takes it again): the lock prefers
// readers, so a nested shared hold never waits behind a pending reopen. A reopen is rare and
// waits until no reader holds the gate.
#pragma once

#include <pthread.h>

#include <cstdlib>

namespace cledger::store {

class DbGate {
 public:
  DbGate() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_READER_NP);
    if (pthread_rwlock_init(&lock_, &attr) != 0) std::abort();
    pthread_rwlockattr_destroy(&attr);
  }
  ~DbGate() { pthread_rwlock_destroy(&lock_); }
  DbGate(const DbGate&) = delete;
  DbGate& operator=(const DbGate&) = delete;

  class [[nodiscard]] Shared {
   public:
    explicit Shared(DbGate& gate) : gate_(&gate) {
      if (pthread_rwlock_rdlock(&gate_->lock_) != 0) std::abort();
    }
    Shared(Shared&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;
    Shared& operator=(Shared&&) = delete;
    ~Shared() {
      if (gate_ != nullptr) pthread_rwlock_unlock(&gate_->lock_);
    }

   private:
    DbGate* gate_;
  };

  class [[nodiscard]] Exclusive {
   public:
    explicit Exclusive(DbGate& gate) : gate_(gate) {
      if (pthread_rwlock_wrlock(&gate_.lock_) != 0) std::abort();
    }
    ~Exclusive() { pthread_rwlock_unlock(&gate_.lock_); }
    Exclusive(const Exclusive&) = delete;
    Exclusive& operator=(const Exclusive&) = delete;

   private:
    DbGate& gate_;
  };

 private:
  pthread_rwlock_t lock_;
};

}  // namespace cledger::store
