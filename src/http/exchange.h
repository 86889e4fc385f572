// One request/response exchange as handlers see it: the parsed request, its
// body (read whole with a limit, or streamed in chunks) and one response.
// Implemented over a request coroutine in http/exchange_impl.cc; handlers never see
// sockets, TLS or Beast.
//
// Not thread-safe: used by the connection's own thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "berth/core/error.h"
#include "http/message.h"

namespace berth::http {

class Suspender;

// What handlers learn about a request that the access log and metrics want:
// filled in as the request runs, read once it is answered.
struct ExchangeNotes {
  int route = 0;           // an observe::RouteLabel; 0: not matched
  std::string user;        // the identified caller; empty: anonymous or unknown
  std::string repository;  // the repository key addressed, if any
};

using BodySink = std::function<Status(const char* data, std::size_t size)>;

class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const HttpRequest& request() const = 0;
  // The whole body; `too_large` is returned when it exceeds `limit` bytes.
  virtual Result<std::string> readBody(std::size_t limit, const Error& too_large) = 0;
  // Feeds the body to `sink` chunk by chunk (memory: one buffer). Returns the
  // byte count. A sink error stops reading; the connection is then closed.
  virtual Result<uint64_t> streamBody(const BodySink& sink) = 0;
  // Declared body length, when the client sent Content-Length.
  virtual std::optional<uint64_t> contentLength() const = 0;
  // Sends the response; `body` is sent unless the request is HEAD, and
  // Content-Length is set from it unless a handler set one.
  virtual void respond(HttpResponse res) = 0;
  // Sends `head` (its body ignored) then `length` bytes of `fd` from `offset`.
  // `ready`, for a file still being written (a remote repository's fetch):
  // ready(pos) waits until the file holds more than `pos` bytes and returns
  // how many it holds; an error ends the response by closing the connection
  // (the client sees a short body, never a wrong one).
  using ReadyFn = std::function<Result<uint64_t>(uint64_t pos)>;
  virtual void respondFile(HttpResponse head, int fd, uint64_t offset, uint64_t length,
                           const ReadyFn& ready = {}) = 0;
  virtual bool responded() const = 0;
  // Suspends this request for about `d` without holding a worker thread: for
  // a handler that waits on another request (an upload session in use).
  virtual void pause(std::chrono::milliseconds d) = 0;
  // The request's coroutine, for code that waits on other I/O (the outbound
  // client) without holding a worker thread.
  virtual Suspender* suspender() = 0;
  // Notes for the access log and metrics (see ExchangeNotes).
  virtual ExchangeNotes& notes() = 0;
};

}  // namespace berth::http
