// A connected byte stream: plain TCP now; TLS (OpenSSL over the same fd)
// implements the same interface. Blocking calls with socket timeouts.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace berth::http {

class Transport {
 public:
  virtual ~Transport() = default;
  // > 0 bytes read, 0 on orderly close, < 0 on error or timeout.
  virtual ssize_t readSome(void* buf, std::size_t size) = 0;
  // False on error/timeout. Writes everything or fails.
  virtual bool writeAll(const void* data, std::size_t size) = 0;
  // Sends `length` bytes of a file (sendfile where possible). False on error.
  virtual bool writeFile(int fd, uint64_t offset, uint64_t length) = 0;
  // Wakes a blocked read (graceful shutdown of an idle connection).
  virtual void shutdownRead() = 0;
  // Fails every pending and later read and write (a forced stop).
  virtual void shutdownBoth() = 0;
  // Applies to every later read and write.
  virtual void setTimeout(unsigned seconds) = 0;
  virtual const std::string& remote() const = 0;
  virtual bool secure() const = 0;
};
using TransportPtr = std::unique_ptr<Transport>;

// Takes ownership of a connected socket; sets the I/O timeouts.
TransportPtr makePlainTransport(int fd, std::string remote, unsigned timeout_seconds);

// TLS on the same port as plain HTTP: the first byte of a TLS ClientHello is
// 0x16, which no HTTP request starts with.
class TlsContext {
 public:
  // Loads a PEM certificate chain and key. Throws std::runtime_error (startup).
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  // Peeks at the first byte (waiting up to the timeout). True: the client speaks TLS.
  static bool clientSpeaksTls(int fd);
  // Runs the handshake; null (and the socket closed) when it fails.
  TransportPtr accept(int fd, std::string remote, unsigned timeout_seconds);

 private:
  void* ctx_;  // SSL_CTX*, kept out of the header
};

}  // namespace berth::http
