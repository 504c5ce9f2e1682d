// Text every layer treats alike: blanks, ASCII case, email addresses, redacted secrets.
#pragma once

#include <optional>
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

// Edits (insert, delete, replace) between two words: Levenshtein's distance.
size_t EditDistance(std::string_view a, std::string_view b);

// The name in `names` nearest `given` (ASCII case aside) if it is at most `max_edits` edits
// away: what a typo most likely meant. None for a word far longer than every name, whatever
// its length, without comparing it.
template <typename Names>
std::optional<std::string_view> Nearest(std::string_view given, const Names& names,
                                        size_t max_edits = 2) {
  std::string lowered(given.substr(0, 256));  // past any name's length plus max_edits anyway
  for (char& c : lowered) c = AsciiLower(c);
  std::optional<std::string_view> best;
  size_t best_edits = max_edits + 1;
  for (std::string_view name : names) {
    if (given.size() > name.size() + max_edits) continue;
    if (const size_t edits = EditDistance(lowered, name); edits < best_edits) {
      best = name;
      best_edits = edits;
    }
  }
  return best;
}

}  // namespace cledger::base
