// Wires the components from a config: stores, repositories, access control,
// API and HTTP server. Owns them for the life of the process.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "berth/config.h"
#include "ops/reload_plan.h"

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
  // Where reload() reads the config from (main: the --config file, or the
  // embedded default). Thread-safe.
  void setConfigSource(std::function<config::Config()> source);
  // SIGHUP and POST /api/system/reload (docs/operations.md, "Reloading"):
  // loads the config from the source and applies its repositories and
  // security settings, or changes nothing when it does not validate (the
  // report lists why). Restart-only keys that changed are reported, not
  // applied. Thread-safe; reloads run one at a time, requests go on.
  // `trigger` names the cause in the log ("SIGHUP").
  // The repositories created through the repository API
  // (server/repository_admin.h) are added to the file's each time.
  ops::ReloadReport reload(std::string_view trigger);
  // Serves until stop(); returns after the listener closed.
  void serve();
  // Thread-safe: /health/ready answers 503 from now on; serving goes on.
  void beginDrain();
  // Thread-safe; graceful (begins the drain too). Returns connections still
  // running after the grace period.
  std::size_t stop();

 private:
  // Under the reload lock: `edit` gets the applied config and gives the one
  // to apply (none: nothing changes), which is then built and swapped;
  // `done` (if any) sees the outcome before the lock is let go.
  ops::ReloadReport applyEdited(const std::function<std::optional<config::Config>(const config::Config&)>& edit,
                                const std::function<void(const ops::ReloadReport&)>& done, std::string_view trigger);
  ops::ReloadReport applyLocked(const config::Config& next, std::string_view trigger);

  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace berth::server
