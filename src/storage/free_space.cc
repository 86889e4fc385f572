#include "storage/free_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

namespace berth::storage {
namespace {
int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

uint64_t FreeSpaceFloor::freeBytes() {
  int64_t now = nowMs();
  int64_t last = checked_ms_.load(std::memory_order_relaxed);
  // One caller a second refreshes the figure (the one whose exchange wins);
  // the others read the last one.
  if (now - last >= 1000 && checked_ms_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    struct statvfs vfs {};
    if (::statvfs(root_.c_str(), &vfs) == 0)
      free_.store(uint64_t(vfs.f_bavail) * vfs.f_frsize, std::memory_order_relaxed);
    else
      spdlog::warn("statvfs {}: {}; the storage quota keeps its last figure", root_, std::strerror(errno));
  }
  return free_.load(std::memory_order_relaxed);
}

Status FreeSpaceFloor::check() {
  if (floor_ == 0) return {};
  uint64_t free_bytes = freeBytes();
  if (free_bytes >= floor_) return {};
  int64_t now = nowMs(), logged = logged_ms_.load(std::memory_order_relaxed);
  if (now - logged >= 60'000 && logged_ms_.compare_exchange_strong(logged, now, std::memory_order_relaxed))
    spdlog::warn("refusing pushes: {} bytes free on {}, below storage.min_free_bytes ({})", free_bytes, root_,
                 floor_);
  return fail(ErrorCode::InsufficientStorage,
              "the registry's storage is nearly full: pushes are refused until space is freed; pulls still work");
}

}  // namespace berth::storage
