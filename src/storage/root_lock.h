// A lock on the storage root, between the daemon and `berth gc`: every
// serving daemon holds it shared for its lifetime (and berth import-registry2
// for its run), the offline collector exclusively, so that an offline run never sweeps under a live server
// (whose writers it could not fence). flock(2) on <root>/berth.lock: the
// kernel drops it when the process dies, even by kill -9.
#pragma once

#include <memory>
#include <string>

#include "berth/core/error.h"

namespace berth::storage {

class RootLock {
 public:
  enum class Mode { Shared, Exclusive };
  // Never waits: UNAVAILABLE when the other side holds it.
  static Result<std::unique_ptr<RootLock>> acquire(const std::string& lock_path, Mode mode);
  ~RootLock();
  RootLock(const RootLock&) = delete;
  RootLock& operator=(const RootLock&) = delete;

 private:
  explicit RootLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace berth::storage
