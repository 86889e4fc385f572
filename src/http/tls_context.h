// A TLS configuration (OpenSSL through boost::asio::ssl): the server's
// certificate and key. Kept out of Asio's headers so that the code wiring the
// server compiles light; the front end reaches the Asio object through
// native(). The outbound client builds its own with client().
//
// Thread-safe once built (OpenSSL contexts are shared read-only).
#pragma once

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace berth::http {

class TlsContext {
 public:
  // A server context from a PEM certificate chain and key; TLS 1.2 at least.
  // Throws std::runtime_error naming the file that failed (startup).
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A client context: peers are verified against the system CA store plus
  // the PEM bundle `ca_file` ("" for none); TLS 1.2 at least. The host name
  // is checked per connection (client_connect.cc). Throws std::runtime_error
  // naming the file when it cannot be loaded (startup).
  static std::unique_ptr<TlsContext> client(const std::string& ca_file);

  boost::asio::ssl::context& native() { return *ctx_; }

 private:
  explicit TlsContext(std::unique_ptr<boost::asio::ssl::context> ctx);

  std::unique_ptr<boost::asio::ssl::context> ctx_;
};

}  // namespace berth::http
