#include "server/metrics_listener.h"

#include <filesystem>

#include <spdlog/spdlog.h>

#include "api/metrics_endpoint.h"
#include "berth/config.h"
#include "observe/metrics.h"

namespace berth::server {

MetricsListener::MetricsListener(const std::string& listen) {
  auto hp = config::parseListen(listen);
  http::ServerOptions o;
  o.host = hp.host;
  o.port = hp.port;
  o.workers = 1;
  o.max_connections = 64;
  o.max_connections_per_client = 16;
  auto handler = [](http::Exchange& ex) {
    if (api::answerMetricsRoute(ex, api::MetricsAccess{})) return;
    http::HttpResponse res;
    res.status = 404;
    res.set("Content-Type", "text/plain; charset=utf-8");
    res.body = "only /metrics here\n";
    ex.respond(std::move(res));
  };
  server_ = std::make_unique<http::Server>(o, handler, nullptr);
  try {
    server_->listen();
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("metrics.listen: ") + e.what());
  }
  spdlog::info("metrics listening on {}", server_->boundAddress());
}

MetricsListener::~MetricsListener() { stop(); }

void MetricsListener::start() {
  thread_ = std::thread([s = server_.get()] { s->serve(); });
}

void MetricsListener::stop() {
  if (!thread_.joinable()) return;
  server_->stop(1);
  thread_.join();
}

void countStoredBlobs(const storage::Paths& paths) {
  std::thread([dir = paths.blobsDir()] {
    namespace fs = std::filesystem;
    uint64_t blobs = 0, bytes = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code size_ec;
      if (!it->is_regular_file(size_ec)) continue;
      auto size = it->file_size(size_ec);
      if (size_ec) continue;
      ++blobs;
      bytes += size;
    }
    if (ec) spdlog::warn("counting the stored blobs for the metrics: {}", ec.message());
    observe::metrics().setStored(blobs, bytes);
  }).detach();
}

}  // namespace berth::server
