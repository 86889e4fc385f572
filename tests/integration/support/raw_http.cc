#include "integration/support/raw_http.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace berth::it {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

DaemonOptions serverWith(std::string extra, std::string log_level) {
  DaemonOptions o;
  o.server_extra = std::move(extra);
  o.log_level = std::move(log_level);
  return o;
}

// A response from raw bytes, however much of it came; status 0 for none.
Response parseResponse(const std::string& all) {
  Response r;
  if (!all.starts_with("HTTP/1.") || all.size() < 12) return r;
  r.status = std::atoi(all.substr(9, 3).c_str());
  const auto end = all.find("\r\n\r\n");
  const std::size_t head_end = end == std::string::npos ? all.size() : end;
  for (std::size_t pos = all.find("\r\n") + 2; pos < head_end;) {
    auto eol = std::min(all.find("\r\n", pos), head_end);
    std::string line = all.substr(pos, eol - pos);
    if (auto colon = line.find(':'); colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.add(line.substr(0, colon), value);
    }
    pos = eol + 2;
  }
  if (end != std::string::npos) r.body = all.substr(end + 4);
  return r;
}

// One response from s, framed by Content-Length (else read to the close);
// status 0 when the connection ended or timed out before a whole header.
Response readOne(Socket& s) {
  std::string got;
  char buf[16384];
  while (true) {
    if (auto end = got.find("\r\n\r\n"); end != std::string::npos) {
      std::string length = parseResponse(got).header("Content-Length");
      if (!length.empty() && got.size() >= end + 4 + std::stoull(length))
        return parseResponse(got.substr(0, end + 4 + std::stoull(length)));
    }
    std::size_t n = 0;
    try {
      n = s.readSome(buf, sizeof buf);
    } catch (const std::exception&) {
    }
    if (n == 0) return got.find("\r\n\r\n") == std::string::npos ? Response{} : parseResponse(got);
    got.append(buf, n);
  }
}

Response ask(Socket& s, const std::string& request) { return s.writeAll(request) ? readOne(s) : Response{}; }

Ending awaitClose(Socket& s, Clock::time_point start, double limit, Ending e) {
  char buf[16384];
  while (!e.closed) {
    int left = int((limit - since(start)) * 1000);
    if (left <= 0) break;
    pollfd p{s.fd(), POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) continue;
    ssize_t n = ::recv(s.fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0)
      e.bytes.append(buf, std::size_t(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
      e.closed = true;
  }
  e.seconds = since(start);
  return e;
}

// Sends piece(i) every `every` until the server answers or closes, or until
// `limit` seconds after start; tick(i) runs after each piece is sent.
Ending trickle(Socket& s, Clock::time_point start, double limit, std::chrono::milliseconds every,
               const std::function<std::string(int)>& piece, const std::function<void(int)>& tick) {
  Ending e;
  for (int i = 0; !e.closed && since(start) < limit; ++i) {
    if (e.bytes.empty()) {
      s.writeAll(piece(i));
      if (tick) tick(i);
    }
    e = awaitClose(s, start, std::min(limit, since(start) + std::chrono::duration<double>(every).count()), e);
  }
  return e;
}

}  // namespace berth::it
