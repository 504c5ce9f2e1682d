// SHA-256 for the hash chain and for token digests.
#pragma once

#include <string>
#include <string_view>

#include "cledger/events.h"

namespace cledger::events {

// SHA-256 over the concatenation of `parts`.
Hash Sha256(std::initializer_list<std::string_view> parts);
using cledger::Sha256Hex;  // declared in the public cledger/events.h

}  // namespace cledger::events
