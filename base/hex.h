// Bytes as lowercase hexadecimal, two digits a byte: hashes, ids, bytes shown in messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cledger::base {

std::string Hex(std::span<const uint8_t> bytes);
std::string Hex(std::string_view bytes);

}  // namespace cledger::base
