#include "base/keys.h"

#include <cassert>
#include <cstring>

namespace cledger::base {

std::string U64Key(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

uint64_t DecodeU64(std::string_view bytes) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

void AppendComponent(std::string& key, std::string_view part) {
  assert(part.size() < 256);
  key.push_back(static_cast<char>(part.size()));
  key.append(part);
}

namespace {

bool IsPrintable(char c) { return c >= 0x20 && c < 0x7F && c != '\\'; }

bool AllPrintable(std::string_view text) {
  for (char c : text) {
    if (!IsPrintable(c)) return false;
  }
  return true;
}

}  // namespace

std::string ReadableKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  auto add = [&](std::string_view part) { out.append(out.empty() ? "" : " · ").append(part); };
  while (!key.empty()) {
    const auto length = static_cast<unsigned char>(key[0]);
    if (key.size() == 8) {  // a position or a count, as U64Key writes it
      add(std::to_string(DecodeU64(key)));
      break;
    }
    if (length < 0x20 && length < key.size() && AllPrintable(key.substr(1, length))) {
      add(key.substr(1, length));  // a component: lp(s)
      key.remove_prefix(1 + length);
    } else if (IsPrintable(key[0])) {
      size_t run = 0;
      while (run < key.size() && IsPrintable(key[run])) ++run;
      add(key.substr(0, run));
      key.remove_prefix(run);
    } else {
      add(std::string("\\x") + kHex[length >> 4] + kHex[length & 0xF]);
      key.remove_prefix(1);
    }
  }
  return out;
}

std::string EncodeHeadRecord(const HeadRecord& head) {
  std::string out = U64Key(head.position);
  out.append(reinterpret_cast<const char*>(head.hash.data()), head.hash.size());
  out += U64Key(static_cast<uint64_t>(head.last_recorded_at_us));
  out += U64Key(head.commits);
  return out;
}

std::optional<HeadRecord> DecodeHeadRecord(std::string_view bytes) {
  if (bytes.size() != kHeadRecordBytes) return std::nullopt;
  HeadRecord head;
  head.position = DecodeU64(bytes);
  std::memcpy(head.hash.data(), bytes.data() + 8, head.hash.size());
  head.last_recorded_at_us = static_cast<int64_t>(DecodeU64(bytes.substr(40)));
  head.commits = DecodeU64(bytes.substr(48));
  return head;
}

}  // namespace cledger::base
