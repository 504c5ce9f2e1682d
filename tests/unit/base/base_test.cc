// The shared vocabulary: FORMAT.md's encodings, hex, email normalisation, RFC 3339 times.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "base/hex.h"
#include "base/keys.h"
#include "base/text.h"
#include "base/time.h"

namespace cledger::base {
namespace {

TEST_CASE("AProjectionKeyReadsAsItsTextComponentsAndNumber") {
  std::string key = "e";
  AppendComponent(key, "acme");
  CHECK(ReadableKey(key + U64Key(12)) == "e · acme · 12");
  std::string contact;
  AppendComponent(contact, "acme");
  AppendComponent(contact, "k-42");
  CHECK(ReadableKey(contact) == "acme · k-42");
  CHECK(ReadableKey(std::string("\x7f\\", 2)) == "\\x7f · \\x5c");
}

TEST_CASE("U64KeysAreBigEndianSoByteOrderIsNumericOrder") {
  CHECK(U64Key(0x0102030405060708) == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  CHECK(U64Key(255) < U64Key(256));
  CHECK(DecodeU64(U64Key(UINT64_MAX)) == UINT64_MAX);
  std::string key = "t";
  AppendComponent(key, "acme");
  CHECK(key == "t\004acme");
}

TEST_CASE("TheHeadRecordIsFiftySixBytesInFormatOrderAndReadsBack") {
  HeadRecord head{7, {}, -2, 9};
  head.hash.fill(0xAB);
  const std::string bytes = EncodeHeadRecord(head);
  REQUIRE(bytes.size() == kHeadRecordBytes);
  CHECK(kHeadRecordBytes == 56);
  CHECK(bytes.substr(0, 8) == U64Key(7));
  CHECK(bytes.substr(8, 32) == std::string(32, '\xAB'));
  CHECK(bytes.substr(40, 8) == std::string(8, '\xFF').replace(7, 1, "\xFE"));
  CHECK(bytes.substr(48, 8) == U64Key(9));
  const auto back = DecodeHeadRecord(bytes);
  REQUIRE(back.has_value());
  CHECK(back->position == 7);
  CHECK(back->hash == head.hash);
  CHECK(back->last_recorded_at_us == -2);
  CHECK(back->commits == 9);
  CHECK_FALSE(DecodeHeadRecord(bytes.substr(1)).has_value());
  CHECK_FALSE(DecodeHeadRecord(bytes + "x").has_value());
}

TEST_CASE("HexIsLowercaseTwoDigitsAByte") {
  CHECK(Hex(std::string_view("\x00\x0f\xa0\xff", 4)) == "000fa0ff");
  CHECK(Hex(std::string_view()) == "");
  const uint8_t bytes[] = {0xDE, 0xAD, 0xBE, 0xEF};
  CHECK(Hex(bytes) == "deadbeef");
}

TEST_CASE("NormalizeEmailTrimsSpacesAndLowercasesAsciiOnly") {
  CHECK(NormalizeEmail("  Alice@Example.COM\t") == "alice@example.com");
  CHECK(NormalizeEmail("bob@example.com") == "bob@example.com");
  CHECK(NormalizeEmail(" \t ") == "");
  CHECK(NormalizeEmail("\xC3\x89mile@X.org") == "\xC3\x89mile@x.org");  // É stays as it is
}

TEST_CASE("TimesAreFormattedInUtcWithSixFractionalDigits") {
  CHECK(Rfc3339Micros(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(Rfc3339Micros(1'795'062'699'123'456) == "2026-11-19T04:31:39.123456Z");
  CHECK(Rfc3339Micros(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(Rfc3339Micros(951'782'400'000'000) == "2000-02-29T00:00:00.000000Z");
  CHECK(Rfc3339Micros(253'402'300'799'999'999) == "9999-12-31T23:59:59.999999Z");
  CHECK(Rfc3339Micros(-62'135'596'800'000'000) == "0001-01-01T00:00:00.000000Z");
}

TEST_CASE("ExtremeTimesFormatWithoutOverflow") {
  CHECK(Rfc3339Micros(std::numeric_limits<int64_t>::max()) == "294247-01-10T04:00:54.775807Z");
  CHECK(Rfc3339Micros(std::numeric_limits<int64_t>::min()) == "-290308-12-21T19:59:05.224192Z");
}

}  // namespace
}  // namespace cledger::base
