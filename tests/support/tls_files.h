// Certificates for tests over TLS, made with the openssl command as an operator would: a
// private CA, a server certificate it signed for 127.0.0.1 and localhost, and a second CA that
// signed nothing here (what a client trusting the wrong CA holds).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tests/support/temp_dir.h"

namespace cledger::testing {

struct TlsFiles {
  TempDir dir;
  std::string ca_file = dir.Sub("ca.pem");
  std::string cert_file = dir.Sub("server.pem");
  std::string key_file = dir.Sub("server.key");
  std::string other_ca_file = dir.Sub("other-ca.pem");

  TlsFiles() {
    Make(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca"
        " -keyout " +
        dir.Sub("ca.key") + " -out " + ca_file);
    Make(
        "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other"
        " -keyout " +
        dir.Sub("other-ca.key") + " -out " + other_ca_file);
    Make("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -keyout " +
         key_file + " -out " + dir.Sub("server.csr"));
    const std::string extensions = dir.Sub("server.ext");
    RunCommand(
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n'"
        " > " +
        extensions);
    Make("x509 -req -days 2 -in " + dir.Sub("server.csr") + " -CA " + ca_file + " -CAkey " +
         dir.Sub("ca.key") + " -CAcreateserial -extfile " + extensions + " -out " + cert_file);
  }

 private:
  void Make(const std::string& arguments) {
    int status = -1;
    const std::string said = RunCommand("openssl " + arguments + " 2>&1", &status);
    INFO(said);
    REQUIRE(status == 0);
  }
};

}  // namespace cledger::testing
