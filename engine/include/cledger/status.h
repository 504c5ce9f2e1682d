// Errors are values: no exception crosses the engine's boundary.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cledger {

// The category of a failure; it decides the HTTP status. Never renumbered.
enum class Code {
  kOk = 0,
  kInvalidArgument = 1,   // bad input: 400/422
  kNotFound = 2,          // 404
  kPermissionDenied = 3,  // 403
  kConflict = 4,          // a rule refused the command: 409
  kVersionMismatch = 5,   // expected stream version differs: 412
  kLimitExceeded = 6,     // a named limit was hit: 413/422
  kCorruption = 7,        // bytes on disk fail verification: 500
  kIoError = 8,           // storage fault: 503
  kUnauthenticated = 9,   // 401
  kUnavailable = 10,      // shutting down, or storage resuming after a fault: 503
  kNoSpace = 11,          // the data directory's disk is (nearly) full: 507
};

// A failure: a category, a stable machine-readable `reason` (e.g. "email_taken"), a message
// for humans that never contains a secret, and the offending field when there is one.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string reason, std::string message, std::string field = {})
      : code_(code),
        reason_(std::move(reason)),
        message_(std::move(message)),
        field_(std::move(field)) {}
  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string reason, std::string message, std::string field = {}) {
    return {Code::kInvalidArgument, std::move(reason), std::move(message), std::move(field)};
  }
  static Status NotFound(std::string reason, std::string message) {
    return {Code::kNotFound, std::move(reason), std::move(message)};
  }
  static Status LimitExceeded(std::string reason, std::string message) {
    return {Code::kLimitExceeded, std::move(reason), std::move(message)};
  }
  static Status Corruption(std::string reason, std::string message) {
    return {Code::kCorruption, std::move(reason), std::move(message)};
  }
  static Status IoError(std::string reason, std::string message) {
    return {Code::kIoError, std::move(reason), std::move(message)};
  }
  static Status Unavailable(std::string reason, std::string message) {
    return {Code::kUnavailable, std::move(reason), std::move(message)};
  }
  static Status NoSpace(std::string reason, std::string message) {
    return {Code::kNoSpace, std::move(reason), std::move(message)};
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }
  std::string ToString() const {
    return ok() ? "ok" : reason_ + ": " + message_ + (field_.empty() ? "" : " [" + field_ + "]");
  }

 private:
  Code code_ = Code::kOk;
  std::string reason_;
  std::string message_;
  std::string field_;
};

// A value or the Status that explains why there is none. A Result made from an OK status
// would hold neither: that is a programming error, caught in every build.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) {
      std::fputs("cledger: a Result was built from an OK status\n", stderr);
      std::abort();
    }
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T value_or(T fallback) const& { return value_ ? *value_ : std::move(fallback); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace cledger
