// Captures everything logged through spdlog's default logger while it lives, then puts the
// previous logger back, so a test can read exactly what the server wrote to its log.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

namespace cledger::testing {

class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_)));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string Text() {
    spdlog::default_logger()->flush();
    return lines_.str();
  }

 private:
  std::ostringstream lines_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace cledger::testing
