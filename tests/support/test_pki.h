#pragma once
// A throw-away PKI for tests that speak TLS to servers of their own: a CA and one server
// certificate signed by it (P-256, valid from an hour ago for a day), made with OpenSSL in
// memory. Clients trust ca_pem; the server presents server_chain_pem with server_key_pem.

#include <string>
#include <vector>

namespace isol8::test {

struct TestPki {
  std::string ca_pem;
  std::string server_chain_pem;  // the server's certificate, then the CA's
  std::string server_key_pem;
};

// The server certificate names `dns_names` (subjectAltName; the first is also its CN).
// Aborts the test process when OpenSSL fails: no test can run without it.
TestPki make_test_pki(const std::vector<std::string>& dns_names);

}  // namespace isol8::test
