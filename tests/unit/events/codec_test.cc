#include "events/codec.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/text.h"
#include "engine/store/raw_ledger.h"
#include "events_generated.h"
#include "tests/support/sample_events.h"
#include "tests/support/temp_dir.h"

namespace cledger {
namespace {

using testing::SampleEvent;

Event Sealed(Event e) {
  std::string bytes = events::EncodeEvent(e);
  e.hash = events::ComputeChainHash(bytes);
  return e;
}

TEST_CASE("EveryEventTypeRoundTripsThroughItsStoredBytes") {
  for (const EventBody& body : testing::OneOfEveryEventType()) {
    CAPTURE(EventTypeName(body));
    const Event e = Sealed(SampleEvent(body));
    Result<Event> decoded = events::DecodeEvent(events::EncodeEvent(e));
    REQUIRE(decoded.ok());
    CHECK(*decoded == e);
  }
}

TEST_CASE("RedactingSecretsReplacesEachHashAndLeavesEveryOtherEventByteForByte") {
  for (const EventBody& body : testing::OneOfEveryEventType()) {
    CAPTURE(EventTypeName(body));
    const std::string stored = events::EncodeEvent(Sealed(SampleEvent(body)));
    Result<std::string> redacted = events::RedactSecrets(stored);
    REQUIRE(redacted.ok());
    Result<Event> decoded = events::DecodeEvent(*redacted);
    REQUIRE(decoded.ok());
    const std::string kept(base::kRedacted);
    if (const auto* reset = std::get_if<ContactPasswordReset>(&decoded->body)) {
      CHECK(reset->password_hash == kept);
    } else if (const auto* issued = std::get_if<TokenIssued>(&decoded->body)) {
      CHECK(issued->token_hash == kept);
    } else if (const auto* revoked = std::get_if<TokenRevoked>(&decoded->body)) {
      CHECK(revoked->token_hash == kept);
    } else {
      CHECK(*redacted == stored);
      continue;
    }
    CHECK(*redacted != stored);
    Event unredacted = *events::DecodeEvent(stored);
    unredacted.body = decoded->body;
    CHECK(*decoded == unredacted);  // the envelope, hash included, as stored
  }
  CHECK_FALSE(events::RedactSecrets("not an event").ok());
}

TEST_CASE("EventTypeNamesAreTheContractNames") {
  CHECK(EventTypeName(ContactPasswordReset{}) == "ContactPasswordReset");
  CHECK(EventTypeName(TenantCreated{}) == "TenantCreated");
  CHECK(EventTypeName(ContactConvertedToShared{}) == "ContactConvertedToShared");
  CHECK(IsEventTypeName("ContactShared"));
  CHECK_FALSE(IsEventTypeName("NONE"));
  CHECK_FALSE(IsEventTypeName("contactshared"));
}

TEST_CASE("EventTypeNamesAreTheSchemasBodyUnionInItsOrder") {
  REQUIRE(kEventTypeNames.size() == static_cast<size_t>(fb::Body::MAX));
  for (size_t i = 0; i < kEventTypeNames.size(); ++i) {
    CHECK(kEventTypeNames[i] == fb::EnumNamesBody()[i + 1]);
  }
}

TEST_CASE("TheHashCoversEveryByteSoAnyFlippedByteIsDetected") {
  const Event e = Sealed(SampleEvent(ContactCreated{"k1", "c1", testing::FullContactFields()}));
  std::string bytes = events::EncodeEvent(e);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string tampered = bytes;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Result<Event> decoded = events::DecodeEvent(tampered);
    const bool detected = !decoded.ok() || events::ComputeChainHash(tampered) != decoded->hash ||
                          decoded->prev_hash != e.prev_hash;
    CAPTURE(i);
    CHECK(detected);
  }
}

TEST_CASE("TruncatedOrForeignBytesAreDetectedInsteadOfCrashing") {
  Event e = Sealed(SampleEvent(ContactRestored{"k1"}));
  std::string bytes = events::EncodeEvent(e);
  for (size_t n = 0; n < bytes.size(); ++n) {
    // Trailing alignment padding may go unnoticed by the Verifier; the hash still tells.
    const std::string_view truncated = std::string_view(bytes).substr(0, n);
    Result<Event> decoded = events::DecodeEvent(truncated);
    CAPTURE(n);
    CHECK((!decoded.ok() || events::ComputeChainHash(truncated) != e.hash));
  }
  CHECK_FALSE(events::DecodeEvent("not a flatbuffer at all, just text").ok());
  std::string wrong_id = bytes;
  wrong_id[4] = 'X';  // the file identifier
  CHECK_FALSE(events::DecodeEvent(wrong_id).ok());
}

TEST_CASE("RandomlyCorruptedFramesNeverCrashTheDecoder") {
  std::mt19937_64 rng(1234);
  const std::vector<EventBody> bodies = testing::OneOfEveryEventType();
  int rejected = 0;
  for (int round = 0; round < 20'000; ++round) {
    std::string bytes = events::EncodeEvent(Sealed(SampleEvent(bodies[round % bodies.size()])));
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    Result<Event> decoded = events::DecodeEvent(bytes);  // must not crash or read out of bounds
    rejected += !decoded.ok();
  }
  CHECK(rejected > 0);
}

TEST_CASE("StockFlatcDecodesAnEventWrittenByTheEngine") {
  testing::TempDir dir;
  {
    LedgerOptions options;
    options.path = dir.Sub("data");
    auto ledger = RawLedger::Open(options);
    REQUIRE(ledger.ok());
    Commit commit;
    commit.tenant = "acme";
    commit.actor = {"alice", "owner"};
    commit.events.push_back({"contact-k1", ContactCreated{"k1", "", testing::FullContactFields()}});
    REQUIRE((*ledger)->Append(commit).ok());
    Result<std::string> raw = (*ledger)->ReadRaw(1);
    REQUIRE(raw.ok());
    std::ofstream(dir.Sub("event.bin"), std::ios::binary) << *raw;
  }
  int status = -1;
  testing::RunCommand(std::string(CLEDGER_FLATC) + " --json --strict-json --raw-binary -o " +
                          dir.path() + " " + CLEDGER_SOURCE_DIR + "/schemas/events.fbs -- " +
                          dir.Sub("event.bin") + " 2>&1",
                      &status);
  REQUIRE(status == 0);
  std::ifstream json_file(dir.Sub("event.json"));
  const std::string json((std::istreambuf_iterator<char>(json_file)), {});
  CHECK(json.find("\"body_type\": \"ContactCreated\"") != std::string::npos);
  CHECK(json.find("\"tenant\": \"acme\"") != std::string::npos);
  CHECK(json.find("\"first_name\": \"Ada\"") != std::string::npos);
  CHECK(json.find("\"position\": 1") != std::string::npos);
}

}  // namespace
}  // namespace cledger
