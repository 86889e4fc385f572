// The TLS half of Socket (http_client.h): a blocking OpenSSL client on the
// connected descriptor, verifying the chain against the given CA bundle only
// (not the system store) and the server's IP address or DNS name.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <signal.h>

#include <cerrno>
#include <stdexcept>

#include "integration/support/http_client.h"

namespace berth::it {
namespace {

std::string tlsError(const std::string& what) {
  std::string out = what;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += std::string(": ") + buf;
  }
  return out;
}

bool isIpAddress(const std::string& name) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// OpenSSL writes with write(2), which raises SIGPIPE on a closed peer. Block
// it on this thread for the write and swallow one that came, rather than
// ignoring it process-wide (children such as the daemon would inherit that).
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

}  // namespace

void Socket::startTls(const std::string& host, const SocketOptions& options) {
  ERR_clear_error();
  tls_ctx_ = SSL_CTX_new(TLS_client_method());
  if (!tls_ctx_) throw std::runtime_error(tlsError("SSL_CTX_new"));
  SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(tls_ctx_, options.tls_ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error(tlsError("cannot load CA file " + options.tls_ca_file));
  tls_ = SSL_new(tls_ctx_);
  const std::string& name = options.tls_server_name.empty() ? host : options.tls_server_name;
  X509_VERIFY_PARAM* param = SSL_get0_param(tls_);
  if (isIpAddress(name)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    SSL_set_tlsext_host_name(tls_, name.c_str());
  }
  SSL_set_fd(tls_, fd_);
  if (SSL_connect(tls_) != 1) throw std::runtime_error(tlsError("TLS handshake with " + name + " failed"));
  if (long v = SSL_get_verify_result(tls_); v != X509_V_OK)
    throw std::runtime_error("TLS verification of " + name + " failed: " + X509_verify_cert_error_string(v));
}

bool Socket::tlsWrite(std::string_view data) {
  SigpipeGuard guard;
  while (!data.empty()) {
    std::size_t n = 0;
    if (SSL_write_ex(tls_, data.data(), data.size(), &n) != 1) {
      if (errno == EPIPE || errno == ECONNRESET) return false;
      throw std::runtime_error(tlsError("TLS write failed"));
    }
    data.remove_prefix(n);
  }
  return true;
}

std::size_t Socket::tlsRead(char* buf, std::size_t size) {
  std::size_t n = 0;
  if (SSL_read_ex(tls_, buf, size, &n) == 1) return n;
  int err = SSL_get_error(tls_, 0);
  if (err == SSL_ERROR_ZERO_RETURN) return 0;
  if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
    throw std::runtime_error("TLS read: timed out waiting for the server");
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;  // closed without close_notify
  throw std::runtime_error(tlsError("TLS read failed"));
}

void Socket::endTls() {
  if (tls_) SSL_free(tls_);
  if (tls_ctx_) SSL_CTX_free(tls_ctx_);
  tls_ = nullptr;
  tls_ctx_ = nullptr;
}

}  // namespace berth::it
