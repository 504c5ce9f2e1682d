// A small blocking HTTP(S) client for the `--server URL --token T` variants of the ops commands
// and the witness.
//
// One request per call, on a fresh connection: ops commands make a handful of requests, and a
// fresh connection never trips over a server that closed an idle one. The token travels only
// in the Authorization header; no message this file produces ever contains it.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cledger/status.h"

namespace cledger::cli {

struct RemoteReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Where the requests go, and as whom.
struct RemoteServer {
  std::string url;  // http://HOST[:PORT][/prefix] or https://…
  std::string token;
  // https: a PEM file of CA certificates (or a self-signed server certificate) trusted besides
  // the system's. Empty: the system's only.
  std::string ca_file;
};

// Sends `method target` to `server` with its bearer token. Over https the server's certificate
// must verify (chain and host name) or nothing is sent. A 2xx reply is a value. Anything else
// is a Status: an unreachable server is kUnavailable with reason "server_unreachable", a
// certificate that does not verify kUnavailable with "certificate_not_verified"; an error
// reply keeps the server's problem `code` as the reason and its `detail` in the message, e.g.
// "projection_not_found: no projection named 'x' (HTTP 404 from http://127.0.0.1:8080)".
Result<RemoteReply> Remote(const RemoteServer& server, const std::string& method,
                           const std::string& target, const std::string& body = {},
                           const std::string& accept = {});

// The --ca-file option of a command that takes --server, the same text everywhere.
CLI::Option* AddCaFile(CLI::App* cmd, std::string& ca_file);
// --token T, which CLEDGER_TOKEN stands in for when it is not given: a token typed on the
// command line wins (CLI11's own environment fallback let the variable override it).
CLI::Option* AddToken(CLI::App* cmd, std::string& token, const std::string& help);

// Remote, for a reply that must be a JSON object; any other reply is kIoError "bad_reply".
Result<boost::json::object> RemoteJson(const RemoteServer& server, const std::string& method,
                                       const std::string& target, const std::string& body = {});
// The objects of a list reply's "items"; a reply of another shape is kIoError "bad_reply".
Result<std::vector<boost::json::object>> ItemsOf(const boost::json::object& reply);

// --server URL, --token T (or CLEDGER_TOKEN) and --ca-file for a command that also works
// offline on `data` (--data DIR, or null): the two exclude each other. `token_help` says
// which token.
void AddServerOptions(CLI::App* cmd, std::string& url, std::string& token, std::string& ca_file,
                      CLI::Option* data, const std::string& token_help);
inline void AddServerOptions(CLI::App* cmd, RemoteServer& server, CLI::Option* data,
                             const std::string& token_help) {
  AddServerOptions(cmd, server.url, server.token, server.ca_file, data, token_help);
}

// "?a=1&b=x%20y" of the pairs whose value is not empty ("" when none is), each value
// percent-encoded.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& pairs);
// One path segment, percent-encoded ("a/b" → "a%2Fb").
std::string PathSegment(const std::string& text);

}  // namespace cledger::cli
