#include "engine/domain/password.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cledger/world.h"

namespace cledger::domain {
namespace {

constexpr std::string_view kLower = "abcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kUpper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr std::string_view kDigits = "23456789";

bool HasAnyOf(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

// Plays back a fixed byte sequence, cyclically.
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  void Fill(uint8_t* out, size_t size) override {
    for (size_t i = 0; i < size; ++i) out[i] = bytes_[next_++ % bytes_.size()];
  }

 private:
  std::vector<uint8_t> bytes_;
  size_t next_ = 0;
};

// ---- Policy ----

TEST_CASE("PasswordsMeetingThePolicyPass") {
  for (const std::string& password :
       {std::string("Correct-Horse-9"), std::string("correct horse 42"), std::string("Abcdefgh1!"),
        std::string("PASSWORD-WITH-DIGITS-1"), std::string("Zo\xC3\xAB-unicode-OK"),
        "Aa1" + std::string(125, 'x')}) {
    CAPTURE(password);
    CHECK(CheckPasswordPolicy(password).ok());
  }
}

TEST_CASE("PasswordsOutside10To128BytesAreWeak") {
  CHECK_FALSE(CheckPasswordPolicy("Abcdef1!x").ok());  // 9 bytes
  CHECK_FALSE(CheckPasswordPolicy("").ok());
  CHECK_FALSE(CheckPasswordPolicy("Aa1" + std::string(126, 'x')).ok());  // 129 bytes
}

TEST_CASE("PasswordsUsingFewerThanThreeClassesAreWeak") {
  for (const std::string password : {"alllowercase", "ALLUPPERCASE1", "1234567890", "abcdefgh12",
                                     "!!!!!!!!!!aa", "aaaaaaaaaaaaaaaa",
                                     "\xC3\xA9\xC3\xA9\xC3\xA9"
                                     "\xC3\xA9\xC3\xA9 12"}) {
    CAPTURE(password);
    CHECK_FALSE(CheckPasswordPolicy(password).ok());
  }
}

TEST_CASE("InvalidUtf8OrControlCharactersMakeAPasswordWeak") {
  CHECK_FALSE(CheckPasswordPolicy("Abcdefgh1\xC0\xAF").ok());
  CHECK_FALSE(CheckPasswordPolicy("Abcdefgh1\xED\xA0\x80").ok());
  CHECK_FALSE(CheckPasswordPolicy("Abcdefgh1\xE2\x82").ok());
  CHECK_FALSE(CheckPasswordPolicy("Abcdefgh1\n2").ok());
  CHECK_FALSE(CheckPasswordPolicy(std::string("Abcdefgh1\0x", 11)).ok());
}

TEST_CASE("ARejectedPasswordIsNamedWeakAndNeverQuotedInTheMessage") {
  for (const std::string& password :
       {std::string("Zq9Zq9Zq9"), std::string("xkcdxkcdxkcdxkcd"), std::string("QWERTYQWERTY"),
        std::string("Vx7Vx7Vx7\nVx7"), "Jw3" + std::string(200, 'w')}) {
    CAPTURE(password);
    const Status s = CheckPasswordPolicy(password);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(s.reason() == "weak_password");
    CHECK(s.field() == "password");
    CHECK(s.message().find("10 to 128") != std::string::npos);  // it states the policy
    // Not the password, nor any four-character piece of it.
    for (size_t i = 0; i + 4 <= password.size(); ++i) {
      CHECK(s.ToString().find(password.substr(i, 4)) == std::string::npos);
    }
  }
}

// ---- Temporary passwords ----

TEST_CASE("TemporaryPasswordsAreTwentyUnambiguousCharactersOfEveryClass") {
  auto random = SeededRandom(42);
  for (int i = 0; i < 500; ++i) {
    const std::string password = GenerateTemporaryPassword(*random);
    CAPTURE(password);
    CHECK(password.size() == 20);
    CHECK_FALSE(HasAnyOf(password, "0O1lI"));
    CHECK(HasAnyOf(password, kLower));
    CHECK(HasAnyOf(password, kUpper));
    CHECK(HasAnyOf(password, kDigits));
    CHECK(std::any_of(password.begin(), password.end(), [](char c) {
      return !HasAnyOf(std::string_view(&c, 1), kLower) &&
             !HasAnyOf(std::string_view(&c, 1), kUpper) &&
             !HasAnyOf(std::string_view(&c, 1), kDigits);
    }));
    CHECK(CheckPasswordPolicy(password).ok());
  }
}

TEST_CASE("TemporaryPasswordsDiffer") {
  auto random = SystemRandom();
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(GenerateTemporaryPassword(*random));
  CHECK(seen.size() == 1000);
  auto a = SeededRandom(1);
  auto b = SeededRandom(2);
  CHECK(GenerateTemporaryPassword(*a) != GenerateTemporaryPassword(*b));
}

TEST_CASE("TemporaryPasswordsComeOnlyFromTheGivenRandomSource") {
  auto a = SeededRandom(7);
  auto b = SeededRandom(7);
  for (int i = 0; i < 10; ++i)
    CHECK(GenerateTemporaryPassword(*a) == GenerateTemporaryPassword(*b));
}

TEST_CASE("BytesThatWouldBiasTheDrawAreSkipped") {
  // 255 is at or above the largest multiple of any alphabet size that does not divide 256,
  // so rejection sampling must skip it; `byte % size` would turn it into a character.
  ScriptedRandom clean({0, 25, 49, 57});
  ScriptedRandom noisy({255, 0, 255, 25, 255, 49, 255, 57});
  CHECK(GenerateTemporaryPassword(noisy) == GenerateTemporaryPassword(clean));
}

TEST_CASE("TemporaryPasswordCharactersAreUniformWithinEachClass") {
  // Modulo bias would make the alphabet's first 46 characters a third likelier than the rest;
  // within a class every character must come up about equally often.
  auto random = SeededRandom(2024);
  std::map<char, int> counts;
  for (int i = 0; i < 10'000; ++i) {
    for (char c : GenerateTemporaryPassword(*random)) ++counts[c];
  }
  for (std::string_view cls : {kLower, kUpper, kDigits, std::string_view("!#$%&*+-=?@^_")}) {
    CAPTURE(cls);
    int least = counts[cls[0]], most = counts[cls[0]];
    for (char c : cls) {
      least = std::min(least, counts[c]);
      most = std::max(most, counts[c]);
    }
    CHECK(least > 0);
    CHECK(most < least * 1.15);
  }
  CHECK(counts.size() == 70);
}

// ---- Hashing (argon2id costs ~160 ms a call: four calls in all) ----

constexpr char kPassword[] = "Correct-Horse-9 battery";

const std::string& SampleHash() {
  static const std::string hash = [] {
    Result<std::string> h = HashPassword(kPassword);
    REQUIRE(h.ok());
    return *h;
  }();
  return hash;
}

TEST_CASE("AHashIsArgon2idAndNeverContainsThePlaintext") {
  const std::string& hash = SampleHash();
  CHECK(hash.starts_with("$argon2id$v=19$"));
  CHECK(hash.find(kPassword) == std::string::npos);
  CHECK(hash.find("Correct") == std::string::npos);
  CHECK(hash.find("battery") == std::string::npos);
}

TEST_CASE("AHashVerifiesItsPasswordAndRejectsAnother") {
  CHECK(VerifyPassword(SampleHash(), kPassword));
  CHECK_FALSE(VerifyPassword(SampleHash(), "correct-Horse-9 battery"));
}

TEST_CASE("HashingTheSamePasswordTwiceGivesDifferentSaltedHashes") {
  const Result<std::string> again = HashPassword(kPassword);
  REQUIRE(again.ok());
  CHECK(*again != SampleHash());
}

TEST_CASE("MalformedOrForeignHashesNeverVerify") {
  const std::string& hash = SampleHash();
  CHECK_FALSE(VerifyPassword("", kPassword));
  CHECK_FALSE(VerifyPassword("garbage", kPassword));
  CHECK_FALSE(VerifyPassword(kPassword, kPassword));
  CHECK_FALSE(VerifyPassword("$argon2i$" + hash.substr(10), kPassword));  // no downgrade
  CHECK_FALSE(VerifyPassword(hash.substr(0, 25), kPassword));
  CHECK_FALSE(VerifyPassword(hash + std::string(200, 'A'), kPassword));
  CHECK_FALSE(
      VerifyPassword(hash.substr(0, 20) + std::string(1, '\0') + hash.substr(20), kPassword));
}

}  // namespace
}  // namespace cledger::domain
