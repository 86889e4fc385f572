// Readiness of the running daemon, for GET /health/ready and
// /api/system/ping (src/api/health_endpoint.cc answers them).
//
// Ready means a push would work now: the storage root takes a new file, the
// metadata database answers, the filesystem has more free space than the
// configured floor, and no shutdown has begun. Each probe runs the checks
// afresh (a file created and removed under <root>/tmp, one SQLite read, one
// statvfs): tens of microseconds, no lock on the request path.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "berth/core/error.h"
#include "storage/paths.h"

namespace berth::observe {

struct ReadinessCheck {
  std::string name;    // storage | metadata | disk | shutdown
  bool ok = true;
  std::string reason;  // when not ok; shown to any client, so no paths or system messages
};

class Health {
 public:
  using MetadataPing = std::function<Status()>;
  // min_free_bytes 0: the disk check always passes.
  Health(storage::Paths paths, MetadataPing metadata, uint64_t min_free_bytes);

  // From now on not ready (SIGTERM/SIGINT); never undone.
  void setDraining() { draining_ = true; }
  bool draining() const { return draining_; }

  // Every check, in a fixed order. Failures are logged (with the details the
  // reasons leave out) when they first appear, not at every probe.
  std::vector<ReadinessCheck> readiness();
  static bool allOk(const std::vector<ReadinessCheck>& checks);

 private:
  ReadinessCheck checkStorage(std::string& detail) const;
  ReadinessCheck checkMetadata(std::string& detail) const;
  ReadinessCheck checkDisk(std::string& detail) const;
  void report(const std::vector<ReadinessCheck>& checks, const std::vector<std::string>& details);

  const storage::Paths paths_;
  const MetadataPing metadata_;
  const uint64_t min_free_bytes_;
  std::atomic<bool> draining_{false};
  std::mutex report_mu_;
  std::string last_reported_;  // names of the checks failing when last logged; "" = ready
};

}  // namespace berth::observe
