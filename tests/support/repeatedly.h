// A step run over and over on a thread of its own, beside what a test does on its own
// thread, until the test stops it (or it goes out of scope).
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace cledger::testing {

class Repeatedly {
 public:
  // `step` is given how many times it ran before.
  explicit Repeatedly(std::function<void(int)> step)
      : thread_([this, step = std::move(step)] {
          for (int i = 0; !stop_; ++i) step(i);
        }) {}
  Repeatedly(const Repeatedly&) = delete;
  Repeatedly& operator=(const Repeatedly&) = delete;
  ~Repeatedly() { Stop(); }

  // Returns once the step running now has ended.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};  // before thread_: the thread reads it from its first step
  std::thread thread_;
};

}  // namespace cledger::testing
