// A progress line with rate and ETA on a terminal; nothing at all when stderr is piped.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cledger::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label)
      : label_(std::move(label)),
        tty_(isatty(STDERR_FILENO) != 0),
        started_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { Finish(); }

  // Thread-compatible; redraws at most ten times a second.
  void Update(uint64_t done, uint64_t total) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && done < total) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
    const int percent =
        total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total))
              : 100;
    std::string bar(20, ' ');
    for (int i = 0; i < percent / 5; ++i) bar[static_cast<size_t>(i)] = '#';
    std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu  %.0f/s  ETA %.0fs   ", label_.c_str(),
                 bar.c_str(), percent, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), rate, eta);
    drawn_ = true;
  }
  void Finish() {
    if (drawn_) std::fprintf(stderr, "\n");
    drawn_ = false;
  }

 private:
  std::string label_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace cledger::cli
