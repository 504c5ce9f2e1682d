// A small blocking HTTP client for the `--server URL --token T` variants of the ops commands.
//
// One request per call, on a fresh connection: ops commands make a handful of requests, and a
// fresh connection never trips over a server that closed an idle one. The token travels only
// in the Authorization header; no message this file produces ever contains it.
#pragma once

#include <map>
#include <string>

#include "cledger/status.h"

namespace cledger::cli {

struct RemoteReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Sends `method target` to `server` (http://HOST[:PORT][/prefix]) with the bearer `token`.
// A 2xx reply is a value. Anything else is a Status: an unreachable server is kUnavailable
// with reason "server_unreachable"; an error reply keeps the server's problem `code` as the
// reason and its `detail` in the message, e.g. "projection_not_found: no projection named 'x'
// (HTTP 404 from http://127.0.0.1:8080)".
Result<RemoteReply> Remote(const std::string& server, const std::string& token,
                           const std::string& method, const std::string& target,
                           const std::string& body = {}, const std::string& accept = {});

}  // namespace cledger::cli
