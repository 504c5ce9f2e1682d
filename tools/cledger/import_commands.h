// cledger import's parsing of one JSON line into the command it runs.
#pragma once

#include <string>
#include <string_view>

#include "cledger/commands.h"
#include "cledger/status.h"

namespace cledger::cli::audit_tools {

struct ImportCommand {
  Command command;
  std::string idempotency_key;
};

// The command on one line. Without an idempotency_key the line's own bytes name it, so the
// same line run again, in this file or a re-run of it, is recognised and appends nothing.
Result<ImportCommand> ParseLine(std::string_view line);

}  // namespace cledger::cli::audit_tools
