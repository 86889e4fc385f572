// Wires the components from a config: stores, repositories, access control,
// API and HTTP server. Owns them for the life of the process.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "berth/config.h"

namespace berth::server {

class App {
 public:
  // Throws std::runtime_error when storage cannot be opened or the address bound.
  explicit App(config::Config cfg);
  ~App();
  // The bound address, e.g. "127.0.0.1:5000".
  std::string address() const;
  // The metrics listener's bound address (metrics.listen), or empty.
  std::string metricsAddress() const;
  // The listeners of repositories with a `port:`, as (key, bound address).
  std::vector<std::pair<std::string, std::string>> repositoryAddresses() const;
  // Serves until stop(); returns after the listener closed.
  void serve();
  // Thread-safe: /health/ready answers 503 from now on; serving goes on.
  void beginDrain();
  // Thread-safe; graceful (begins the drain too). Returns connections still
  // running after the grace period.
  std::size_t stop();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace berth::server
