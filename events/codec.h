// Encoding events as FlatBuffers and chaining their hashes.
//
// The stored bytes of an event are a plain FlatBuffer (identifier "CLEV", root `Event`).
// Its hash is SHA-256(prev_hash || the bytes with the `hash` field zeroed); the `hash` field
// is a fixed-size struct, so it is patched in place once computed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cledger/events.h"
#include "cledger/status.h"

namespace cledger::events {

inline constexpr uint32_t kSchemaVersion = 1;

// Encodes every field of `event`, its hash included as given.
std::string EncodeEvent(const Event& event);

// Verifies the bytes (flatbuffers::Verifier, identifier, a body present) and decodes them;
// declared in the public cledger/events.h, for readers of raw frames.
using cledger::DecodeEvent;

// The chain hash of encoded bytes whose `hash` field may hold anything.
// REQUIRES: the bytes passed DecodeEvent's verification.
Hash ComputeChainHash(std::string_view bytes);

// What readers outside the engine get of an event's bytes: the same bytes when the event
// carries no secret, otherwise the event re-encoded with each secret (`password_hash`,
// `token_hash`) reading base::kRedacted. A re-encoded event's bytes no longer match its chain
// hash, so a reader cannot verify the chain through such an event.
Result<std::string> RedactSecrets(std::string_view bytes);
// RedactSecrets for an event already decoded from (or encoded to) `stored`. These are also
// the Merkle tree's leaf data (docs/PROOFS.md), so every reader can prove what it reads and a
// proof never needs a secret. Evolution rule: the re-encoding of a redacted event must stay
// byte for byte what it is, or stored leaves stop matching (FORMAT.md, "The Merkle tree").
std::string ReaderBytes(const Event& event, std::string_view stored);
bool CarriesSecret(const EventBody& body);

// Writes `hash` into the encoded event's `hash` field.
// REQUIRES: the bytes came from EncodeEvent.
void PatchHash(std::string& bytes, const Hash& hash);

// Events one after another, each size-prefixed as FlatBuffers prefixes a buffer (a 4-byte
// little-endian size, then the bytes): what `GET /v1/events` answers to
// `Accept: application/x-flatbuffers` and `cledger events dump --format raw` writes.
void AppendSizePrefixed(std::string& out, std::string_view bytes);
// The next event's bytes, `in` moved past them; nullopt once fewer than 4 bytes are left. A
// size reaching past the end gives the bytes that are there, which DecodeEvent refuses.
std::optional<std::string_view> NextSizePrefixed(std::string_view& in);

}  // namespace cledger::events
