#include "engine/api/tls.h"

#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cledger::api {
namespace {

namespace ssl = boost::asio::ssl;

Status Unusable(const std::string& what) {
  return Status(Code::kInvalidArgument, "tls_files", what);
}

// Checked first because OpenSSL says only "system lib" about a file it cannot open.
Status Readable(const char* what, const std::string& path) {
  if (path.empty()) {
    return Unusable(std::string("HTTPS needs both a certificate and a key file; the ") + what +
                    " file is missing");
  }
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Unusable(std::string("cannot read the TLS ") + what + " file " + path + ": " +
                    std::strerror(errno));
  }
  std::fclose(file);
  return Status::Ok();
}

// Versions and options: nothing older than TLS 1.2, no renegotiation (a client could make
// the server do handshake work at will), the server's cipher order.
void Harden(ssl::context& context) {
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::single_dh_use);
  SSL_CTX* native = context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // A key under a passphrase must fail to load, not stop the server to ask on the terminal.
  context.set_password_callback(
      [](size_t, ssl::context::password_purpose) { return std::string(); });
}

}  // namespace

Result<std::unique_ptr<ssl::context>> MakeTlsContext(const ServerOptions& options) {
  const std::string& cert = options.tls_cert_file;
  const std::string& key = options.tls_key_file;
  if (Status s = Readable("certificate", cert); !s.ok()) return s;
  if (Status s = Readable("key", key); !s.ok()) return s;
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  Harden(*context);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert, ec);
  if (ec) return Unusable(cert + " holds no usable PEM certificate chain: " + ec.message());
  context->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    return Unusable(key + " holds no unencrypted PEM private key that fits the certificate in " +
                    cert + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Unusable("the key in " + key + " does not fit the certificate in " + cert);
  }
  return context;
}

Status CheckTls(const ServerOptions& options) {
  if (!options.tls()) return Status::Ok();
  auto context = MakeTlsContext(options);
  return context.ok() ? Status::Ok() : context.status();
}

}  // namespace cledger::api
