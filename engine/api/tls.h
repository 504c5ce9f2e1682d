// The server's side of TLS: the protocol versions it accepts and the certificate it proves
// itself with, loaded once at start.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "cledger/status.h"
#include "engine/api/server.h"

namespace cledger::api {

// A TLS 1.2+ server context holding the certificate chain and key `options` name; a Status
// naming the file that cannot be read, does not parse, or does not fit the other.
// REQUIRES: options.tls().
Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsContext(const ServerOptions& options);

}  // namespace cledger::api
