#include "engine/store/keys.h"

#include <cassert>

namespace cledger::store {

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

std::string LogKey(uint64_t position) { return U64Key(position); }

std::string StreamHeadKey(std::string_view tenant, std::string_view stream) {
  std::string key;
  AppendComponent(key, tenant);
  AppendComponent(key, stream);
  return key;
}

std::string StreamEventKey(std::string_view tenant, std::string_view stream, uint64_t version) {
  return StreamHeadKey(tenant, stream) + U64Key(version);
}

std::string IdempotencyKey(std::string_view tenant, std::string_view key) {
  std::string out;
  AppendComponent(out, tenant);
  out.append(key);
  return out;
}

}  // namespace cledger::store
