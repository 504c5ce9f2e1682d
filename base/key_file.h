// Secret keys kept in files of their own, outside the data directory: created once with mode
// 0600 (never over another file), read back only when the file holds exactly the key's size.
// Failures are told as a reason (`why`) the caller puts in its own error.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cledger::base {

// The `size` bytes of the key file at `path`; nullopt, with `why`, for a missing or unreadable
// file or one of any other size, so a truncated or foreign file is never taken for a key.
std::optional<std::vector<uint8_t>> ReadKeyFile(const std::string& path, size_t size,
                                                std::string& why);

// Writes a new key file, mode 0600 from the start, and syncs it; refuses an existing file.
// Empty on success, otherwise why not.
std::string CreateKeyFile(const std::string& path, std::span<const uint8_t> key);

// Where a key of a data directory lives by default: beside it, its name plus `suffix`
// ("./data/" and "./data" both give "./data.master-key" for ".master-key").
std::string BesideDirectory(const std::string& dir, std::string_view suffix);

// Whether nothing exists at `path`: the one case where a key is created.
bool KeyFileMissing(const std::string& path);

}  // namespace cledger::base
