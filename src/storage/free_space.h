// The storage quota (storage.min_free_bytes): whether the storage root's
// filesystem still has room for pushes. statvfs runs at most once a second
// whatever the request rate; in between every caller reads the cached figure
// (two relaxed atomics, no lock).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "berth/core/error.h"

namespace berth::storage {

class FreeSpaceFloor {
 public:
  // floor 0: check() always passes and statvfs never runs.
  FreeSpaceFloor(std::string root, uint64_t floor_bytes) : root_(std::move(root)), floor_(floor_bytes) {}
  // DENIED (HTTP 507) with a message for the client when the free space (for
  // an unprivileged writer) is below the floor; the details go to the log,
  // once a minute at most.
  Status check();

 private:
  uint64_t freeBytes();

  const std::string root_;
  const uint64_t floor_;
  std::atomic<int64_t> checked_ms_{-1'000'000};  // steady clock
  std::atomic<uint64_t> free_{UINT64_MAX};
  std::atomic<int64_t> logged_ms_{-1'000'000};
};

}  // namespace berth::storage
