#include "repo/recent_pages.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace berth::repo {

void RecentPages::keep(int fd, const std::string& path, uint64_t offset, uint64_t length) {
  std::vector<Window> victims;
  {
    std::lock_guard lock(mu_);
    kept_.push_back({path, offset, length});
    kept_bytes_ += length;
    while (kept_bytes_ > budget_ && !kept_.empty()) {
      kept_bytes_ -= kept_.front().length;
      victims.push_back(std::move(kept_.front()));
      kept_.pop_front();
    }
  }
  // Outside the lock: opening another file may wait on the disk.
  for (const auto& w : victims) {
    int victim_fd = w.path == path ? fd : ::open(w.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (victim_fd < 0) continue;  // gone: its pages went with it
    ::posix_fadvise(victim_fd, static_cast<off_t>(w.offset), static_cast<off_t>(w.length), POSIX_FADV_DONTNEED);
    if (victim_fd != fd) ::close(victim_fd);
  }
}

void RecentPages::moved(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  for (auto& w : kept_)
    if (w.path == from) w.path = to;
}

void RecentPages::forget(const std::string& path) {
  std::lock_guard lock(mu_);
  auto gone = std::remove_if(kept_.begin(), kept_.end(), [&](const Window& w) { return w.path == path; });
  for (auto it = gone; it != kept_.end(); ++it) kept_bytes_ -= it->length;
  kept_.erase(gone, kept_.end());
}

uint64_t RecentPages::keptBytes() const {
  std::lock_guard lock(mu_);
  return kept_bytes_;
}

std::size_t RecentPages::windows() const {
  std::lock_guard lock(mu_);
  return kept_.size();
}

}  // namespace berth::repo
