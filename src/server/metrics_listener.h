// metrics.listen: GET /metrics on a listener of its own (plain HTTP, one
// worker, a few connections), for a scraper on an internal address. Its
// requests are not counted in the metrics nor written to the access log.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "http/server.h"
#include "storage/paths.h"

namespace berth::server {

class MetricsListener {
 public:
  // Binds at once; throws std::runtime_error naming the address.
  explicit MetricsListener(const std::string& listen);
  ~MetricsListener();
  std::string address() const { return server_->boundAddress(); }
  void start();  // serves on a thread of its own
  void stop();

 private:
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

// Counts the blob files under the store's blobs directory on a thread of its
// own and hands the figure to the metrics (berth_storage_blobs/_bytes); the
// blob store keeps it current from then on.
void countStoredBlobs(const storage::Paths& paths);

}  // namespace berth::server
