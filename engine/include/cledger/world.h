// The world outside the engine — time and randomness — behind narrow interfaces so tests can
// use a fake clock and a seeded generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace cledger {

class Clock {
 public:
  virtual ~Clock() = default;
  // UTC microseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowMicros() = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with unpredictable bytes. Thread-safe.
  virtual void Fill(uint8_t* out, size_t size) = 0;
};

std::shared_ptr<Clock> SystemClock();
std::shared_ptr<Random> SystemRandom();
// Deterministic generator for tests and simulations; never for secrets in production.
std::shared_ptr<Random> SeededRandom(uint64_t seed);

}  // namespace cledger
