// Reads and writes on a Stream from a coroutine (asio::spawn), under the
// minimum-rate rule: waiting on the peer suspends the coroutine, never a
// thread, and a peer slower than the rule allows is cut (the pending
// operation is cancelled and timedOut() says why). The server's exchanges use
// it, and so will the outbound client of remote repositories.
//
// Not thread-safe: used by one coroutine; its timer runs on the coroutine's
// strand.
#pragma once

#include <boost/asio/spawn.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "http/stream.h"

namespace berth::http {

struct RateLimits {
  uint64_t min_bytes_per_second = 1024;
  std::chrono::seconds window{60};
};

class StreamIo {
 public:
  StreamIo(Stream& stream, asio::yield_context yield, RateLimits limits);
  ~StreamIo();
  StreamIo(const StreamIo&) = delete;
  StreamIo& operator=(const StreamIo&) = delete;

  // A transfer is one request body or one response: the rate is judged
  // within it, from its start. Operations outside a transfer are not timed.
  void beginTransfer();
  void endTransfer();

  // Suspends until some bytes arrive; 0 with `ec` set on EOF, error or timeout.
  std::size_t readSome(asio::mutable_buffer buffer, boost::system::error_code& ec);
  // Writes every byte (tries once without suspending first: a small response
  // then costs no scheduling at all).
  bool writeAll(const asio::const_buffer* buffers, std::size_t count);
  // Sends `length` bytes of `fd` from `offset`: sendfile(2) on plain
  // connections, read and encrypt on TLS ones. A disk read may block the
  // worker thread (that is what workers are for); the peer never does.
  // Returns the bytes sent: `length` unless the peer failed or was too slow.
  uint64_t sendFile(int fd, uint64_t offset, uint64_t length);

  bool timedOut() const;
  asio::yield_context& yield() { return yield_; }

 private:
  struct Watch;
  void armWatch();
  static void schedule(const std::shared_ptr<Watch>& w);
  void progress(std::size_t n);
  std::size_t writeNow(const asio::const_buffer* buffers, std::size_t count);
  bool waitWritable();

  Stream& stream_;
  asio::yield_context yield_;
  RateLimits limits_;
  std::shared_ptr<Watch> watch_;  // shared with the timer's pending handler
  bool brief_waits_ = true;  // waitWritable() may poll on the worker first (stream_io.cc)
};

}  // namespace berth::http
