#include "engine/domain/password.h"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "engine/domain/validate.h"

namespace cledger::domain {
namespace {

constexpr size_t kPasswordBytesMin = 10;
constexpr size_t kPasswordBytesMax = 128;
constexpr int kPasswordClassesMin = 3;
constexpr char kPolicy[] =
    "a password needs 10 to 128 bytes of UTF-8 text without control characters, using at "
    "least three of: lowercase letters, uppercase letters, digits, other characters";

constexpr size_t kTemporaryLength = 20;
// No 0/O, 1/l/I: temporary passwords are read off a screen and typed by hand.
constexpr std::string_view kLower = "abcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kUpper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr std::string_view kDigits = "23456789";
constexpr std::string_view kSymbols = "!#$%&*+-=?@^_";
constexpr std::string_view kAlphabet =
    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%&*+-=?@^_";
static_assert(kAlphabet.size() == kLower.size() + kUpper.size() + kDigits.size() + kSymbols.size());
static_assert(kAlphabet.size() <= 256, "one random byte must cover the alphabet");

// A generator that keeps failing to produce usable bytes is broken; better to stop than to
// spin forever or mint a predictable secret. Real generators need ~30 bytes per password.
constexpr size_t kRandomBytesBudget = size_t{1} << 20;

Status Weak(std::string_view problem) {
  return Status(Code::kInvalidArgument, "weak_password", std::string(problem) + "; " + kPolicy,
                "password");
}

int CountClasses(std::string_view s) {
  bool lower = false, upper = false, digit = false, other = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') {
      lower = true;
    } else if (c >= 'A' && c <= 'Z') {
      upper = true;
    } else if (c >= '0' && c <= '9') {
      digit = true;
    } else {
      other = true;
    }
  }
  return int{lower} + int{upper} + int{digit} + int{other};
}

// `s` is valid UTF-8, so its lead byte gives the first character's length.
bool IsOneRepeatedCharacter(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  const size_t width = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  const std::string_view first = s.substr(0, width);
  for (size_t i = width; i < s.size(); i += width) {
    if (s.substr(i, width) != first) return false;
  }
  return true;
}

bool HasEveryClass(std::string_view s) {
  for (std::string_view cls : {kLower, kUpper, kDigits, kSymbols}) {
    if (s.find_first_of(cls) == std::string_view::npos) return false;
  }
  return true;
}

// Uniform indices from random bytes by rejection: bytes at or above the largest multiple of
// `n` are discarded, so no index is favoured the way `byte % n` would favour the low ones.
class UniformPicker {
 public:
  explicit UniformPicker(Random& random) : random_(random) {}
  ~UniformPicker() { sodium_memzero(buffer_.data(), buffer_.size()); }
  UniformPicker(const UniformPicker&) = delete;
  UniformPicker& operator=(const UniformPicker&) = delete;

  size_t Below(size_t n) {
    const size_t limit = 256 - 256 % n;
    for (;;) {
      const uint8_t b = NextByte();
      if (b < limit) return b % n;
    }
  }

 private:
  uint8_t NextByte() {
    if (used_ == buffer_.size()) {
      if (drawn_ >= kRandomBytesBudget) std::abort();
      random_.Fill(buffer_.data(), buffer_.size());
      drawn_ += buffer_.size();
      used_ = 0;
    }
    return buffer_[used_++];
  }

  Random& random_;
  std::array<uint8_t, 64> buffer_{};
  size_t used_ = buffer_.size();
  size_t drawn_ = 0;
};

// libsodium must be initialised before use; a function-local static makes that happen once,
// thread-safely.
bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

Status HashFailed(std::string message) {
  return Status(Code::kIoError, "hash_failed", std::move(message));
}

// libsodium reads `size` bytes from the pointer; an empty view's data() may be null.
const char* DataOrEmpty(std::string_view s) { return s.empty() ? "" : s.data(); }

}  // namespace

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() < kPasswordBytesMin) return Weak("the password is too short");
  if (password.size() > kPasswordBytesMax) return Weak("the password is too long");
  if (!IsValidUtf8(password)) {
    return Weak("the password is not valid UTF-8 or contains control characters");
  }
  if (CountClasses(password) < kPasswordClassesMin) {
    return Weak("the password uses too few kinds of characters");
  }
  // Implied by the class rule today; kept so relaxing that rule never admits "aaaaaaaaaa".
  if (IsOneRepeatedCharacter(password)) return Weak("the password repeats one character");
  return Status::Ok();
}

std::string GenerateTemporaryPassword(Random& random) {
  UniformPicker picker(random);
  std::string password(kTemporaryLength, ' ');
  // Redrawing whole passwords until every class is present keeps the result uniform over
  // all qualifying passwords; about one draw in ten is redrawn.
  do {
    for (char& c : password) c = kAlphabet[picker.Below(kAlphabet.size())];
  } while (!HasEveryClass(password));
  return password;
}

Result<std::string> HashPassword(std::string_view password) {
  if (!SodiumReady()) return HashFailed("libsodium could not be initialised");
  std::array<char, crypto_pwhash_STRBYTES> encoded{};
  if (crypto_pwhash_str_alg(encoded.data(), DataOrEmpty(password), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return HashFailed("argon2id hashing failed (out of memory?)");
  }
  return std::string(encoded.data());
}

bool VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  // Only argon2id hashes are ever written; accepting others would allow a downgrade.
  constexpr std::string_view kPrefix = "$argon2id$";
  if (!encoded_hash.starts_with(kPrefix) || encoded_hash.size() >= crypto_pwhash_STRBYTES ||
      encoded_hash.find('\0') != std::string_view::npos || !SodiumReady()) {
    return false;
  }
  const std::string terminated(encoded_hash);  // libsodium wants a C string
  return crypto_pwhash_str_verify(terminated.c_str(), DataOrEmpty(password), password.size()) == 0;
}

}  // namespace cledger::domain
