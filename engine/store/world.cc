#include "cledger/world.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace cledger {
namespace {

class SystemClockImpl final : public Clock {
 public:
  int64_t NowMicros() override {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// The kernel's generator, read 4 KiB at a time: one system call per 256 event ids rather
// than one each. Bytes are handed out once and never reused.
class SystemRandomImpl final : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    std::lock_guard lock(mu_);
    while (size > 0) {
      if (used_ == sizeof buffer_) Refill();
      const size_t n = std::min(size, sizeof buffer_ - used_);
      std::memcpy(out, buffer_ + used_, n);
      std::memset(buffer_ + used_, 0, n);
      used_ += n;
      out += n;
      size -= n;
    }
  }

 private:
  void Refill() {
    for (size_t filled = 0; filled < sizeof buffer_;) {
      const ssize_t got = getrandom(buffer_ + filled, sizeof buffer_ - filled, 0);
      if (got < 0) std::abort();  // the kernel's generator never fails once seeded
      filled += static_cast<size_t>(got);
    }
    used_ = 0;
  }
  std::mutex mu_;
  uint8_t buffer_[4096];
  size_t used_ = sizeof buffer_;
};

// splitmix64: small, fast and good enough to drive simulations reproducibly.
class SeededRandomImpl final : public Random {
 public:
  explicit SeededRandomImpl(uint64_t seed) : state_(seed) {}
  void Fill(uint8_t* out, size_t size) override {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < size; ++i) {
      if (i % 8 == 0) word_ = Next();
      out[i] = static_cast<uint8_t>(word_ >> (8 * (i % 8)));
    }
  }

 private:
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::mutex mu_;
  uint64_t state_;
  uint64_t word_ = 0;
};

}  // namespace

std::shared_ptr<Clock> SystemClock() { return std::make_shared<SystemClockImpl>(); }
std::shared_ptr<Random> SystemRandom() { return std::make_shared<SystemRandomImpl>(); }
std::shared_ptr<Random> SeededRandom(uint64_t seed) {
  return std::make_shared<SeededRandomImpl>(seed);
}

}  // namespace cledger
