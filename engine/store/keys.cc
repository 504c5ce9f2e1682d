#include "engine/store/keys.h"

#include "base/keys.h"

namespace cledger::store {

std::string LogKey(uint64_t position) { return base::U64Key(position); }

std::string StreamHeadKey(std::string_view tenant, std::string_view stream) {
  std::string key;
  base::AppendComponent(key, tenant);
  base::AppendComponent(key, stream);
  return key;
}

std::string StreamEventKey(std::string_view tenant, std::string_view stream, uint64_t version) {
  return StreamHeadKey(tenant, stream) + base::U64Key(version);
}

std::string IdempotencyKey(std::string_view tenant, std::string_view key) {
  std::string out;
  base::AppendComponent(out, tenant);
  out.append(key);
  return out;
}

std::string SubjectKeyIdKey(std::string_view subject) {
  return std::string(kMetaSubjectKeyPrefix).append(subject);
}

std::string RequestKey(std::string_view tenant, std::string_view stream, std::string_view key) {
  return StreamHeadKey(tenant, stream).append(key);
}

}  // namespace cledger::store
