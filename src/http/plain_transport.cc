#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "http/transport.h"

namespace berth::http {
namespace {

class PlainTransport final : public Transport {
 public:
  PlainTransport(int fd, std::string remote) : fd_(fd), remote_(std::move(remote)) {}
  ~PlainTransport() override { ::close(fd_); }

  ssize_t readSome(void* buf, std::size_t size) override {
    while (true) {
      ssize_t n = ::recv(fd_, buf, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }

  bool writeAll(const void* data, std::size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  bool writeFile(int fd, uint64_t offset, uint64_t length) override {
    // The kernel copies page cache to socket: no user-space buffer at all.
    // A blob that is not cached (uploads leave the page cache, see
    // UploadSession) is read ahead in large windows, so the disk streams
    // while the socket drains instead of serving 128 KiB at a time.
    constexpr uint64_t kStep = 8u << 20, kAhead = 32u << 20;
    off_t off = static_cast<off_t>(offset);
    const uint64_t end = offset + length;
    ::posix_fadvise(fd, off, static_cast<off_t>(std::min(length, kAhead)), POSIX_FADV_WILLNEED);
    uint64_t next_hint = offset + kAhead;
    while (static_cast<uint64_t>(off) < end) {
      if (next_hint < end && static_cast<uint64_t>(off) + kAhead >= next_hint + kStep) {
        ::posix_fadvise(fd, static_cast<off_t>(next_hint), static_cast<off_t>(std::min(kStep, end - next_hint)),
                        POSIX_FADV_WILLNEED);
        next_hint += kStep;
      }
      ssize_t n = ::sendfile(fd_, fd, &off, std::min<uint64_t>(end - static_cast<uint64_t>(off), kStep));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
    }
    return true;
  }

  void shutdownRead() override { ::shutdown(fd_, SHUT_RD); }
  void shutdownBoth() override { ::shutdown(fd_, SHUT_RDWR); }
  void setTimeout(unsigned seconds) override {
    timeval tv{static_cast<time_t>(seconds), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  const std::string& remote() const override { return remote_; }
  bool secure() const override { return false; }

 private:
  int fd_;
  std::string remote_;
};

}  // namespace

TransportPtr makePlainTransport(int fd, std::string remote, unsigned timeout_seconds) {
  auto t = std::make_unique<PlainTransport>(fd, std::move(remote));
  t->setTimeout(timeout_seconds);
  return t;
}

}  // namespace berth::http
