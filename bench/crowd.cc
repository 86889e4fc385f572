#include "crowd.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "crowd_peers.h"

namespace berth_bench {

using namespace crowd;

class Crowd::Impl {
 public:
  Impl(const Target& t, CrowdSpec spec) : t_(t), spec_(std::move(spec)) {
    if (spec_.idle < 0 || spec_.slow_headers < 0 || spec_.slow_bodies < 0) fail("crowd sizes must be >= 0");
    if (spec_.max_pending < 1 || spec_.body_bytes_per_tick < 1) fail("bad crowd options");
    peers_.resize(static_cast<size_t>(spec_.idle + spec_.slow_headers + spec_.slow_bodies));
    // Slow headers and bodies alternate, so that a server that refuses past a limit refuses both kinds alike.
    size_t i = 0;
    for (int k = 0; k < spec_.idle; ++k) peers_[i++].kind = Kind::kIdle;
    for (int h = spec_.slow_headers, b = spec_.slow_bodies; h + b > 0;) {
      bool header = b == 0 || (h > 0 && (i % 2 == 0));
      peers_[i++].kind = header ? Kind::kSlowHeader : Kind::kSlowBody;
      --(header ? h : b);
    }
    std::memset(&dst_, 0, sizeof dst_);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&dst_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&dst_);
    if (inet_pton(AF_INET, t_.address.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(t_.port);
      dst_len_ = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, t_.address.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(t_.port);
      dst_len_ = sizeof(sockaddr_in6);
    } else {
      fail("crowd: bad address " + t_.address);
    }
    spread_ = spec_.per_source > 0 && dst_.ss_family == AF_INET;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) fail(std::string("epoll_create1: ") + std::strerror(errno));
  }

  ~Impl() {
    close();
    ::close(ep_);
  }

  void open() {
    t0_ = Clock::now();
    thread_ = std::thread([this] { loop(); });
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return setup_done_ || finished_; });
    if (!error_.empty()) fail("crowd: " + error_);
  }

  void startTrickle() {
    trickle_req_ = true;
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return trickle_started_ || finished_; });
  }

  json snapshot() {
    std::unique_lock l(mu_);
    if (finished_) return snap_;
    snap_ready_ = false;
    snap_req_ = true;
    cv_.wait(l, [&] { return snap_ready_ || finished_; });
    return snap_;
  }

  double elapsed() const { return secondsSince(t0_); }

  std::vector<std::string> uploadSessions() const {
    if (thread_.joinable()) fail("crowd: still running");
    return sessions_;
  }

  void close() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    try {
      run();
    } catch (const std::exception& e) {
      std::lock_guard l(mu_);
      error_ = e.what();
    }
    json last = count();
    for (auto& p : peers_)
      if (p.fd >= 0) ::close(p.fd);
    std::lock_guard l(mu_);
    snap_ = std::move(last);
    finished_ = true;
    cv_.notify_all();
  }

  void run() {
    std::vector<epoll_event> evs(512);
    std::vector<char> buf(64 * KiB);
    while (!stop_) {
      while (next_ < peers_.size() && pending_ < spec_.max_pending) openPeer(static_cast<uint32_t>(next_++));
      double now = elapsed();
      if (!setup_done_ && ((next_ == peers_.size() && pending_ == 0) || now > spec_.setup_timeout_s)) {
        setup_s_ = now;
        notify([&] { setup_done_ = true; });
      }
      if (trickle_req_ && !trickling_) beginTrickle(now);
      if (trickling_) tick(now);
      if (snap_req_) {
        json j = count();
        notify([&] {
          snap_ = std::move(j);
          snap_ready_ = true;
          snap_req_ = false;
        });
      }
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 50);
      if (n < 0 && errno != EINTR) fail(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i)
        handle(peers_[evs[static_cast<size_t>(i)].data.u32], evs[static_cast<size_t>(i)].events, buf);
    }
  }

  template <class Fn>
  void notify(Fn&& fn) {
    std::lock_guard l(mu_);
    fn();
    cv_.notify_all();
  }

  void setState(Peer& p, State s) {
    if (inSetup(p.state) && !inSetup(s)) --pending_;
    if (!inSetup(p.state) && inSetup(s)) ++pending_;
    p.state = s;
  }

  void clientError(Peer& p, const char* what) {
    if (client_error_.empty()) client_error_ = std::string(what) + ": " + std::strerror(errno);
    endPeer(p, End::kClientError, 0);
  }

  void openPeer(uint32_t i) {
    Peer& p = peers_[i];
    p.fd = ::socket(dst_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p.fd < 0) return clientError(p, "socket");
    int one = 1;
    setsockopt(p.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (spread_) {
      // The port is chosen at connect(), per source address and destination.
      setsockopt(p.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(0x7f010001u + i / static_cast<uint32_t>(spec_.per_source));
      if (::bind(p.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return clientError(p, "bind");
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.u32 = i;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, p.fd, &ev) != 0) return clientError(p, "epoll_ctl");
    p.want_out = true;
    setState(p, State::kConnecting);
    if (::connect(p.fd, reinterpret_cast<sockaddr*>(&dst_), dst_len_) != 0 && errno != EINPROGRESS) {
      if (errno == EADDRNOTAVAIL || errno == EAGAIN) return clientError(p, "connect");
      endPeer(p, End::kConnectFailed, 0);
    }
  }

  void handle(Peer& p, uint32_t events, std::vector<char>& buf) {
    if (p.state == State::kEnded) return;
    if (p.state == State::kConnecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) return endPeer(p, End::kConnectFailed, 0);
      if (!(events & EPOLLOUT)) return;
      connected(p);
      if (p.state == State::kEnded) return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readFrom(p, buf);
    if (p.state != State::kEnded && (events & EPOLLOUT) && p.want_out) flush(p);
  }

  std::string requestHead(std::string_view method, std::string_view path) const {
    std::string s;
    s.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ").append(t_.hostport);
    s.append("\r\nUser-Agent: berth_bench/1\r\n");
    return s;
  }

  void connected(Peer& p) {
    switch (p.kind) {
      case Kind::kIdle:
        p.out = requestHead("GET", "/v2/") + "\r\n";
        setState(p, State::kAwaitAnswer);
        return flush(p);
      case Kind::kSlowHeader:
        setState(p, State::kReady);
        return setInterest(p, false);
      case Kind::kSlowBody:
        p.out = requestHead("POST", "/v2/" + spec_.upload_repo + "/blobs/uploads/") + "Content-Length: 0\r\n\r\n";
        setState(p, State::kAwaitAnswer);
        return flush(p);
    }
  }

  void setInterest(Peer& p, bool want_out) {
    if (p.want_out == want_out) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(&p - peers_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, p.fd, &ev);
    p.want_out = want_out;
  }

  void flush(Peer& p) {
    while (p.out_off < p.out.size()) {
      ssize_t n = ::send(p.fd, p.out.data() + p.out_off, p.out.size() - p.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        p.out_off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return setInterest(p, true);
      } else {
        return serverEnded(p, 0);  // EPIPE, ECONNRESET: the server closed it
      }
    }
    p.out.clear();
    p.out_off = 0;
    setInterest(p, false);
  }

  void readFrom(Peer& p, std::vector<char>& buf) {
    for (;;) {
      ssize_t n = ::recv(p.fd, buf.data(), buf.size(), 0);
      if (n > 0) {
        consume(p, buf.data(), static_cast<size_t>(n));
        if (p.state == State::kEnded) return;
      } else if (n == 0) {
        return serverEnded(p, 0);
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        return;
      } else {
        return serverEnded(p, 0);
      }
    }
  }

  void consume(Peer& p, const char* data, size_t n) {
    size_t skipped = static_cast<size_t>(std::min<uint64_t>(p.skip, n));
    p.skip -= skipped;
    if (skipped == n) return;
    p.in.append(data + skipped, n - skipped);
    auto e = p.in.find("\r\n\r\n");
    if (e == std::string::npos) {
      if (p.in.size() > 64 * KiB) serverEnded(p, 0);  // not HTTP
      return;
    }
    Head h = parseHead(std::string_view(p.in).substr(0, e + 4));
    uint64_t after = p.in.size() - (e + 4);
    p.skip = h.content_length > after ? h.content_length - after : 0;
    std::string().swap(p.in);
    answered(p, h);
  }

  void answered(Peer& p, const Head& h) {
    if (p.state != State::kAwaitAnswer) return serverEnded(p, static_cast<uint16_t>(h.status));  // unasked
    bool ok = p.kind == Kind::kIdle ? (h.status == 200 || h.status == 401) : (h.status == 202 && !h.location.empty());
    if (ok && p.kind == Kind::kSlowBody) {
      try {
        p.path = pathOf(h.location, t_);
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) return endPeer(p, End::kRefusedStatus, static_cast<uint16_t>(h.status));
    if (p.kind == Kind::kSlowBody) sessions_.push_back(p.path);
    setState(p, State::kReady);
  }

  // The server closed the connection or answered what was never asked (a 408, a 503 at accept).
  void serverEnded(Peer& p, uint16_t status) {
    bool live = p.kind == Kind::kIdle ? p.state == State::kReady : p.state == State::kTrickling;
    End e = live                            ? End::kCut
            : status                        ? End::kRefusedStatus
            : p.state == State::kConnecting ? End::kConnectFailed
                                            : End::kClosedBeforeReady;
    endPeer(p, e, status);
  }

  void endPeer(Peer& p, End e, uint16_t status) {
    if (p.fd >= 0) {
      ::close(p.fd);  // also leaves the epoll set
      p.fd = -1;
    }
    setState(p, State::kEnded);
    p.end = e;
    p.status = status;
    p.ended_at = static_cast<float>(elapsed());
    std::string().swap(p.out);
    std::string().swap(p.in);
    std::string().swap(p.path);
  }

  double interval(const Peer& p) const {
    return p.kind == Kind::kSlowHeader ? spec_.header_interval_s : spec_.body_interval_s;
  }

  void beginTrickle(double now) {
    trickle_at_ = now;
    trickling_ = true;
    for (uint32_t i = 0; i < peers_.size(); ++i) {
      Peer& p = peers_[i];
      if (p.kind == Kind::kIdle || p.state != State::kReady) continue;
      if (p.kind == Kind::kSlowHeader) {
        p.out = requestHead("GET", "/v2/");
      } else {
        p.out = requestHead("PATCH", p.path) +
                "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(spec_.body_declared) +
                "\r\n\r\n" + std::string(static_cast<size_t>(spec_.body_bytes_per_tick), 'x');
      }
      p.ticks = 1;
      // Staggered over one interval, so that the ticks do not all fall in the same turn.
      double phase = std::fmod((i + 1) * 0.6180339887, 1.0);
      p.next_tick = now + interval(p) * phase;
      setState(p, State::kTrickling);
      trickle_.push_back(i);
      flush(p);
    }
    notify([&] { trickle_started_ = true; });
  }

  void tick(double now) {
    for (uint32_t i : trickle_) {
      Peer& p = peers_[i];
      if (p.state != State::kTrickling || now < p.next_tick) continue;
      p.next_tick = std::max(p.next_tick + interval(p), now);
      ++p.ticks;
      if (p.kind == Kind::kSlowHeader) {
        p.out += "X-Trickle-" + std::to_string(p.ticks) + ": " + std::to_string(p.ticks) + "\r\n";
      } else if (uint64_t(p.ticks + 1) * static_cast<uint64_t>(spec_.body_bytes_per_tick) < spec_.body_declared) {
        p.out.append(static_cast<size_t>(spec_.body_bytes_per_tick), 'x');  // never the whole body
      }
      flush(p);
    }
  }

  // The crowd's thread's own CPU seconds (call on that thread).
  static double threadCpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_THREAD, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }

  json count() const {
    json j = countPeers(peers_, trickling_);
    j["elapsed_s"] = elapsed();
    j["setup_s"] = setup_s_;
    j["thread_cpu_s"] = threadCpuSeconds();
    if (trickling_) j["trickle_start_s"] = trickle_at_;
    if (!client_error_.empty()) j["first_client_error"] = client_error_;
    return j;
  }

  Target t_;
  CrowdSpec spec_;
  std::vector<Peer> peers_;
  sockaddr_storage dst_;
  socklen_t dst_len_ = 0;
  bool spread_ = false;
  int ep_ = -1;
  Clock::time_point t0_ = Clock::now();
  std::thread thread_;

  // The crowd's thread only.
  size_t next_ = 0;
  int pending_ = 0;
  double setup_s_ = -1, trickle_at_ = -1;
  bool trickling_ = false;
  std::vector<uint32_t> trickle_;
  std::vector<std::string> sessions_;
  std::string client_error_;

  // Between the crowd's thread and the caller.
  std::atomic<bool> stop_{false}, trickle_req_{false}, snap_req_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool setup_done_ = false, trickle_started_ = false, snap_ready_ = false, finished_ = false;
  json snap_;
  std::string error_;
};

Crowd::Crowd(const Target& t, CrowdSpec spec) : impl_(std::make_unique<Impl>(t, std::move(spec))) {}
Crowd::~Crowd() = default;
void Crowd::open() { impl_->open(); }
void Crowd::startTrickle() { impl_->startTrickle(); }
json Crowd::snapshot() { return impl_->snapshot(); }
double Crowd::elapsed() const { return impl_->elapsed(); }
void Crowd::close() { impl_->close(); }
std::vector<std::string> Crowd::uploadSessions() const { return impl_->uploadSessions(); }

long raiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(rl.rlim_cur);
}

}  // namespace berth_bench
