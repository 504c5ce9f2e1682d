#include <sys/random.h>

#include <chrono>
#include <cstdlib>
#include <mutex>

#include "cledger/world.h"

namespace cledger {
namespace {

class SystemClockImpl final : public Clock {
 public:
  int64_t NowMicros() override {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  }
};

class SystemRandomImpl final : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    while (size > 0) {
      const ssize_t got = getrandom(out, size, 0);
      if (got < 0) std::abort();  // the kernel's generator never fails once seeded
      out += got;
      size -= static_cast<size_t>(got);
    }
  }
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
