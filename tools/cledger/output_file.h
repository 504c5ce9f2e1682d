// Writing a subcommand's --output FILE without ever leaving half of it, or replacing what FILE
// is: a regular file (or a new path) is written beside itself and renamed into place, so a
// FILE that exists is complete; a device, a FIFO or a socket is written directly, as a shell
// redirection would; a symlink is followed, so the link stays and its target gets the output.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "cledger/status.h"

namespace cledger::cli {

// Writes what `write` puts on its stream to `path`. `write` returns false when it could not
// produce the whole output; nothing is then renamed into place. On failure the status says
// why, naming `path`.
Status WriteOutputFile(const std::string& path, const std::function<bool(std::ostream&)>& write);

}  // namespace cledger::cli
