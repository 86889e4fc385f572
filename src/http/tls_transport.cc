// TLS over a blocking socket with OpenSSL: the same Transport contract as
// plain TCP, so connections, handlers and tests do not know the difference.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include "http/transport.h"

namespace berth::http {
namespace {

std::string sslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

void setTimeouts(int fd, unsigned seconds) {
  timeval tv{static_cast<time_t>(seconds), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

class TlsTransport final : public Transport {
 public:
  TlsTransport(int fd, SSL* ssl, std::string remote) : fd_(fd), ssl_(ssl), remote_(std::move(remote)) {}
  ~TlsTransport() override {
    SSL_shutdown(ssl_);  // send close_notify; do not wait for the peer's
    SSL_free(ssl_);
    ::close(fd_);
  }

  ssize_t readSome(void* buf, std::size_t size) override {
    int n = SSL_read(ssl_, buf, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    if (n > 0) return n;
    return SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }

  bool writeAll(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      int n = SSL_write(ssl_, p, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
      if (n <= 0) return false;
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  bool writeFile(int fd, uint64_t offset, uint64_t length) override {
    std::vector<char> buf(static_cast<std::size_t>(std::min<uint64_t>(length, 256 * 1024)));
    while (length > 0) {
      ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), length), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || !writeAll(buf.data(), static_cast<std::size_t>(n))) return false;
      offset += static_cast<uint64_t>(n);
      length -= static_cast<uint64_t>(n);
    }
    return true;
  }

  void shutdownRead() override { ::shutdown(fd_, SHUT_RD); }
  void shutdownBoth() override { ::shutdown(fd_, SHUT_RDWR); }
  void setTimeout(unsigned seconds) override { setTimeouts(fd_, seconds); }
  const std::string& remote() const override { return remote_; }
  bool secure() const override { return true; }

 private:
  int fd_;
  SSL* ssl_;
  std::string remote_;
};

}  // namespace

TlsContext::TlsContext(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw std::runtime_error("cannot create a TLS context: " + sslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    std::string err = sslError();
    SSL_CTX_free(ctx);
    throw std::runtime_error("cannot load TLS certificate " + cert_file + ": " + err);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    std::string err = sslError();
    SSL_CTX_free(ctx);
    throw std::runtime_error("cannot load TLS key " + key_file + ": " + err);
  }
  ctx_ = ctx;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

bool TlsContext::clientSpeaksTls(int fd) {
  unsigned char first = 0;
  ssize_t n;
  do {
    n = ::recv(fd, &first, 1, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  return n == 1 && first == 0x16;
}

TransportPtr TlsContext::accept(int fd, std::string remote, unsigned timeout_seconds) {
  setTimeouts(fd, timeout_seconds);
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {
    spdlog::debug("TLS handshake with {} failed: {}", remote, sslError());
    if (ssl) SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<TlsTransport>(fd, ssl, std::move(remote));
}

}  // namespace berth::http
