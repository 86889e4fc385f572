// Serves HTTP/1.1 requests on one connection, on the calling thread, until
// the peer closes, a timeout fires or the server stops.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "http/body_budget.h"
#include "http/exchange.h"
#include "http/forwarded.h"
#include "http/transport.h"

namespace berth::http {

using RequestHandler = std::function<void(Exchange&)>;

struct ConnectionOptions {
  unsigned idle_timeout_seconds = 120;
  unsigned read_timeout_seconds = 300;
  std::size_t header_limit = 64 * 1024;
  std::shared_ptr<BodyBudget> body_budget;  // shared by all connections; null: unbounded
  TrustedProxies trusted_proxies;  // whose X-Forwarded-For/-Proto are believed
};

// Called once per completed exchange (access log, metrics).
struct ExchangeSummary {
  const HttpRequest* request;
  int status;
  uint64_t bytes_in, bytes_out;
  double seconds;
};
using ExchangeObserver = std::function<void(const ExchangeSummary&)>;

class Connection {
 public:
  Connection(TransportPtr transport, const ConnectionOptions& options, const RequestHandler& handler,
             const ExchangeObserver& observer);
  void run();
  // Thread-safe: ends the connection at its next idle point.
  void stop();
  // Thread-safe: fails the connection's socket now, busy or not (after the
  // shutdown grace period), so its thread returns promptly.
  void abort();

 private:
  TransportPtr transport_;
  const ConnectionOptions& options_;
  const RequestHandler& handler_;
  const ExchangeObserver& observer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> idle_{false};
};

}  // namespace berth::http
