// The garbage collector's fence across processes (docs/design.md, "Garbage
// collection"). The ReferenceFence keeps the sweep away from the daemon's own
// writers; a writer in another process (berth import-registry2 beside a
// running daemon) holds flock(LOCK_SH) on <root>/sweep.lock for its whole
// run instead, and each sweep batch takes LOCK_EX on it without waiting: when
// an import holds it the sweep stops there, and the next run sweeps. So an
// import never waits on the collector for longer than one batch, and the
// collector never removes a file an import has seen or installed but not yet
// referenced. The kernel drops the lock when a process dies, kill -9 included.
#pragma once

#include <memory>
#include <string>

#include "berth/core/error.h"

namespace berth::storage {

class SweepLock {
 public:
  static std::string fileIn(const std::string& storage_root) { return storage_root + "/sweep.lock"; }
  // A writer's hold: waits while a sweep batch holds it (milliseconds).
  static Result<std::unique_ptr<SweepLock>> holdShared(const std::string& lock_path);
  // A sweep batch's hold: never waits; nullptr while a writer holds it.
  static Result<std::unique_ptr<SweepLock>> tryExclusive(const std::string& lock_path);
  ~SweepLock();
  SweepLock(const SweepLock&) = delete;
  SweepLock& operator=(const SweepLock&) = delete;

 private:
  explicit SweepLock(int fd) : fd_(fd) {}
  static Result<std::unique_ptr<SweepLock>> take(const std::string& lock_path, int op);
  int fd_;
};

}  // namespace berth::storage
