#include "http/stream_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <optional>
#include <vector>

#include "http/rate_guard.h"

namespace berth::http {

// The state the rate timer's handler needs; shared so that a handler still
// queued after the exchange ended finds it alive (and inactive).
struct StreamIo::Watch {
  explicit Watch(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  std::optional<RateGuard> guard;
  Stream* stream = nullptr;
  unsigned generation = 0;  // a handler from an older arming does nothing
  bool active = false, armed = false, expired = false;
};

StreamIo::StreamIo(Stream& stream, asio::yield_context yield, RateLimits limits)
    : stream_(stream), yield_(std::move(yield)), limits_(limits), watch_(std::make_shared<Watch>(yield_.get_executor())) {
  watch_->stream = &stream_;
}

StreamIo::~StreamIo() { endTransfer(); }

void StreamIo::beginTransfer() {
  endTransfer();
  watch_->guard.emplace(limits_.min_bytes_per_second, limits_.window, RateGuard::Clock::now());
  watch_->active = true;
}

void StreamIo::endTransfer() {
  auto& w = *watch_;
  if (!w.active) return;
  w.active = false;
  if (w.armed) {
    w.armed = false;
    ++w.generation;
    w.timer.cancel();
  }
}

bool StreamIo::timedOut() const { return watch_->expired; }

void StreamIo::progress(std::size_t n) {
  if (watch_->active && n > 0) watch_->guard->record(RateGuard::Clock::now(), n);
}

// Armed lazily, at the first wait of a transfer: most responses are written
// at once and never need the timer.
void StreamIo::armWatch() {
  auto& w = *watch_;
  if (!w.active || w.armed) return;
  w.armed = true;
  schedule(watch_);
}

void StreamIo::schedule(const std::shared_ptr<Watch>& w) {
  unsigned generation = ++w->generation;
  w->timer.expires_at(w->guard->deadline());
  w->timer.async_wait([w, generation](boost::system::error_code ec) {
    if (ec || generation != w->generation || !w->active) return;
    // Progress since the arming moved the deadline: wait again.
    if (RateGuard::Clock::now() < w->guard->deadline()) return schedule(w);
    w->expired = true;
    boost::system::error_code ignored;
    w->stream->socket().cancel(ignored);  // the pending read or write ends with operation_aborted
  });
}

std::size_t StreamIo::readSome(asio::mutable_buffer buffer, boost::system::error_code& ec) {
  if (watch_->expired) {
    ec = asio::error::timed_out;
    return 0;
  }
  if (!stream_.secure()) {
    // Try the socket first: an Asio read completes through the event loop
    // even when the data is already there (two thread hand-offs), which cost
    // a quarter of a fast upload's throughput. Only an empty socket waits.
    ssize_t got;
    do got = ::recv(stream_.socket().native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    while (got < 0 && errno == EINTR);
    if (got > 0) {
      progress(static_cast<std::size_t>(got));
      return static_cast<std::size_t>(got);
    }
    if (got == 0) {
      ec = asio::error::eof;
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }
  armWatch();
  std::size_t n = stream_.async_read_some(buffer, yield_[ec]);
  if (watch_->expired) {
    ec = asio::error::timed_out;
    return 0;
  }
  progress(n);
  return n;
}

// One non-blocking attempt on a plain socket; 0 when nothing could be sent.
std::size_t StreamIo::writeNow(const asio::const_buffer* buffers, std::size_t count) {
  if (stream_.secure() || count == 0) return 0;
  std::vector<iovec> iov(count);
  for (std::size_t i = 0; i < count; ++i)
    iov[i] = {const_cast<void*>(buffers[i].data()), buffers[i].size()};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = count;
  ssize_t n;
  do n = ::sendmsg(stream_.socket().native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool StreamIo::writeAll(const asio::const_buffer* buffers, std::size_t count) {
  std::vector<asio::const_buffer> rest(buffers, buffers + count);
  auto consume = [&rest](std::size_t n) {
    while (n > 0 && !rest.empty()) {
      std::size_t take = std::min(n, rest.front().size());
      rest.front() += take;
      n -= take;
      if (rest.front().size() == 0) rest.erase(rest.begin());
    }
    while (!rest.empty() && rest.front().size() == 0) rest.erase(rest.begin());
  };
  consume(0);
  std::size_t n = writeNow(rest.data(), rest.size());
  progress(n);
  consume(n);
  // A client cut for slowness still gets what fits at once (an error body),
  // but is never waited for again.
  if (watch_->expired) return rest.empty();
  while (!rest.empty()) {
    armWatch();
    boost::system::error_code ec;
    n = stream_.async_write_some(rest, yield_[ec]);
    if (ec || watch_->expired) return false;
    progress(n);
    consume(n);
  }
  return true;
}

// Waiting through the event loop costs two thread hand-offs each time the
// socket buffer drains (the loop's epoll, then the worker pool's queue); on a
// busy 2-core machine that cut one fast client's blob pull by a quarter. So
// the worker first waits on the socket itself, briefly: a client that keeps
// up wakes this thread directly, and one that does not is left to the loop
// while the worker goes back to the pool, under the minimum-rate watch as
// before (which runs while the coroutine is suspended). A client for which
// the brief wait was not enough is not waited for that way again until it
// proves fast: a crowd of slow readers must not hold workers in poll().
bool StreamIo::waitWritable() {
  if (watch_->expired) return false;
  constexpr int kBriefWaitMs = 10;
  if (brief_waits_) {
    pollfd p{stream_.socket().native_handle(), POLLOUT, 0};
    int ready;
    do ready = ::poll(&p, 1, kBriefWaitMs);
    while (ready < 0 && errno == EINTR);
    if (ready > 0) return true;  // writable, or an error that the next send reports
    brief_waits_ = false;
  }
  armWatch();
  boost::system::error_code ec;
  auto start = std::chrono::steady_clock::now();
  stream_.socket().async_wait(tcp::socket::wait_write, yield_[ec]);
  brief_waits_ = std::chrono::steady_clock::now() - start < std::chrono::milliseconds(kBriefWaitMs);
  return !ec && !watch_->expired;
}

uint64_t StreamIo::sendFile(int fd, uint64_t offset, uint64_t length) {
  if (stream_.secure()) {
    uint64_t sent = 0;
    // TLS encrypts in user space: read a window, write it, repeat.
    std::vector<char> buf(static_cast<std::size_t>(std::min<uint64_t>(length, 256 * 1024)));
    while (sent < length) {
      ssize_t n = ::pread(fd, buf.data(), std::min<uint64_t>(buf.size(), length - sent),
                          static_cast<off_t>(offset + sent));
      if (n < 0 && errno == EINTR) continue;
      asio::const_buffer b(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
      if (n <= 0 || !writeAll(&b, 1)) return sent;
      sent += static_cast<uint64_t>(n);
    }
    return sent;
  }
  // The kernel copies page cache to socket: no user-space buffer at all. A
  // blob that is not cached is read ahead in large windows, so the disk
  // streams while the socket drains instead of serving 128 KiB at a time.
  constexpr uint64_t kStep = 8u << 20, kAhead = 32u << 20;
  const int sock = stream_.socket().native_handle();
  boost::system::error_code ec;
  stream_.socket().native_non_blocking(true, ec);
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
    ssize_t n = ::sendfile(sock, fd, &off, std::min<uint64_t>(end - static_cast<uint64_t>(off), kStep));
    if (n > 0) {
      progress(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && waitWritable()) continue;
    break;
  }
  return static_cast<uint64_t>(off) - offset;
}

}  // namespace berth::http
