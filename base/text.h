// Text every layer treats alike: blanks, ASCII case, email addresses, redacted secrets.
#pragma once

#include <string>
#include <string_view>

namespace cledger::base {

// What a secret (a password hash, a token or its hash) reads as wherever it is shown: the
// events a reader gets, the API's views, the audit trail.
inline constexpr char kRedacted[] = "[redacted]";
// What an erased personal value reads as wherever a trail shows one (FORMAT.md, "Personal data").
inline constexpr char kErased[] = "[erased]";

// <cctype> depends on the locale; this must not.
inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `s` without leading and trailing spaces and tabs.
std::string_view TrimBlanks(std::string_view s);

// The form emails are compared in for uniqueness: spaces and tabs trimmed, ASCII lowercased.
std::string NormalizeEmail(std::string_view s);

}  // namespace cledger::base
