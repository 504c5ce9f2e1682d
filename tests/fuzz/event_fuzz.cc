// Event decoding with verification: DecodeEvent on arbitrary bytes, and on valid events with
// bytes flipped (the damage a disk or a hostile backup could do). Whatever verifies must
// decode to an event that encodes and decodes back to itself, and hash without a crash.
//
// The first input byte picks the mode: even, the rest of the input is the event's bytes;
// odd, the next byte picks a sample event of every type, and each following triple
// (offset low, offset high, xor mask) flips bits of its encoding.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "events/codec.h"
#include "tests/support/sample_events.h"

namespace {

using namespace cledger;

const std::vector<std::string>& Samples() {
  static const std::vector<std::string> samples = [] {
    std::vector<std::string> out;
    for (EventBody& body : testing::OneOfEveryEventType()) {
      out.push_back(events::EncodeEvent(testing::SampleEvent(std::move(body))));
    }
    return out;
  }();
  return samples;
}

void DecodeAndCheck(const std::string& bytes) {
  auto decoded = events::DecodeEvent(bytes);
  if (!decoded.ok()) {
    if (decoded.status().reason().empty()) std::abort();
    return;
  }
  (void)events::ComputeChainHash(bytes);
  const std::string again = events::EncodeEvent(*decoded);
  auto round_trip = events::DecodeEvent(again);
  if (!round_trip.ok() || !(*round_trip == *decoded)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 256 * 1024) return -1;
  if ((data[0] & 1) == 0) {
    DecodeAndCheck(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    return 0;
  }
  if (size < 2) return -1;
  std::string bytes = Samples()[data[1] % Samples().size()];
  for (size_t i = 2; i + 2 < size; i += 3) {
    const size_t offset = (data[i] | (size_t{data[i + 1]} << 8)) % bytes.size();
    bytes[offset] = static_cast<char>(bytes[offset] ^ data[i + 2]);
  }
  DecodeAndCheck(bytes);
  return 0;
}
