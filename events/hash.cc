#include "events/hash.h"

#include <openssl/evp.h>

#include <cassert>
#include <memory>

#include "base/hex.h"

namespace cledger {
namespace events {

Hash Sha256(std::initializer_list<std::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  Hash out{};
  unsigned int size = 0;
  // These calls fail only on allocation failure; an unhashed event must never be written.
  // Fetched once: EVP_sha256() would look the implementation up again on every call.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  bool ok = ctx && kSha256 && EVP_DigestInit_ex(ctx.get(), kSha256, nullptr) == 1;
  for (std::string_view part : parts) {
    ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &size) == 1 && size == out.size();
  if (!ok) std::abort();
  return out;
}

}  // namespace events

std::string Sha256Hex(std::string_view data) { return base::Hex(events::Sha256({data})); }

}  // namespace cledger
